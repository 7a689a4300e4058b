import { randomBytes } from 'node:crypto';
import { ProtocolError } from '../../protocol/errors.js';
import type { QueueChange, QueueItemView, QueueSnapshot, QueueTrack, VoteValue } from '../../protocol/queue.js';
import { endsAt, nextStartAt, pauseClock, positionAt, resumeClock, type TrackClock } from './clock.js';
import { fairOrder, roundForNewTrack, scoreOf, type OrderedEntry } from './order.js';
import type { Actor } from '../ports.js';

/**
 * A crew's queue as a pure state machine: every operation takes a state and returns a
 * new one with the change it made, or throws a ProtocolError saying why the member may
 * not do it. The feature persists the state and fans the change out; nothing here does I/O.
 */

export interface QueueEntry extends OrderedEntry {
  readonly uri: string;
  readonly track: string;
  readonly artist: string;
  readonly album: string;
  readonly albumArtUrl: string;
  /** As the adder's gadget reported it; null when unknown. */
  readonly durationMs: number | null;
  readonly addedByName: string;
}

export interface PlayingEntry extends QueueEntry {
  readonly clock: TrackClock;
  /** Members who voted to skip it (absent: none); the next track starts with none. */
  readonly skipVotes?: readonly string[];
}

export interface PlayedRecord {
  readonly itemId: string;
  readonly uri: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface QueueState {
  /** Increases by one with every change. */
  readonly version: number;
  readonly nowPlaying: PlayingEntry | null;
  /** In add order; fairOrder() gives the play order. */
  readonly pending: readonly QueueEntry[];
  /** Most recent last, capped at PLAYED_KEPT. */
  readonly played: readonly PlayedRecord[];
  readonly throwback: boolean;
  readonly addCounter: number;
  /** The round of the last member track that started (see order.ts). */
  readonly currentRound: number;
  /** Per member: the round of their last track that started. */
  readonly playedRounds: Readonly<Record<string, number>>;
  /** `device:client_msg_id` of recent state changes, so a retried message changes nothing twice. */
  readonly applied: readonly string[];
}

export interface QueueLimits {
  /** Clock duration of a track whose duration is unknown. */
  readonly defaultDurationMs: number;
  readonly maxPending: number;
  readonly maxPendingPerMember: number;
  /** See clock.ts nextStartAt. */
  readonly maxLateMs: number;
}

export const DEFAULT_QUEUE_LIMITS: QueueLimits = {
  defaultDurationMs: 210_000,
  maxPending: 100,
  maxPendingPerMember: 25,
  maxLateMs: 2_000,
};

export interface QueueResult {
  readonly state: QueueState;
  readonly change: QueueChange;
}

const PLAYED_KEPT = 100;
const APPLIED_KEPT = 256;

export function emptyQueue(): QueueState {
  return { version: 0, nowPlaying: null, pending: [], played: [], throwback: false, addCounter: 0, currentRound: 0, playedRounds: {}, applied: [] };
}

export function newItemId(): string {
  return `q_${randomBytes(12).toString('base64url')}`;
}

function changed(state: QueueState, patch: Partial<QueueState>, change: QueueChange): QueueResult {
  return { state: { ...state, ...patch, version: state.version + 1 }, change };
}

function requireOwner(actor: Actor, what: string): void {
  if (!actor.isOwner) throw new ProtocolError('not_owner', `Only the crew owner may ${what}.`);
}

function requirePlaying(state: QueueState): PlayingEntry {
  if (!state.nowPlaying) throw new ProtocolError('conflict', 'Nothing is playing in the crew queue.');
  return state.nowPlaying;
}

function findEntry(state: QueueState, itemId: string): QueueEntry {
  const entry = state.nowPlaying?.id === itemId ? state.nowPlaying : state.pending.find((e) => e.id === itemId);
  if (!entry) throw new ProtocolError('not_found', `No track ${itemId} in the crew queue; it may have played or been removed.`);
  return entry;
}

function replaceEntry(state: QueueState, entry: QueueEntry): Partial<QueueState> {
  if (state.nowPlaying?.id === entry.id) return { nowPlaying: { ...state.nowPlaying, ...entry } };
  return { pending: state.pending.map((e) => (e.id === entry.id ? entry : e)) };
}

/** Starts a track: the clock runs and, for a member's track, its round becomes the current one. */
function startEntry(state: QueueState, entry: QueueEntry, startedAt: number, limits: QueueLimits): Partial<QueueState> {
  const durationMs = entry.durationMs ?? limits.defaultDurationMs;
  const nowPlaying: PlayingEntry = { ...entry, clock: { startedAt, durationMs, pausedAt: null } };
  if (entry.addedBy === null) return { nowPlaying };
  return {
    nowPlaying,
    currentRound: Math.max(state.currentRound, entry.round),
    playedRounds: { ...state.playedRounds, [entry.addedBy]: entry.round },
  };
}

/** Moves the current track to `played` and starts the next one in fair order at `startAt`. */
function playNext(state: QueueState, endedAt: number, startAt: number, limits: QueueLimits): Partial<QueueState> {
  const played = state.nowPlaying
    ? [...state.played, { itemId: state.nowPlaying.id, uri: state.nowPlaying.uri, startedAt: state.nowPlaying.clock.startedAt, endedAt }].slice(-PLAYED_KEPT)
    : state.played;
  const [next] = fairOrder(state.pending);
  if (!next) return { nowPlaying: null, played };
  return { ...startEntry(state, next, startAt, limits), pending: state.pending.filter((e) => e.id !== next.id), played };
}

export function addTrack(
  state: QueueState,
  actor: Actor,
  track: QueueTrack,
  now: number,
  limits: QueueLimits = DEFAULT_QUEUE_LIMITS,
  itemId: string = newItemId(),
): QueueResult {
  if (state.nowPlaying?.uri === track.spotify_uri || state.pending.some((e) => e.uri === track.spotify_uri)) {
    throw new ProtocolError('conflict', `"${track.track}" is already in the crew queue; vote for it instead.`);
  }
  if (state.pending.length >= limits.maxPending) {
    throw new ProtocolError('conflict', `The crew queue is full (${limits.maxPending} tracks); wait for some to play.`);
  }
  if (state.pending.filter((e) => e.addedBy === actor.deviceId).length >= limits.maxPendingPerMember) {
    throw new ProtocolError('rate_limited', `You already have ${limits.maxPendingPerMember} tracks waiting; let the others have a turn.`);
  }
  const entry: QueueEntry = {
    id: itemId,
    uri: track.spotify_uri,
    track: track.track,
    artist: track.artist,
    album: track.album,
    albumArtUrl: track.album_art_url,
    durationMs: track.duration_ms ?? null,
    addedBy: actor.deviceId,
    addedByName: actor.name,
    addedAt: now,
    addIndex: state.addCounter + 1,
    round: roundForNewTrack(state.pending, actor.deviceId, state.playedRounds[actor.deviceId] ?? 0, state.currentRound),
    votes: {},
    jams: [],
    throwback: false,
  };
  const change: QueueChange = { kind: 'added', item_id: entry.id, by: actor.deviceId };
  const patch = { addCounter: entry.addIndex };
  if (!state.nowPlaying) return changed(state, { ...patch, ...startEntry(state, entry, now, limits) }, change);
  return changed(state, { ...patch, pending: [...state.pending, entry] }, change);
}

/** Adds throwback tracks (already chosen from the crew's history); skips any already queued. */
export function addThrowbacks(state: QueueState, tracks: readonly QueueTrack[], now: number, limits: QueueLimits = DEFAULT_QUEUE_LIMITS): QueueResult | null {
  const queued = new Set([state.nowPlaying?.uri, ...state.pending.map((e) => e.uri)]);
  let addCounter = state.addCounter;
  const entries: QueueEntry[] = [];
  for (const track of tracks) {
    if (queued.has(track.spotify_uri) || state.pending.length + entries.length >= limits.maxPending) continue;
    queued.add(track.spotify_uri);
    addCounter += 1;
    entries.push({
      id: newItemId(),
      uri: track.spotify_uri,
      track: track.track,
      artist: track.artist,
      album: track.album,
      albumArtUrl: track.album_art_url,
      durationMs: track.duration_ms ?? null,
      addedBy: null,
      addedByName: 'Throwback',
      addedAt: now,
      addIndex: addCounter,
      round: 0,
      votes: {},
      jams: [],
      throwback: true,
    });
  }
  if (entries.length === 0) return null;
  const withEntries: QueueState = { ...state, pending: [...state.pending, ...entries], addCounter };
  const patch = state.nowPlaying ? withEntries : { ...withEntries, ...playNext(withEntries, now, now, limits) };
  return changed(state, patch, { kind: 'throwback', item_id: entries[0]!.id, by: null });
}

export function vote(state: QueueState, actor: Actor, itemId: string, value: VoteValue): QueueResult {
  const entry = findEntry(state, itemId);
  const votes = { ...entry.votes };
  if (value === 'none') delete votes[actor.deviceId];
  else votes[actor.deviceId] = value === 'up' ? 1 : -1;
  return changed(state, replaceEntry(state, { ...entry, votes }), { kind: 'voted', item_id: itemId, by: actor.deviceId });
}

/** Sets the member's jam on a track; `on` undefined toggles it. */
export function jam(state: QueueState, actor: Actor, itemId: string, on?: boolean): QueueResult {
  const entry = findEntry(state, itemId);
  const jamming = on ?? !entry.jams.includes(actor.deviceId);
  const jams = entry.jams.filter((id) => id !== actor.deviceId);
  if (jamming) jams.push(actor.deviceId);
  return changed(state, replaceEntry(state, { ...entry, jams }), { kind: 'jammed', item_id: itemId, by: actor.deviceId });
}

export function removeTrack(state: QueueState, actor: Actor, itemId: string): QueueResult {
  const entry = findEntry(state, itemId);
  if (state.nowPlaying?.id === itemId) {
    throw new ProtocolError('conflict', 'This track is playing; the crew owner can skip it.');
  }
  if (!actor.isOwner && entry.addedBy !== actor.deviceId) {
    throw new ProtocolError('not_owner', 'Only the member who added this track or the crew owner may remove it.');
  }
  const pending = state.pending.filter((e) => e.id !== itemId);
  return changed(state, { pending }, { kind: 'removed', item_id: itemId, by: actor.deviceId });
}

export function skip(state: QueueState, actor: Actor, now: number, expectedItemId?: string, limits = DEFAULT_QUEUE_LIMITS): QueueResult {
  requireOwner(actor, 'skip a track');
  const playing = requirePlaying(state);
  if (expectedItemId !== undefined && playing.id !== expectedItemId) {
    throw new ProtocolError('conflict', 'That track is no longer playing; nothing was skipped.');
  }
  return changed(state, playNext(state, now, now, limits), { kind: 'skipped', item_id: playing.id, by: actor.deviceId });
}

/**
 * A member's vote to skip the track that plays (`on` false takes it back). With `needed`
 * votes — the feature counts a majority of the members online — the track is skipped, as the
 * owner's skip would; the owner's own skip needs no votes. `itemId` names the track voted on,
 * so a vote that arrives after the track changed skips nothing.
 */
export function voteSkip(
  state: QueueState,
  actor: Actor,
  itemId: string,
  on: boolean,
  needed: number,
  now: number,
  limits = DEFAULT_QUEUE_LIMITS,
): QueueResult {
  const playing = requirePlaying(state);
  if (playing.id !== itemId) throw new ProtocolError('conflict', 'That track is no longer playing; the vote to skip was not counted.');
  const votes = new Set(playing.skipVotes ?? []);
  if (on) votes.add(actor.deviceId);
  else votes.delete(actor.deviceId);
  if (on && votes.size >= Math.max(1, needed)) {
    return changed(state, playNext(state, now, now, limits), { kind: 'skipped', item_id: playing.id, by: actor.deviceId });
  }
  return changed(state, { nowPlaying: { ...playing, skipVotes: [...votes] } }, { kind: 'skip_voted', item_id: playing.id, by: actor.deviceId });
}

/**
 * Votes a track needs to be skipped: more than `percent` % of the members online (the voter
 * counts as online: a phone on the crew page has no gadget connected), at least one.
 */
export function skipVotesNeeded(online: number, percent: number): number {
  const members = Math.max(1, online);
  return Math.min(members, Math.floor((members * percent) / 100) + 1);
}

export function pause(state: QueueState, actor: Actor, now: number): QueueResult {
  requireOwner(actor, 'pause the crew queue');
  const playing = requirePlaying(state);
  if (playing.clock.pausedAt !== null) throw new ProtocolError('conflict', 'The crew queue is already paused.');
  const nowPlaying = { ...playing, clock: pauseClock(playing.clock, now) };
  return changed(state, { nowPlaying }, { kind: 'paused', item_id: playing.id, by: actor.deviceId });
}

export function resume(state: QueueState, actor: Actor, now: number): QueueResult {
  requireOwner(actor, 'resume the crew queue');
  const playing = requirePlaying(state);
  if (playing.clock.pausedAt === null) throw new ProtocolError('conflict', 'The crew queue is not paused.');
  const nowPlaying = { ...playing, clock: resumeClock(playing.clock, now) };
  return changed(state, { nowPlaying }, { kind: 'resumed', item_id: playing.id, by: actor.deviceId });
}

/** Empties the waiting tracks; what is playing plays on. */
export function clear(state: QueueState, actor: Actor): QueueResult {
  requireOwner(actor, 'clear the crew queue');
  return changed(state, { pending: [] }, { kind: 'cleared', by: actor.deviceId });
}

export function setThrowback(state: QueueState, actor: Actor, enabled: boolean): QueueResult {
  requireOwner(actor, 'switch throwback on or off');
  return changed(state, { throwback: enabled }, { kind: 'throwback', by: actor.deviceId });
}

/** When the relay must next advance this queue (epoch ms), or null when the clock is stopped. */
export function dueAt(state: QueueState): number | null {
  return state.nowPlaying ? endsAt(state.nowPlaying.clock) : null;
}

/** Finishes the playing track if it has ended by `now` and starts the next; null when nothing is due. */
export function advance(state: QueueState, now: number, limits: QueueLimits = DEFAULT_QUEUE_LIMITS): QueueResult | null {
  const due = dueAt(state);
  if (due === null || due > now || !state.nowPlaying) return null;
  const ended = state.nowPlaying.id;
  return changed(state, playNext(state, due, nextStartAt(due, now, limits.maxLateMs), limits), { kind: 'advanced', item_id: ended, by: null });
}

/** True when the queue will run dry at its next advance (or already has): throwback should fill it. */
export function needsFiller(state: QueueState, now: number): boolean {
  if (!state.throwback || state.pending.length > 0) return false;
  const due = dueAt(state);
  return state.nowPlaying === null || (due !== null && due <= now);
}

export function wasApplied(state: QueueState, key: string): boolean {
  return state.applied.includes(key);
}

export function rememberApplied(state: QueueState, key: string): QueueState {
  return { ...state, applied: [...state.applied, key].slice(-APPLIED_KEPT) };
}

function itemView(entry: QueueEntry): QueueItemView {
  const votes = Object.entries(entry.votes);
  return {
    item_id: entry.id,
    spotify_uri: entry.uri,
    track: entry.track,
    artist: entry.artist,
    album: entry.album,
    album_art_url: entry.albumArtUrl,
    duration_ms: entry.durationMs,
    added_by: entry.addedBy,
    added_by_name: entry.addedByName,
    added_at: entry.addedAt,
    round: entry.round,
    score: scoreOf(entry),
    voted_up: votes.filter(([, v]) => v > 0).map(([id]) => id),
    voted_down: votes.filter(([, v]) => v < 0).map(([id]) => id),
    jammed_by: [...entry.jams],
    throwback: entry.throwback,
  };
}

/** The state as the wire carries it (`queue_state.queue`). */
export function snapshotOf(state: QueueState, now: number): QueueSnapshot {
  const playing = state.nowPlaying;
  return {
    now_playing: playing && {
      ...itemView(playing),
      started_at: playing.clock.startedAt,
      clock_duration_ms: playing.clock.durationMs,
      paused_at: playing.clock.pausedAt,
      position_ms: positionAt(playing.clock, now),
      skip_votes: [...(playing.skipVotes ?? [])],
    },
    up_next: fairOrder(state.pending).map(itemView),
    throwback: state.throwback,
    version: state.version,
    server_time: now,
  };
}
