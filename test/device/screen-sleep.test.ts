import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ScreenSleep } from '../../device/screen-sleep.js';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function rig(idleMs = 60_000, fail = false, silenceMs = 0) {
  const calls: boolean[] = [];
  const errors: unknown[] = [];
  const display = {
    setBacklight: async (on: boolean) => {
      calls.push(on);
      if (fail) throw new Error('EACCES: bl_power');
    },
  };
  const changes: boolean[] = [];
  const sleep = new ScreenSleep({ display, idleMs, silenceMs, onError: (e) => errors.push(e), onChange: (awake) => changes.push(awake) });
  return { sleep, calls, errors, changes };
}

describe('ScreenSleep', () => {
  it('turns the backlight off after the idle time, not before', async () => {
    const { sleep, calls } = rig();
    sleep.start();
    await vi.advanceTimersByTimeAsync(59_999);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([false]);
    expect(sleep.asleep).toBe(true);
  });

  it('restarts the idle time on activity', async () => {
    const { sleep, calls } = rig();
    sleep.start();
    await vi.advanceTimersByTimeAsync(50_000);
    expect(await sleep.activity()).toBe(false);
    await vi.advanceTimersByTimeAsync(50_000);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toEqual([false]);
  });

  it('wakes on activity, says so, and sleeps again later', async () => {
    const { sleep, calls } = rig(1000);
    sleep.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(await sleep.activity()).toBe(true);
    expect(await sleep.activity()).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toEqual([false, true, false]);
  });

  it('never sleeps with idleMs 0 and does nothing after stop', async () => {
    const never = rig(0);
    never.sleep.start();
    await vi.advanceTimersByTimeAsync(10_000_000);
    expect(never.calls).toEqual([]);
    const stopped = rig(1000);
    stopped.sleep.start();
    stopped.sleep.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(await stopped.sleep.activity()).toBe(false);
    expect(stopped.calls).toEqual([]);
  });

  it('tells its listener when the screen sleeps and wakes, once each', async () => {
    const { sleep, changes } = rig(1_000);
    sleep.start();
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(changes).toEqual([false]);
    await sleep.activity();
    await sleep.activity();
    expect(changes).toEqual([false, true]);
  });

  it('reports a backlight that fails instead of throwing', async () => {
    const { sleep, errors } = rig(1000, true);
    sleep.start();
    await vi.advanceTimersByTimeAsync(1000);
    await expect(sleep.activity()).resolves.toBe(true);
    expect(errors).toHaveLength(2);
  });

  it('sleeps after the no-music time while nothing plays, and never while music plays', async () => {
    const { sleep, calls } = rig(0, false, 120_000);
    sleep.start();
    sleep.setPlaying(true);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(calls).toEqual([]);
    // The count starts when the music stops, not when it started.
    sleep.setPlaying(false);
    await vi.advanceTimersByTimeAsync(119_999);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([false]);
  });

  it('counts the no-music time from the last activity too, and music starting before it holds it off', async () => {
    const { sleep, calls } = rig(0, false, 120_000);
    sleep.start();
    await vi.advanceTimersByTimeAsync(100_000);
    expect(await sleep.activity()).toBe(false);
    await vi.advanceTimersByTimeAsync(100_000);
    expect(calls).toEqual([]);
    sleep.setPlaying(true);
    await vi.advanceTimersByTimeAsync(100_000);
    expect(calls).toEqual([]);
    // Asleep, music stopping changes nothing; waking counts again from the wake.
    sleep.setPlaying(false);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls).toEqual([false]);
    sleep.setPlaying(true);
    sleep.setPlaying(false);
    await vi.advanceTimersByTimeAsync(10 * 120_000);
    expect(calls).toEqual([false]);
    expect(await sleep.activity()).toBe(true);
    await vi.advanceTimersByTimeAsync(119_999);
    expect(calls).toEqual([false, true]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([false, true, false]);
  });

  it('sleeps by whichever rule falls due first: music playing holds off only the no-music rule', async () => {
    const playing = rig(300_000, false, 60_000);
    playing.sleep.start();
    playing.sleep.setPlaying(true);
    await vi.advanceTimersByTimeAsync(299_999);
    expect(playing.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(playing.calls).toEqual([false]);

    const silent = rig(300_000, false, 60_000);
    silent.sleep.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(silent.calls).toEqual([false]);
    // One sleep, not one per rule.
    await vi.advanceTimersByTimeAsync(300_000);
    expect(silent.calls).toEqual([false]);
    expect(silent.changes).toEqual([false]);
  });
});
