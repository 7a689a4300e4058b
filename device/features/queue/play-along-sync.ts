import type { NowPlayingView } from '../../../protocol/queue.js';
import type { NowPlaying } from '../../screens/now-playing.js';

/*
 * Play along's one rule for what the owner's player does, pure: in step with the crew, drifted
 * (seek back to the crew clock), or taken over by the owner (step out, never fight). Positions
 * are where each clock says the track is now: the crew's from the relay's clock
 * (crewPositionAt), the owner's from Spotify's progress_ms advanced by the gadget's clock since
 * the answer came (progressAt) — Spotify's `timestamp` says when the playback last changed
 * state, not when progress_ms was read, so it cannot date the position.
 */

/** The owner's player is kept this close to the crew clock. */
export const IN_STEP_MS = 2_000;
/** Further off than this on the crew's track, the owner moved it (a seek), it did not drift. */
export const OWNER_SEEK_MS = 20_000;
/** After play along's own call, Spotify may still answer what played before it for this long. */
export const SETTLE_MS = 5_000;
/** This close to a track's end, the next track is coming: a player that stops there is not a pause. */
export const END_MARGIN_MS = 3_000;

export type TakeOver = 'other_track' | 'paused' | 'resumed' | 'seeked';

export type SyncVerdict =
  | { readonly kind: 'wait' }
  | { readonly kind: 'in_step' }
  | { readonly kind: 'seek'; readonly positionMs: number; readonly offByMs: number }
  | { readonly kind: 'taken_over'; readonly reason: TakeOver };

export interface SyncInput {
  readonly crew: NowPlayingView;
  /** Where the crew's track is now (crewPositionAt on the relay's clock). */
  readonly crewPositionMs: number;
  /** The owner's player as last read, or null when Spotify plays nothing (204). */
  readonly owner: NowPlaying | null;
  /** Where the owner's player is now (progressAt on the gadget's clock). */
  readonly ownerPositionMs: number;
  /** Since play along's last call to the owner's player returned (Infinity: none yet). */
  readonly sinceOwnCallMs: number;
}

const WAIT = { kind: 'wait' } as const;
const IN_STEP = { kind: 'in_step' } as const;

export function judgeSync({ crew, crewPositionMs, owner, ownerPositionMs, sinceOwnCallMs }: SyncInput): SyncVerdict {
  // Nothing to compare (the player is gone), or Spotify may not show play along's own call yet.
  if (!owner || sinceOwnCallMs < SETTLE_MS) return WAIT;
  const ownerEnded = !owner.isPlaying && ownerPositionMs >= owner.durationMs - END_MARGIN_MS;
  if (crew.paused_at !== null) return owner.isPlaying ? { kind: 'taken_over', reason: 'resumed' } : IN_STEP;
  // The crew's track is ending: its next snapshot starts the next one.
  if (crewPositionMs >= crew.clock_duration_ms - END_MARGIN_MS || ownerEnded) return WAIT;
  if (owner.uri !== crew.spotify_uri) return { kind: 'taken_over', reason: 'other_track' };
  if (!owner.isPlaying) return { kind: 'taken_over', reason: 'paused' };
  const offByMs = ownerPositionMs - crewPositionMs;
  if (Math.abs(offByMs) > OWNER_SEEK_MS) return { kind: 'taken_over', reason: 'seeked' };
  if (Math.abs(offByMs) > IN_STEP_MS) return { kind: 'seek', positionMs: crewPositionMs, offByMs };
  return IN_STEP;
}

/** What the gadget says when it steps out, and how to come back. */
export const TAKE_OVER_NOTICE: Record<TakeOver, string> = {
  other_track: 'You played something else: play along stepped out. Press Play along to rejoin.',
  paused: 'You paused Spotify: play along stepped out. Press Play along to rejoin.',
  resumed: 'You played while the crew is paused: play along stepped out. Press Play along to rejoin.',
  seeked: 'You moved the track: play along stepped out. Press Play along to rejoin.',
};
