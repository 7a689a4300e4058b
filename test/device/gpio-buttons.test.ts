import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GpioButtons, type GpioButtonsOptions } from '../../device/gpio-buttons.js';
import { exportLine, sysfsGpioNumber } from '../../device/gpio-line.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitUntil } from '../helpers/wait-until.js';
import type { ButtonEvent } from '../../device/hardware.js';
import { FakeGpioPort } from '../fakes/gpio-line.js';
import { SysfsTree } from '../fakes/sysfs-tree.js';

let tree: SysfsTree;

beforeEach(async () => {
  tree = await SysfsTree.create();
});

afterEach(async () => {
  vi.useRealTimers();
  await tree.remove();
});

/** Buttons on a Pi 4 with a 6.6 kernel: the header controller's sysfs base is 512. */
async function rig(options: Partial<GpioButtonsOptions> = {}, idleInputLevel: 0 | 1 = 1) {
  await tree.gpiochip(512, 'pinctrl-bcm2711', 58);
  await tree.gpiochip(570, 'raspberrypi-exp-gpio', 8);
  const gpio = new FakeGpioPort();
  gpio.idleInputLevel = idleInputLevel;
  const buttons = new GpioButtons({ pins: { primary: 17, next: 27 }, sysfsRoot: tree.sys, gpio, ...options });
  const events: ButtonEvent[] = [];
  vi.useFakeTimers({ now: 1_000_000 });
  await buttons.start();
  buttons.onEvent((event) => events.push(event));
  return {
    gpio,
    buttons,
    events,
    get primary() {
      return gpio.line(512 + 17);
    },
  };
}

/** Drives a line through levels with gaps in ms between them, as a contact does. */
function edges(line: { drive(v: 0 | 1): void }, steps: Array<[0 | 1, number]>): void {
  for (const [level, afterMs] of steps) {
    line.drive(level);
    vi.advanceTimersByTime(afterMs);
  }
}

const kinds = (events: ButtonEvent[]) => events.map((e) => e.kind);

describe('sysfsGpioNumber', () => {
  it('adds the base of the Pi header controller on each kernel generation', async () => {
    await tree.gpiochip(0, 'pinctrl-bcm2835', 54);
    expect(await sysfsGpioNumber(17, tree.sys)).toBe(17);
  });

  it('finds base 512 on a Pi 4 and 571 on a Pi 5 even with other chips around', async () => {
    await tree.gpiochip(512, 'pinctrl-bcm2711', 58);
    expect(await sysfsGpioNumber(22, tree.sys)).toBe(534);
    const pi5 = await SysfsTree.create();
    await pi5.gpiochip(512, 'pinctrl-bcm2712', 32);
    await pi5.gpiochip(571, 'pinctrl-rp1', 54);
    expect(await sysfsGpioNumber(22, pi5.sys)).toBe(593);
    await pi5.remove();
  });

  it('explains a machine without the Pi controller, without sysfs GPIO, or a bad pin', async () => {
    await expect(sysfsGpioNumber(17, tree.sys)).rejects.toMatchObject({ code: 'gpio_unavailable' });
    await tree.gpiochip(0, 'gpio-mockup', 8);
    await expect(sysfsGpioNumber(17, tree.sys)).rejects.toMatchObject({
      code: 'gpio_chip_missing',
      message: expect.stringContaining('gpio-mockup'),
    });
    await expect(sysfsGpioNumber(40, tree.sys)).rejects.toMatchObject({ code: 'gpio_pin' });
    await expect(sysfsGpioNumber(1.5, tree.sys)).rejects.toMatchObject({ code: 'gpio_pin' });
  });
});

