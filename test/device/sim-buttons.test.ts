import { PassThrough } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ButtonEvent } from '../../device/hardware.js';
import { SimButtons } from '../../device/sim-buttons.js';
import type { MirrorInput, MirrorInputSource } from '../../device/sim-display.js';
import { parseMirrorInput } from '../../device/sim-display.js';
import { ManualClock } from '../fakes/manual-clock.js';

const log = pino({ level: 'silent' });

class MirrorSource implements MirrorInputSource {
  private listener: ((input: MirrorInput) => void) | null = null;
  onInput(listener: (input: MirrorInput) => void): () => void {
    this.listener = listener;
    return () => (this.listener = null);
  }
  send(input: MirrorInput): void {
    this.listener?.(input);
  }
}

function summary(events: ButtonEvent[]): string[] {
  return events.map((e) => (e.kind === 'rotate' ? `rotate ${e.delta}` : `${e.kind} ${e.button}`));
}

describe('SimButtons', () => {
  it('turns a short hold into press + release and a long hold into long_press + release', async () => {
    const clock = new ManualClock();
    const mirror = new MirrorSource();
    const buttons = new SimButtons({ longPressMs: 700, log, mirror, clock });
    const events: ButtonEvent[] = [];
    buttons.onEvent((e) => events.push(e));
    await buttons.start();

    mirror.send({ button: 'primary', action: 'down' });
    clock.advance(200);
    mirror.send({ button: 'primary', action: 'up' });
    mirror.send({ button: 'next', action: 'down' });
    clock.advance(699);
    expect(summary(events)).toEqual(['press primary', 'release primary']);
    clock.advance(1);
    expect(summary(events).at(-1)).toBe('long_press next');
    clock.advance(2000);
    mirror.send({ button: 'next', action: 'up' });
    expect(summary(events)).toEqual(['press primary', 'release primary', 'long_press next', 'release next']);

    // An `up` without a `down` (page reloaded mid-press) is ignored.
    mirror.send({ button: 'prev', action: 'up' });
    expect(events).toHaveLength(4);
    await buttons.stop();
    mirror.send({ button: 'prev', action: 'press' });
    expect(events).toHaveLength(4);
  });

  it('maps terminal keys to presses and capitals to long presses', async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => stdin }) as unknown as NodeJS.ReadStream;
    let interrupted = false;
    const buttons = new SimButtons({ longPressMs: 700, log, keyboard: stdin, clock: new ManualClock(), onInterrupt: () => (interrupted = true) });
    const events: ButtonEvent[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('keys did not arrive')), 5000);
      buttons.onEvent((e) => {
        events.push(e);
        if (events.length === 10) clearTimeout(timer), resolve();
      });
    });
    await buttons.start();
    stdin.write('\u001b[D\u001b[C s');
    stdin.write('S');
    await done;
    expect(summary(events).filter((s) => !s.startsWith('release'))).toEqual([
      'press prev',
      'press next',
      'press primary',
      'press secondary',
      'long_press secondary',
    ]);
    stdin.write('\u0003');
    await new Promise((resolve) => setImmediate(resolve));
    expect(interrupted).toBe(true);
    await buttons.stop();
  });

  it('accepts only well-formed mirror messages', () => {
    expect(parseMirrorInput('{"type":"button","button":"prev","action":"down"}')).toEqual({ button: 'prev', action: 'down' });
    expect(parseMirrorInput('not json')).toBeNull();
    expect(parseMirrorInput('{"type":"button","button":"reset","action":"down"}')).toBeNull();
    expect(parseMirrorInput('{"type":"button","button":"prev","action":"explode"}')).toBeNull();
    expect(parseMirrorInput('{"type":"other","button":"prev","action":"down"}')).toBeNull();
    expect(parseMirrorInput('null')).toBeNull();
  });
});
