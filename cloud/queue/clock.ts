/**
 * The crew's now-playing clock, in epoch milliseconds. `startedAt` is the instant the
 * track was (or would have been) at position 0: resuming moves it forward by the pause,
 * so the position is always `(pausedAt ?? now) − startedAt`.
 */
export interface TrackClock {
  readonly startedAt: number;
  readonly durationMs: number;
  /** The instant of the pause while paused, else null. */
  readonly pausedAt: number | null;
}

export function positionAt(clock: TrackClock, now: number): number {
  const position = (clock.pausedAt ?? now) - clock.startedAt;
  return Math.min(Math.max(position, 0), clock.durationMs);
}

/** When the track ends; null while paused (a paused track never ends). */
export function endsAt(clock: TrackClock): number | null {
  return clock.pausedAt === null ? clock.startedAt + clock.durationMs : null;
}

export function pauseClock(clock: TrackClock, now: number): TrackClock {
  return clock.pausedAt === null ? { ...clock, pausedAt: now } : clock;
}

export function resumeClock(clock: TrackClock, now: number): TrackClock {
  if (clock.pausedAt === null) return clock;
  return { ...clock, startedAt: clock.startedAt + (now - clock.pausedAt), pausedAt: null };
}

/**
 * When the track after one that ended at `previousEnd` starts. Normally exactly at
 * `previousEnd`, so timer latency never accumulates. If the relay was not running
 * (or stalled) for longer than `maxLateMs`, the next track starts now instead: a track
 * that was due while nobody kept the clock is played, not silently passed over.
 */
export function nextStartAt(previousEnd: number, now: number, maxLateMs: number): number {
  return now - previousEnd <= maxLateMs ? previousEnd : now;
}
