import type { NowPlayingView, QueueSnapshot } from '../protocol/queue.js';

/**
 * The crew's now-playing clock as the gadget runs it between snapshots. The relay's
 * clock is the truth; the gadget's own clock may be off by seconds, so every snapshot
 * records `server_time − local time` and positions are computed in the relay's time.
 */
export interface CrewQueueCopy {
  readonly snapshot: QueueSnapshot;
  /** server_time − the local clock when the snapshot arrived. */
  readonly offsetMs: number;
}

export function copyOf(snapshot: QueueSnapshot, localNow: number): CrewQueueCopy {
  return { snapshot, offsetMs: snapshot.server_time - localNow };
}

/** The relay's time now, from the local clock and the last snapshot's offset. */
export function serverNow(copy: CrewQueueCopy, localNow: number): number {
  return localNow + copy.offsetMs;
}

/** Position of the crew's track at `serverTime`: (paused_at ?? now) − started_at, within the track. */
export function crewPositionAt(playing: NowPlayingView, serverTime: number): number {
  const position = (playing.paused_at ?? serverTime) - playing.started_at;
  return Math.min(playing.clock_duration_ms, Math.max(0, position));
}
