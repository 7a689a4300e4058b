import type { TimeRange, TopMeasure } from '../../ports.js';

/*
 * The `history` area of the Store: the records it keeps (plays, imports, cursors), the rule
 * by which it matches plays, and its interface (HistoryStore). The history feature
 * (cloud/history/) collects, imports and reads them. SQLite: cloud/store/sqlite-history.ts.
 */

/**
 * A play is one listening of one track by one crew member, from one of three sources.
 * Each source knows the end of the play with a different precision:
 *  - `recently_played`: Spotify's `played_at`, milliseconds;
 *  - `import_extended`: the extended export's `ts`, seconds (with `ms_played`);
 *  - `import_account`: the account-data export's `endTime`, minutes, and no URI.
 *
 * The matching rule (applied by the store when it adds plays): two plays of one member
 * are the same play when their track identities match — the same URI when both have
 * one, or the same trackKey() — and
 *  - from the same source, their end times are equal (so repeats of a short track stay
 *    separate plays), or
 *  - from different sources, their end minutes differ by at most MATCH_WINDOW_MINUTES.
 * The play stored first is kept; the later one is a duplicate.
 */
export type PlaySource = 'recently_played' | 'import_extended' | 'import_account';

export const MATCH_WINDOW_MINUTES = 1;

export interface PlayInput {
  readonly memberId: string;
  readonly source: PlaySource;
  /** End of the play, ms since epoch (UTC). */
  readonly endMs: number;
  readonly trackUri: string | null;
  readonly track: string;
  readonly artist: string;
  readonly album: string | null;
  /** How long it was heard; null when the source does not say (recently-played). */
  readonly msPlayed: number | null;
  /** The track's length when known; stands in for msPlayed in listening time. */
  readonly durationMs: number | null;
  readonly skipped: boolean | null;
  readonly shuffle: boolean | null;
  readonly offline: boolean | null;
  readonly reasonStart: string | null;
  readonly reasonEnd: string | null;
}

export interface Play extends PlayInput {
  readonly id: number;
  readonly trackKey: string;
}

/**
 * The identity of a track when there is no URI: artist and title folded so that the
 * spellings different exports use ("Beyoncé", "BEYONCE ", "beyonce") meet.
 */
export function trackKey(artist: string, track: string): string {
  return `${fold(artist)}\u001f${fold(track)}`;
}

function fold(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** Fills the optional fields of a play with null. */
export function playInput(fields: Pick<PlayInput, 'memberId' | 'source' | 'endMs' | 'track' | 'artist'> & Partial<PlayInput>): PlayInput {
  return {
    trackUri: null,
    album: null,
    msPlayed: null,
    durationMs: null,
    skipped: null,
    shuffle: null,
    offline: null,
    reasonStart: null,
    reasonEnd: null,
    ...fields,
  };
}

export interface TopTrackRow {
  readonly track: string;
  readonly artist: string;
  readonly trackUri: string | null;
  readonly plays: number;
  readonly msPlayed: number;
}

export interface TopArtistRow {
  readonly artist: string;
  readonly plays: number;
  readonly msPlayed: number;
}

export interface PlayBucket {
  readonly startMs: number;
  readonly plays: number;
  readonly msPlayed: number;
}

export interface ImportRecord {
  readonly jobId: string;
  readonly memberId: string;
  readonly fileName: string;
  readonly startedAt: number;
  readonly counts: Readonly<Record<string, number>>;
}

export interface CommitOptions {
  /** Plays per slice (one short transaction each); the event loop runs between slices. */
  readonly sliceRows?: number;
  /** Told, after each slice, how many staged plays have been committed (invisibly) so far. */
  readonly onSlice?: (committed: number) => void;
  /** Stops the commit between slices with the signal's reason; nothing of it is visible. */
  readonly signal?: AbortSignal;
}

/**
 * The `history` area of the Store: members' plays (see PlaySource above for the matching rule
 * every method that adds plays applies), import staging, and collector cursors.
 * Listening time of a play is msPlayed, else durationMs, else 0.
 */
export interface HistoryStore {
  /** Adds plays in one transaction; returns how many were new and how many matched a stored play. */
  addPlays(plays: readonly PlayInput[]): Promise<{ added: number; duplicate: number }>;

  /** Puts a batch of an import aside under its job id; returns how many were not already staged. */
  stageImport(jobId: string, plays: readonly PlayInput[]): Promise<number>;
  /**
   * Moves a job's staged plays into the plays and records the import, all or nothing: in
   * slices that readers cannot see until the last one makes the whole import visible.
   */
  commitImport(record: ImportRecord, options?: CommitOptions): Promise<{ imported: number; duplicate: number }>;
  /** Drops a job's staging and the invisible plays of its unfinished commit. */
  discardImport(jobId: string): Promise<void>;
  /** Drops what imports that never finished (a crash, a stop) left, all invisible; returns the rows dropped. */
  discardAllStaging(): Promise<number>;
  listImports(memberId: string): Promise<ImportRecord[]>;

  /** The collector's recently-played `after` cursor (ms), or null before the first run. */
  getCursor(memberId: string): Promise<number | null>;
  setCursor(memberId: string, afterMs: number): Promise<void>;

  /** Plays of these members in the range, newest first. */
  listPlays(memberIds: readonly string[], range: TimeRange, limit: number): Promise<Play[]>;
  /** One member's plays with id > afterId in id order: pages for a streamed export. */
  playsAfterId(memberId: string, afterId: number, limit: number): Promise<Play[]>;
  countPlays(memberId: string): Promise<number>;
  topTracks(memberIds: readonly string[], range: TimeRange, by: TopMeasure, limit: number): Promise<TopTrackRow[]>;
  topArtists(memberIds: readonly string[], range: TimeRange, by: TopMeasure, limit: number): Promise<TopArtistRow[]>;
  /** Plays grouped by fixed-size time buckets (bucketMs divides an hour), for heatmaps in any zone. */
  playBuckets(memberIds: readonly string[], range: TimeRange, bucketMs: number): Promise<PlayBucket[]>;
  /** URIs and track keys these members played in the range (throwback leaves them out). */
  playedTracks(memberIds: readonly string[], range: TimeRange): Promise<{ uris: string[]; trackKeys: string[] }>;
}
