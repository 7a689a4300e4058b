import { emitKeypressEvents } from 'node:readline';
import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { ButtonEvent, ButtonName, Buttons } from './hardware.js';
import type { MirrorInput, MirrorInputSource } from './sim-display.js';

export interface SimButtonsOptions {
  readonly longPressMs: number;
  readonly log: Logger;
  /** The mirror page's buttons (the simulated display). */
  readonly mirror?: MirrorInputSource;
  /** Read keys from this stream when it is a TTY (process.stdin in the daemon). */
  readonly keyboard?: NodeJS.ReadStream | null;
  readonly clock?: Clock;
  /** Called on Ctrl-C: raw mode swallows SIGINT, so the daemon asks for it here. */
  readonly onInterrupt?: () => void;
}

/** Keys of the terminal: lower case a short press, capitals (and m) a long press. */
const KEYS: Record<string, { button: ButtonName; long: boolean }> = {
  left: { button: 'prev', long: false },
  right: { button: 'next', long: false },
  a: { button: 'prev', long: false },
  d: { button: 'next', long: false },
  space: { button: 'primary', long: false },
  return: { button: 'primary', long: false },
  enter: { button: 'primary', long: false },
  s: { button: 'secondary', long: false },
  m: { button: 'primary', long: true },
  S: { button: 'secondary', long: true },
  M: { button: 'primary', long: true },
  A: { button: 'prev', long: true },
  D: { button: 'next', long: true },
};

/**
 * Simulated buttons: the mirror page and the keyboard. Down/up edges go through the
 * same gesture rules as GPIO buttons (long_press while held past longPressMs, press on
 * a short release, release always).
 */
export class SimButtons implements Buttons {
  private readonly clock: Clock;
  private readonly listeners = new Set<(event: ButtonEvent) => void>();
  private readonly held = new Map<ButtonName, { timer: TimerHandle | null; long: boolean }>();
  private unsubscribe: (() => void)[] = [];

  constructor(private readonly options: SimButtonsOptions) {
    this.clock = options.clock ?? systemClock;
  }

  async start(): Promise<void> {
    if (this.options.mirror) this.unsubscribe.push(this.options.mirror.onInput((input) => this.input(input)));
    const stdin = this.options.keyboard;
    if (stdin?.isTTY) this.unsubscribe.push(this.listenToKeyboard(stdin));
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const state of this.held.values()) this.clock.clearTimeout(state.timer);
    this.held.clear();
  }

  onEvent(listener: (event: ButtonEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Feeds one input (from the mirror, the keyboard, or a script). */
  input({ button, action }: MirrorInput): void {
    if (action === 'down') return this.down(button);
    if (action === 'up') return this.up(button);
    this.emit({ kind: action, button, at: this.clock.now() });
    this.emit({ kind: 'release', button, at: this.clock.now() });
  }

  private down(button: ButtonName): void {
    if (this.held.has(button)) return;
    const state = { timer: null as TimerHandle | null, long: false };
    state.timer = this.clock.setTimeout(() => {
      state.long = true;
      state.timer = null;
      this.emit({ kind: 'long_press', button, at: this.clock.now() });
    }, this.options.longPressMs);
    this.held.set(button, state);
  }

  private up(button: ButtonName): void {
    const state = this.held.get(button);
    if (!state) return;
    this.held.delete(button);
    this.clock.clearTimeout(state.timer);
    if (!state.long) this.emit({ kind: 'press', button, at: this.clock.now() });
    this.emit({ kind: 'release', button, at: this.clock.now() });
  }

  private listenToKeyboard(stdin: NodeJS.ReadStream): () => void {
    emitKeypressEvents(stdin);
    stdin.setRawMode(true);
    stdin.resume();
    const onKey = (text: string | undefined, key: { name?: string; ctrl?: boolean; shift?: boolean } | undefined): void => {
      if (key?.ctrl && key.name === 'c') {
        this.options.onInterrupt?.();
        return;
      }
      const name = key?.shift && key.name ? key.name.toUpperCase() : (key?.name ?? text ?? '');
      const mapped = KEYS[name];
      if (mapped) this.input({ button: mapped.button, action: mapped.long ? 'long_press' : 'press' });
    };
    stdin.on('keypress', onKey);
    this.options.log.info('keyboard: ←/→ move, space/enter primary, s secondary, M or S (capital) long press');
    return () => {
      stdin.off('keypress', onKey);
      stdin.setRawMode(false);
      stdin.pause();
    };
  }

  private emit(event: ButtonEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.log.error({ err: (error as Error).message }, 'button listener failed');
      }
    }
  }
}
