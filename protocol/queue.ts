import { z } from 'zod';
import { CATALOG_TRACK_URI, ClientMsgId, DeviceId, isTrackUri, OptionalText, ShortText, SpotifyUri, Timestamp, TRACK_LINK } from './common.js';

/*
 * The crew's shared queue on the wire. Every change to a crew's queue is fanned out as
 * one compact `queue_state` crew event that carries the whole queue (see "Queue order"
 * and "Queue events" in docs/REFERENCE.md for why a full state and not deltas).
 */

const stateChange = { client_msg_id: ClientMsgId.optional() };

/** Queue items are named by the relay: `q_` and 16 base64url characters. */
export const QueueItemId = z.string().regex(/^q_[A-Za-z0-9_-]{8,32}$/, 'must be a queue item id like q_…');

/** Longest track we accept a duration for: 6 hours (DJ mixes are long, not endless). */
export const MAX_TRACK_DURATION_MS = 6 * 60 * 60 * 1000;
export const DurationMs = z.number().int().min(1000, 'must be at least 1000 ms').max(MAX_TRACK_DURATION_MS);

/** What a member adds: the track and what the gadget knows about it. */
export const QueueTrack = z.object({
  spotify_uri: SpotifyUri.refine(isTrackUri, 'must be a track URI (spotify:track:…)'),
  track: ShortText(200),
  artist: ShortText(200),
  album: OptionalText(200),
  album_art_url: z.union([z.url({ protocol: /^https?$/ }), z.literal('')]).default(''),
  /** Unknown on gadgets that do not send it; the relay then uses its default or looks it up. */
  duration_ms: DurationMs.optional(),
});
export type QueueTrack = z.infer<typeof QueueTrack>;

export const VoteValue = z.enum(['up', 'down', 'none']);
export type VoteValue = z.infer<typeof VoteValue>;

export const QueueInbound = {
  queue_get: z.object({ type: z.literal('queue_get') }),
  queue_add: z.object({ type: z.literal('queue_add'), ...QueueTrack.shape, ...stateChange }),
  queue_vote: z.object({ type: z.literal('queue_vote'), item_id: QueueItemId, vote: VoteValue, ...stateChange }),
  /** `jam` omitted toggles; true/false sets it (what a retry-safe client sends). */
  queue_jam: z.object({ type: z.literal('queue_jam'), item_id: QueueItemId, jam: z.boolean().optional(), ...stateChange }),
  queue_remove: z.object({ type: z.literal('queue_remove'), item_id: QueueItemId, ...stateChange }),
  /** With item_id, skips only if that item is still the one playing (two presses skip one track). */
  queue_skip: z.object({ type: z.literal('queue_skip'), item_id: QueueItemId.optional(), ...stateChange }),
  /** A vote to skip the track that plays (`skip` false takes it back); a majority of the members online skips it. */
  queue_skip_vote: z.object({ type: z.literal('queue_skip_vote'), item_id: QueueItemId, skip: z.boolean().default(true), ...stateChange }),
  queue_pause: z.object({ type: z.literal('queue_pause'), ...stateChange }),
  queue_resume: z.object({ type: z.literal('queue_resume'), ...stateChange }),
  queue_clear: z.object({ type: z.literal('queue_clear'), ...stateChange }),
  queue_throwback: z.object({ type: z.literal('queue_throwback'), enabled: z.boolean(), ...stateChange }),
  airhorn: z.object({ type: z.literal('airhorn'), ...stateChange }),
  /** Asks for a signed link to the crew's web pages (the gadget shows it as a QR code). */
  crew_link: z.object({ type: z.literal('crew_link') }),
} as const;

export const QUEUE_STATE_CHANGING = [
  'queue_add',
  'queue_vote',
  'queue_jam',
  'queue_remove',
  'queue_skip',
  'queue_skip_vote',
  'queue_pause',
  'queue_resume',
  'queue_clear',
  'queue_throwback',
  'airhorn',
] as const;