describe('GpioButtons', () => {
  it('reports one press and one release through contact bounce', async () => {
    const { primary, events } = await rig();
    edges(primary, [
      [0, 1],
      [1, 2],
      [0, 1],
      [1, 1],
      [0, 100],
    ]);
    expect(events).toEqual([{ kind: 'press', button: 'primary', at: 1_000_005 }]);
    edges(primary, [
      [1, 1],
      [0, 3],
      [1, 100],
    ]);
    expect(kinds(events)).toEqual(['press', 'release']);
    expect(events[1]!.at).toBe(1_000_005 + 100 + 4);
  });

  it('ignores a glitch shorter than the debounce time', async () => {
    const { primary, events } = await rig();
    edges(primary, [
      [0, 5],
      [1, 100],
    ]);
    expect(events).toEqual([]);
  });

  it('reports long_press once at the hold time, and no double press after it', async () => {
    const { primary, events } = await rig({ longPressMs: 1000 });
    edges(primary, [[0, 999]]);
    expect(kinds(events)).toEqual(['press']);
    vi.advanceTimersByTime(1);
    expect(events[1]).toEqual({ kind: 'long_press', button: 'primary', at: 1_001_000 });
    edges(primary, [
      [1, 100],
      [0, 100],
      [1, 100],
    ]);
    expect(kinds(events)).toEqual(['press', 'long_press', 'release', 'press', 'release']);
  });

  it('reports double_press for a second press within the window only', async () => {
    const { primary, events } = await rig({ doublePressMs: 300 });
    edges(primary, [
      [0, 80],
      [1, 150],
      [0, 80],
      [1, 500],
      [0, 80],
      [1, 100],
    ]);
    expect(kinds(events)).toEqual(['press', 'release', 'press', 'double_press', 'release', 'press', 'release']);
  });

  it('tells buttons apart and honours active-high wiring', async () => {
    const { gpio, events } = await rig({ activeLow: false }, 0);
    const next = gpio.line(512 + 27);
    edges(next, [
      [1, 50],
      [0, 50],
    ]);
    expect(events.map((e) => ('button' in e ? `${e.kind}:${e.button}` : e.kind))).toEqual(['press:next', 'release:next']);
  });

  it('does not report a button held at start as pressed', async () => {
    await tree.gpiochip(512, 'pinctrl-bcm2711', 58);
    const gpio = new FakeGpioPort();
    const held = await gpio.open(512 + 17, 'in');
    held.value = 0;
    vi.spyOn(gpio, 'open').mockResolvedValueOnce(held);
    const buttons = new GpioButtons({ pins: { primary: 17 }, sysfsRoot: tree.sys, gpio });
    const events: ButtonEvent[] = [];
    vi.useFakeTimers();
    await buttons.start();
    buttons.onEvent((e) => events.push(e));
    edges(held, [
      [1, 50],
      [0, 50],
    ]);
    expect(kinds(events)).toEqual(['press']);
  });

  it('unexports every line on stop and drops pending edges', async () => {
    const { gpio, buttons, primary, events } = await rig();
    primary.drive(0);
    await buttons.stop();
    vi.advanceTimersByTime(1000);
    expect(events).toEqual([]);
    expect([...gpio.lines.values()].every((line) => line.released && !line.watched)).toBe(true);
  });

  it('unsubscribes a listener', async () => {
    const { primary, buttons } = await rig();
    const seen: ButtonEvent[] = [];
    const off = buttons.onEvent((e) => seen.push(e));
    off();
    edges(primary, [[0, 50]]);
    expect(seen).toEqual([]);
  });

  it('rejects a pin given to two buttons', async () => {
    await expect(rig({ pins: { primary: 17, prev: 17 } })).rejects.toMatchObject({
      code: 'gpio_pin',
      message: expect.stringContaining('both'),
    });
  });

  it('reports a busy pin and releases what it had opened', async () => {
    await tree.gpiochip(512, 'pinctrl-bcm2711', 58);
    const gpio = new FakeGpioPort();
    gpio.busy.add(512 + 27);
    const buttons = new GpioButtons({ pins: { primary: 17, secondary: 27 }, sysfsRoot: tree.sys, gpio });
    await expect(buttons.start()).rejects.toMatchObject({ code: 'gpio_pin', message: expect.stringContaining('GPIO 27') });
    expect(gpio.line(512 + 17).released).toBe(true);
  });
});

describe('rotary encoder', () => {
  // One detent clockwise on a detented encoder resting at A=1,B=1: 11 → 10 → 00 → 01 → 11.
  function turn(a: { drive(v: 0 | 1): void }, b: { drive(v: 0 | 1): void }, clockwise: boolean, bounce = false) {
    const [first, second] = clockwise ? [b, a] : [a, b];
    first.drive(0);
    if (bounce) {
      first.drive(1);
      first.drive(0);
    }
    second.drive(0);
    first.drive(1);
    if (bounce) {
      first.drive(0);
      first.drive(1);
    }
    second.drive(1);
  }

  it('decodes detents in both directions, bounce included', async () => {
    const { gpio, events } = await rig({ pins: {}, rotary: { a: 5, b: 6 } });
    const [a, b] = [gpio.line(517), gpio.line(518)];
    turn(a, b, true);
    turn(a, b, true, true);
    turn(a, b, false, true);
    expect(events.map((e) => (e.kind === 'rotate' ? e.delta : 0))).toEqual([1, 1, -1]);
  });

  it('counts nothing for a half turn that comes back, and honours reverse', async () => {
    const { gpio, events } = await rig({ pins: {}, rotary: { a: 5, b: 6, reverse: true } });
    const [a, b] = [gpio.line(517), gpio.line(518)];
    b.drive(0);
    a.drive(0);
    a.drive(1);
    b.drive(1);
    expect(events).toEqual([]);
    turn(a, b, true);
    expect(events).toMatchObject([{ kind: 'rotate', delta: -1 }]);
  });
});

describe('exportLine', () => {
  it('exports and waits for udev without holding the event loop', async () => {
    const classDir = join(tree.sys, 'class/gpio');
    await tree.file('sys/class/gpio/export', '');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const exporting = exportLine(529, 'in', { sysfsRoot: tree.sys });
    // The kernel makes the attributes appear once the export write is read; udev follows.
    await waitUntil(async () => (await readFile(join(classDir, 'export'), 'utf8')) === '529', 'the export write');
    const ticksAtExport = ticks;
    // udev is slow: timers keep firing while the export waits for it.
    await waitUntil(() => ticks > ticksAtExport + 3, 'timers to fire during the wait');
    for (const f of ['value', 'direction', 'active_low', 'edge']) await tree.file(`sys/class/gpio/gpio529/${f}`, '0');
    await exporting;
    clearInterval(ticker);
    expect(await readFile(join(classDir, 'gpio529/value'), 'utf8')).toBe('0\n');
  });

  it('gives up with the group to check when the attributes never appear', async () => {
    await tree.file('sys/class/gpio/export', '');
    await expect(exportLine(530, 'low', { sysfsRoot: tree.sys, timeoutMs: 50 })).rejects.toMatchObject({
      code: 'gpio_unavailable',
      message: expect.stringContaining('group gpio'),
    });
  });
});
