import path from 'node:path';
import { z } from 'zod';
import { TRACK_URI } from '../../protocol/index.js';
import { playInput, trackKey, type PlayInput } from '../store/areas/history.js';

/**
 * The two formats of Spotify's data export. Only the fields below are read: zod drops
 * the rest, so IP address, user agent, username, country and platform never get past
 * this file.
 */
export type ExportFormat = 'extended' | 'account';

export type SkipReason = 'too_short' | 'incognito' | 'no_track' | 'invalid';
/** Who a record is, as far as it says: to count a record that two files hold once. */
export interface RecordIdentity {
  readonly endMs: number;
  readonly msPlayed: number;
  /** trackKey() of artist and title; null for records without track metadata (podcasts). */
  readonly trackKey: string | null;
}

export type RecordOutcome = { play: PlayInput; identity: RecordIdentity } | { skip: SkipReason; identity?: RecordIdentity };

const EXTENDED_OLD_NAME = /^endsong_\d+\.json$/i;

/** The extended history's two namings: `endsong_N.json` (before 2023) and `Streaming_History_Audio_….json`. */
export function extendedNaming(entryName: string): 'old' | 'new' | null {
  if (classifyEntry(entryName) !== 'extended') return null;
  return EXTENDED_OLD_NAME.test(path.posix.basename(entryName)) ? 'old' : 'new';
}

export interface RecordOptions {
  readonly memberId: string;
  /** Plays heard for less than this are skipped (Spotify counts a stream from 30 s). */
  readonly minPlayMs: number;
  readonly nowMs: number;
}

export const DEFAULT_MIN_PLAY_MS = 30_000;

const EXTENDED_NAME = /^(Streaming_History_Audio_.*|endsong_\d+)\.json$/i;
const ACCOUNT_NAME = /^StreamingHistory(\d*|_music_\d+)\.json$/i;

/** Which format a ZIP entry holds, by its file name; null for files the import ignores. */
export function classifyEntry(entryName: string): ExportFormat | null {
  const base = path.posix.basename(entryName);
  if (EXTENDED_NAME.test(base)) return 'extended';
  if (ACCOUNT_NAME.test(base)) return 'account';
  return null;
}

const text = z.string().max(1000);
const optionalText = text.nullish();
const optionalFlag = z.boolean().nullish();

const ExtendedRecord = z.object({
  ts: z.string().max(40),
  ms_played: z.number().int().nonnegative(),
  spotify_track_uri: optionalText,
  master_metadata_track_name: optionalText,
  master_metadata_album_artist_name: optionalText,
  master_metadata_album_album_name: optionalText,
  skipped: optionalFlag,
  incognito_mode: optionalFlag,
  shuffle: optionalFlag,
  offline: optionalFlag,
  reason_start: z.string().max(64).nullish(),
  reason_end: z.string().max(64).nullish(),
});

const AccountRecord = z.object({
  endTime: z.string().max(40),
  artistName: optionalText,
  trackName: optionalText,
  msPlayed: z.number().int().nonnegative(),
});

// Spotify launched in 2008; anything earlier, or in the future, is a broken record.
const EARLIEST_MS = Date.UTC(2006, 0, 1);
const FUTURE_SLACK_MS = 24 * 3600_000;

/** Turns one array element of an export file into a play, or the reason it is skipped. */
export function readRecord(format: ExportFormat, record: unknown, options: RecordOptions): RecordOutcome {
  return format === 'extended' ? readExtended(record, options) : readAccount(record, options);
}

function readExtended(record: unknown, options: RecordOptions): RecordOutcome {
  const parsed = ExtendedRecord.safeParse(record);
  if (!parsed.success) return { skip: 'invalid' };
  const r = parsed.data;
  const endMs = parseIsoTime(r.ts, options.nowMs);
  if (endMs === null) return { skip: 'invalid' };
  const track = r.master_metadata_track_name?.trim();
  const artist = r.master_metadata_album_artist_name?.trim();
  const identity = { endMs, msPlayed: r.ms_played, trackKey: track && artist ? trackKey(artist, track) : null };
  if (r.incognito_mode === true) return { skip: 'incognito', identity };
  // Podcast episodes, audiobooks and unavailable tracks come without track metadata.
  if (!track || !artist) return { skip: 'no_track', identity };
  if (r.ms_played < options.minPlayMs) return { skip: 'too_short', identity };
  return {
    identity,
    play: playInput({
      memberId: options.memberId,
      source: 'import_extended',
      endMs,
      track,
      artist,
      trackUri: r.spotify_track_uri && TRACK_URI.test(r.spotify_track_uri) ? r.spotify_track_uri : null,
      album: r.master_metadata_album_album_name?.trim() || null,
      msPlayed: r.ms_played,
      skipped: r.skipped ?? null,
      shuffle: r.shuffle ?? null,
      offline: r.offline ?? null,
      reasonStart: r.reason_start ?? null,
      reasonEnd: r.reason_end ?? null,
    }),
  };
}

function readAccount(record: unknown, options: RecordOptions): RecordOutcome {
  const parsed = AccountRecord.safeParse(record);
  if (!parsed.success) return { skip: 'invalid' };
  const r = parsed.data;
  const endMs = parseMinuteTime(r.endTime, options.nowMs);
  if (endMs === null) return { skip: 'invalid' };
  const track = r.trackName?.trim();
  const artist = r.artistName?.trim();
  if (!track || !artist || artist === 'Unknown Artist') return { skip: 'no_track' };
  const identity = { endMs, msPlayed: r.msPlayed, trackKey: trackKey(artist, track) };
  if (r.msPlayed < options.minPlayMs) return { skip: 'too_short', identity };
  return {
    identity,
    play: playInput({ memberId: options.memberId, source: 'import_account', endMs, track, artist, msPlayed: r.msPlayed }),
  };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/** `2021-03-01T12:34:56Z`; a time without a zone is UTC, as the exports write it. */
export function parseIsoTime(value: string, nowMs: number): number | null {
  if (!ISO_TIME.test(value)) return null;
  const hasZone = /(Z|[+-]\d{2}:\d{2})$/.test(value);
  return plausible(Date.parse(hasZone ? value : `${value}Z`), nowMs);
}

const MINUTE_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})$/;

/** `2021-03-01 12:34`, UTC. */
export function parseMinuteTime(value: string, nowMs: number): number | null {
  const m = MINUTE_TIME.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute] = m.slice(1).map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute);
  const back = new Date(ms);
  // Date.UTC rolls 2021-02-30 over to March; a real date survives the round trip.
  if (back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day || hour > 23 || minute > 59) return null;
  return plausible(ms, nowMs);
}

function plausible(ms: number, nowMs: number): number | null {
  if (!Number.isFinite(ms) || ms < EARLIEST_MS || ms > nowMs + FUTURE_SLACK_MS) return null;
  return ms;
}
