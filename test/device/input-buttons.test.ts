import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInputButtons, hasBit, InputButtons, type InputButtonsOptions } from '../../device/input-buttons.js';
import { EV_KEY, EV_REL, EV_SYN, InputEventReader, REL_X, SYN_DROPPED, encodeInputEvent, nativeEventSize, type EventSize } from '../../device/input-events.js';
import { parseConfig } from '../../device/config.js';
import type { ButtonEvent } from '../../device/hardware.js';
import { FakeInputDevice, capabilityBitmap } from '../fakes/input-device.js';
import { SysfsTree } from '../fakes/sysfs-tree.js';
import { waitUntil } from '../helpers/wait-until.js';

const KEY_LEFT = 105;
const KEY_ENTER = 28;
const KEY_ESC = 1;
const KEY_RIGHT = 106;
const T0 = 1_764_633_600_000;

let tree: SysfsTree;
const started: InputButtons[] = [];
const devices: FakeInputDevice[] = [];

beforeEach(async () => {
  tree = await SysfsTree.create();
});

afterEach(async () => {
  for (const device of devices.splice(0)) await device.disconnect();
  for (const buttons of started.splice(0)) {
    await buttons.ended();
    await buttons.stop();
  }
  await tree.remove();
});

/** The overlays' two devices: gpio-keys with the four keys, rotary-encoder with REL_X; plus a USB mouse to ignore. */
async function rig(size: EventSize = 24, options: Partial<InputButtonsOptions> = {}) {
  const keys = await FakeInputDevice.create(tree, 0, { name: 'button@5', keys: [KEY_LEFT, KEY_RIGHT, KEY_ENTER, KEY_ESC] }, size);
  const knob = await FakeInputDevice.create(tree, 1, { name: 'rotary@14', rel: [REL_X] }, size);
  await tree.file('sys/class/input/event2/device/id/bustype', '0003');
  await tree.file('sys/class/input/event2/device/capabilities/rel', capabilityBitmap([REL_X, 1], 64));
  devices.push(keys, knob);
  const buttons = new InputButtons({
    keys: { prev: KEY_LEFT, next: KEY_RIGHT, primary: KEY_ENTER, secondary: KEY_ESC },
    sysfsRoot: tree.sys,
    devRoot: tree.dev,
    eventSize: size,
    kernelLongBits: 64,
    longPressMs: 800,
    ...options,
  });
  const events: ButtonEvent[] = [];
  buttons.onEvent((event) => events.push(event));
  await Promise.all([buttons.start(), keys.connect(), knob.connect()]);
  started.push(buttons);
  return { buttons, keys, knob, events };
}

const key = (code: number, value: 0 | 1 | 2, at: number) => [{ type: EV_KEY, code, value, at }];
const turn = (value: number, at: number) => [{ type: EV_REL, code: REL_X, value, at }];

/** Keeps the event loop busy, as a long frame render does. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    /* spin */
  }
}