export const QueueItemView = z.object({
  item_id: QueueItemId,
  spotify_uri: SpotifyUri,
  track: z.string(),
  artist: z.string(),
  album: z.string(),
  album_art_url: z.string(),
  /** As the adder's gadget reported it; null when unknown. */
  duration_ms: z.number().int().positive().nullable(),
  /** null for throwback tracks: the crew's history added them. */
  added_by: DeviceId.nullable(),
  added_by_name: z.string(),
  added_at: Timestamp,
  /** The adder's n-th pending track is in round n (see "Queue order"). */
  round: z.number().int().nonnegative(),
  score: z.number().int(),
  voted_up: z.array(DeviceId),
  voted_down: z.array(DeviceId),
  jammed_by: z.array(DeviceId),
  throwback: z.boolean(),
});
export type QueueItemView = z.infer<typeof QueueItemView>;

export const NowPlayingView = QueueItemView.extend({
  /** Epoch ms at which position 0 was (moved forward by pauses). */
  started_at: Timestamp,
  /** The duration the clock runs with (the reported one or the relay's default). */
  clock_duration_ms: z.number().int().positive(),
  /** Set while paused: the epoch ms of the pause. */
  paused_at: Timestamp.nullable(),
  /** Position at `server_time` of the snapshot. */
  position_ms: z.number().int().nonnegative(),
  /** Members who voted to skip it (relays before vote-to-skip send none). */
  skip_votes: z.array(DeviceId).default([]),
});
export type NowPlayingView = z.infer<typeof NowPlayingView>;

export const QueueSnapshot = z.object({
  now_playing: NowPlayingView.nullable(),
  /** Pending tracks in the order they will play. */
  up_next: z.array(QueueItemView),
  throwback: z.boolean(),
  /** Increases with every change; a client keeps the highest it has seen. */
  version: z.number().int().nonnegative(),
  server_time: Timestamp,
});
export type QueueSnapshot = z.infer<typeof QueueSnapshot>;

export const QueueChangeKind = z.enum([
  'snapshot',
  'added',
  'voted',
  'jammed',
  'removed',
  'skipped',
  'skip_voted',
  'paused',
  'resumed',
  'cleared',
  'advanced',
  'throwback',
  'restored',
]);
export type QueueChangeKind = z.infer<typeof QueueChangeKind>;

export const QueueChange = z.object({
  kind: QueueChangeKind,
  item_id: QueueItemId.optional(),
  /** Who did it; null when the relay did (the clock advanced, throwback filled). */
  by: DeviceId.nullable(),
});
export type QueueChange = z.infer<typeof QueueChange>;

const fanOut = { seq: z.number().int().nonnegative().optional(), crew_code: z.string().optional() };

export const QueueOutbound = {
  /**
   * At most one per crew per LEELOO_QUEUE_STATE_INTERVAL_MS: changes made within one interval
   * share one queue_state, whose `change` is the newest of them and `queue` the state after all.
   */
  queue_state: z.object({ type: z.literal('queue_state'), change: QueueChange, queue: QueueSnapshot, ...fanOut }),
  airhorn: z.object({
    type: z.literal('airhorn'),
    from_device: DeviceId,
    from_name: z.string(),
    timestamp: Timestamp,
    ...fanOut,
  }),
  crew_link_issued: z.object({ type: z.literal('crew_link_issued'), url: z.url(), expires_at: Timestamp }),
} as const;

/** Accepts a pasted Spotify link (open.spotify.com/track/…, with or without intl-xx and ?si=) or URI. */
export function spotifyTrackUriFrom(text: string): string | null {
  const trimmed = text.trim();
  const uri = CATALOG_TRACK_URI.exec(trimmed);
  if (uri) return `spotify:track:${uri[1]}`;
  const link = TRACK_LINK.exec(trimmed);
  return link ? `spotify:track:${link[1]}` : null;
}
