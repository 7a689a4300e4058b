import { expect } from 'vitest';
import type { ManualClock } from '../../fakes/manual-clock.js';

/**
 * Moves the manual clock through `intervals` slow poll intervals of `intervalMs`, one at a
 * time: no poll a millisecond early, exactly one at each interval, answered (and the next
 * one scheduled) before the clock moves on.
 */
export async function expectOnePollPerInterval(
  clock: ManualClock,
  calls: () => number,
  answered: (count: number, delay: number) => Promise<void>,
  intervalMs: number,
  intervals: number,
): Promise<void> {
  const before = calls();
  for (let interval = 1; interval <= intervals; interval++) {
    clock.advance(intervalMs - 1);
    expect(calls()).toBe(before + interval - 1);
    clock.advance(1);
    await answered(before + interval, intervalMs);
  }
}