describe('InputButtons reading /dev/input/event* of the gpio-key and rotary-encoder overlays', () => {
  it('counts every detent and press of a burst read while the loop was busy, cut at odd bytes', async () => {
    const { knob, keys, events, buttons } = await rig();
    const detents = [1, 1, 1, 1, 1].map((value, i) => turn(value, T0 + i * 4));
    const presses = [0, 1, 2].flatMap((i) => [key(KEY_ENTER, 1, T0 + 100 + i * 60), key(KEY_ENTER, 0, T0 + 130 + i * 60)]);
    // Five detents in 20 ms and three presses, all while the render loop holds the thread.
    knob.writeNow(knob.encode(detents), 7);
    busy(30);
    keys.writeNow(keys.encode(presses), 13);
    knob.writeNow(knob.encode([turn(-1, T0 + 300), turn(-2, T0 + 301)]), 5);
    busy(30);
    await waitUntil(() => buttons.counts.detents === 8 && buttons.counts.presses === 3, 'every detent and press');
    const rotations = events.filter((e) => e.kind === 'rotate').map((e) => (e.kind === 'rotate' ? e.delta : 0));
    expect(rotations).toEqual([1, 1, 1, 1, 1, -1, -1, -1]);
    const enter = events.filter((e) => e.kind !== 'rotate');
    expect(enter.map((e) => e.kind)).toEqual(['press', 'release', 'press', 'double_press', 'release', 'press', 'double_press', 'release']);
    // The kernel's timestamps, not the time the daemon got round to reading them.
    expect(enter[0]!.at).toBe(T0 + 100);
    expect(events.find((e) => e.kind === 'rotate')!.at).toBe(T0);
  });

  it('reads 16-byte events (a 32-bit process) and bitmaps of 32-bit longs', async () => {
    const { keys, events } = await rig(16, { kernelLongBits: 64 });
    keys.writeNow(keys.encode([key(KEY_LEFT, 1, T0), key(KEY_LEFT, 2, T0 + 300), key(KEY_LEFT, 0, T0 + 400)]), 3);
    await waitUntil(() => events.length === 2, '2 events');
    expect(events).toEqual([
      { kind: 'press', button: 'prev', at: T0 },
      { kind: 'release', button: 'prev', at: T0 + 400 },
    ]);
    expect(hasBit(capabilityBitmap([KEY_LEFT, KEY_ESC], 32), KEY_LEFT, 32)).toBe(true);
    expect(hasBit(capabilityBitmap([KEY_LEFT, KEY_ESC], 32), KEY_RIGHT, 32)).toBe(false);
    expect(nativeEventSize('arm')).toBe(16);
    expect(nativeEventSize('arm64')).toBe(24);
  });

  it('reports a long press whose press and release arrive in one read', async () => {
    const { keys, events } = await rig();
    keys.writeNow(keys.encode([key(KEY_ESC, 1, T0), key(KEY_ESC, 0, T0 + 900)]));
    await waitUntil(() => events.length === 3, '3 events');
    expect(events.map((e) => e.kind)).toEqual(['press', 'long_press', 'release']);
    expect(events[1]!.at).toBe(T0 + 800);
  });

  it('discards a packet cut by SYN_DROPPED and says so', async () => {
    const warnings: string[] = [];
    const { keys, events } = await rig(24, { warn: (s) => warnings.push(s) });
    const bytes = Buffer.concat([
      encodeInputEvent({ type: EV_KEY, code: KEY_RIGHT, value: 1, at: T0 }, 24),
      encodeInputEvent({ type: EV_SYN, code: SYN_DROPPED, value: 0, at: T0 }, 24),
      keys.encode([key(KEY_RIGHT, 0, T0 + 5)]),
      keys.encode([key(KEY_LEFT, 1, T0 + 50), key(KEY_LEFT, 0, T0 + 90)]),
    ]);
    keys.writeNow(bytes);
    await waitUntil(() => events.length === 2, '2 events');
    expect(events.map((e) => `${e.kind}:${'button' in e ? e.button : ''}`)).toEqual(['press:prev', 'release:prev']);
    expect(warnings).toEqual([expect.stringContaining('SYN_DROPPED')]);
  });

  it('says which overlays to add when no device sends the keys, and refuses a key used twice', async () => {
    await tree.file('sys/class/input/event0/device/id/bustype', '0003');
    await tree.file('sys/class/input/event0/device/capabilities/key', capabilityBitmap([KEY_ENTER], 64));
    const config = parseConfig({ buttons: { driver: 'input' } }, '/tmp');
    expect(config.buttons.input.keys).toEqual({ prev: 105, next: 106, primary: 28, secondary: 1 });
    const none = createInputButtons(config.buttons, { sysfsRoot: tree.sys, devRoot: tree.dev });
    await expect(none.start()).rejects.toMatchObject({ code: 'input_missing', message: expect.stringContaining('gpio-key and rotary-encoder overlays') });
    const twice = new InputButtons({ keys: { prev: 28, primary: 28 }, sysfsRoot: tree.sys });
    await expect(twice.start()).rejects.toMatchObject({ code: 'input_event' });
  });
});

describe('InputEventReader', () => {
  it('keeps a partial event for the next read', () => {
    const reader = new InputEventReader(24);
    const bytes = encodeInputEvent({ type: EV_KEY, code: KEY_ENTER, value: 1, at: T0 + 0.5 }, 24);
    expect(reader.push(bytes.subarray(0, 10))).toEqual([]);
    expect(reader.push(bytes.subarray(10))).toEqual([{ type: EV_KEY, code: KEY_ENTER, value: 1, at: T0 + 0.5 }]);
  });
});
