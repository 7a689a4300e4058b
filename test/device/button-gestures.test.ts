import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ButtonGestures, LATE_PRESS_SETTLE_MS } from '../../device/button-gestures.js';
import type { ButtonEvent } from '../../device/hardware.js';

const T0 = 1_764_633_600_000;
let events: ButtonEvent[];
let gestures: ButtonGestures;

beforeEach(() => {
  vi.useFakeTimers();
  events = [];
  gestures = new ButtonGestures('primary', { longPressMs: 800, doublePressMs: 300, emit: (event) => events.push(event) });
});
afterEach(() => vi.useRealTimers());

describe('ButtonGestures with presses the kernel queued while the loop was busy', () => {
  it('a press read long after it happened waits for a release queued behind it before it counts as long', () => {
    gestures.press(T0, 5_000);
    vi.advanceTimersByTime(40); // the next read, well within LATE_PRESS_SETTLE_MS
    gestures.release(T0 + 30);
    vi.runAllTimers();
    expect(events.map((e) => e.kind)).toEqual(['press', 'release']);
  });

  it("a press read late with no release behind it is long, at the kernel's time", () => {
    gestures.press(T0, 5_000);
    vi.advanceTimersByTime(LATE_PRESS_SETTLE_MS);
    expect(events).toEqual([
      { kind: 'press', button: 'primary', at: T0 },
      { kind: 'long_press', button: 'primary', at: T0 + 800 },
    ]);
  });

  it('a press read on time is long once held for longPressMs', () => {
    gestures.press(T0, 0);
    vi.advanceTimersByTime(799);
    expect(events.map((e) => e.kind)).toEqual(['press']);
    vi.advanceTimersByTime(1);
    expect(events.map((e) => e.kind)).toEqual(['press', 'long_press']);
  });
});
