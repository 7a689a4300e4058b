import type { TopMeasure } from '../../protocol/index.js';
import type { Play, PlayInput } from './plays.js';

/** fromMs <= t < toMs, ms since epoch. */
export interface TimeRange {
  readonly fromMs: number;
  readonly toMs: number;
}

/** Plays or time listened (the HTTP API's `by`/`measure`). */
export type { TopMeasure };

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
 * The `history` area of the Store: members' plays (see plays.ts for the matching rule
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
