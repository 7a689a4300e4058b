import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type {
  HistoryStore,
  ImportRecord,
  PlayBucket,
  TimeRange,
  TopArtistRow,
  TopMeasure,
  TopTrackRow,
} from '../history/history-store.js';
import { trackKey, type Play, type PlayInput, type PlaySource } from '../history/plays.js';
import { runMigrations, type SqliteDatabase } from './sqlite.js';

const PLAY_COLUMNS = `member_id, source, end_ms, track_uri, track_key, track, artist, album,
  ms_played, duration_ms, skipped, shuffle, offline, reason_start, reason_end`;

// Applied migrations are never edited: the SQL is written out, not generated.
const MIGRATIONS = [
  `CREATE TABLE history_plays (
     id INTEGER PRIMARY KEY,
     member_id TEXT NOT NULL,
     source TEXT NOT NULL,
     end_ms INTEGER NOT NULL,
     track_uri TEXT,
     track_key TEXT NOT NULL,
     track TEXT NOT NULL,
     artist TEXT NOT NULL,
     album TEXT,
     ms_played INTEGER,
     duration_ms INTEGER,
     skipped INTEGER,
     shuffle INTEGER,
     offline INTEGER,
     reason_start TEXT,
     reason_end TEXT,
     added_at INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX history_plays_exact ON history_plays(member_id, source, end_ms, track_key);
   CREATE INDEX history_plays_by_time ON history_plays(member_id, end_ms);
   CREATE TABLE history_staging (
     job_id TEXT NOT NULL,
     member_id TEXT NOT NULL,
     source TEXT NOT NULL,
     end_ms INTEGER NOT NULL,
     track_uri TEXT,
     track_key TEXT NOT NULL,
     track TEXT NOT NULL,
     artist TEXT NOT NULL,
     album TEXT,
     ms_played INTEGER,
     duration_ms INTEGER,
     skipped INTEGER,
     shuffle INTEGER,
     offline INTEGER,
     reason_start TEXT,
     reason_end TEXT,
     UNIQUE (job_id, member_id, source, end_ms, track_key)
   );
   CREATE TABLE history_cursors (
     member_id TEXT PRIMARY KEY,
     after_ms INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE history_imports (
     job_id TEXT PRIMARY KEY,
     member_id TEXT NOT NULL,
     file_name TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     finished_at INTEGER NOT NULL,
     counts TEXT NOT NULL
   );
   CREATE INDEX history_imports_by_member ON history_imports(member_id, started_at);`,
];

/*
 * The matching rule of plays.ts, for a candidate row `s` against the stored plays `p`.
 * The time condition is on end_ms so that the (member_id, end_ms) index serves it.
 */
const NOT_ALREADY_STORED = `NOT EXISTS (
  SELECT 1 FROM history_plays p
   WHERE p.member_id = s.member_id
     AND p.end_ms >= (s.end_ms / 60000 - 1) * 60000
     AND p.end_ms < (s.end_ms / 60000 + 2) * 60000
     AND (p.track_key = s.track_key OR p.track_uri = s.track_uri)
     AND (p.source <> s.source OR p.end_ms = s.end_ms))`;

// Sources in the order their plays are committed: the most precise one is kept.
const COMMIT_ORDER: readonly PlaySource[] = ['recently_played', 'import_extended', 'import_account'];

const LISTENED = 'COALESCE(ms_played, duration_ms, 0)';
const MEMBERS = 'member_id IN (SELECT value FROM json_each(?))';

interface PlayRow {
  id: number; member_id: string; source: PlaySource; end_ms: number; track_uri: string | null; track_key: string;
  track: string; artist: string; album: string | null; ms_played: number | null; duration_ms: number | null;
  skipped: number | null; shuffle: number | null; offline: number | null; reason_start: string | null; reason_end: string | null;
}

const flag = (value: number | null): boolean | null => (value === null ? null : value === 1);
const bit = (value: boolean | null): number | null => (value === null ? null : value ? 1 : 0);

const toPlay = (r: PlayRow): Play => ({
  id: r.id, memberId: r.member_id, source: r.source, endMs: r.end_ms, trackUri: r.track_uri, trackKey: r.track_key,
  track: r.track, artist: r.artist, album: r.album, msPlayed: r.ms_played, durationMs: r.duration_ms,
  skipped: flag(r.skipped), shuffle: flag(r.shuffle), offline: flag(r.offline), reasonStart: r.reason_start, reasonEnd: r.reason_end,
});

const stagingValues = (jobId: string, p: PlayInput) => [
  jobId, p.memberId, p.source, p.endMs, p.trackUri, trackKey(p.artist, p.track), p.track, p.artist, p.album,
  p.msPlayed, p.durationMs, bit(p.skipped), bit(p.shuffle), bit(p.offline), p.reasonStart, p.reasonEnd,
];

/** The embedded store's `history` area. */
export class SqliteHistoryStore implements HistoryStore {
  private readonly db: SqliteDatabase;
  private readonly q: ReturnType<typeof prepare>;

  constructor(db: SqliteDatabase) {
    this.db = db;
    runMigrations(db, 'history', MIGRATIONS);
    this.q = prepare(db);
  }

  async addPlays(plays: readonly PlayInput[]): Promise<{ added: number; duplicate: number }> {
    const jobId = `poll:${randomUUID()}`;
    return this.db.transaction(() => {
      this.stage(jobId, plays);
      const added = this.moveStaged(jobId);
      return { added, duplicate: plays.length - added };
    })();
  }

  async stageImport(jobId: string, plays: readonly PlayInput[]): Promise<number> {
    return this.db.transaction(() => this.stage(jobId, plays))();
  }

  async commitImport(record: ImportRecord): Promise<{ imported: number; duplicate: number }> {
    return this.db.transaction(() => {
      const staged = this.q.countStaged.get(record.jobId) as number;
      const imported = this.moveStaged(record.jobId);
      const duplicate = staged - imported;
      const counts = { ...record.counts, imported, duplicate: (record.counts.duplicate ?? 0) + duplicate };
      this.q.insertImport.run(record.jobId, record.memberId, record.fileName, record.startedAt, Date.now(), JSON.stringify(counts));
      return { imported, duplicate };
    })();
  }

  async discardImport(jobId: string): Promise<void> {
    this.q.deleteStaged.run(jobId);
  }

  async discardAllStaging(): Promise<number> {
    return this.q.deleteAllStaged.run().changes;
  }

  async listImports(memberId: string): Promise<ImportRecord[]> {
    const rows = this.q.imports.all(memberId) as { job_id: string; member_id: string; file_name: string; started_at: number; counts: string }[];
    return rows.map((r) => ({ jobId: r.job_id, memberId: r.member_id, fileName: r.file_name, startedAt: r.started_at, counts: JSON.parse(r.counts) }));
  }

  async getCursor(memberId: string): Promise<number | null> {
    return (this.q.cursor.get(memberId) as number | undefined) ?? null;
  }

  async setCursor(memberId: string, afterMs: number): Promise<void> {
    this.q.setCursor.run(memberId, afterMs, Date.now());
  }

  async listPlays(memberIds: readonly string[], range: TimeRange, limit: number): Promise<Play[]> {
    return (this.q.plays.all(JSON.stringify(memberIds), range.fromMs, range.toMs, limit) as PlayRow[]).map(toPlay);
  }

  async playsAfterId(memberId: string, afterId: number, limit: number): Promise<Play[]> {
    return (this.q.playsAfterId.all(memberId, afterId, limit) as PlayRow[]).map(toPlay);
  }

  async countPlays(memberId: string): Promise<number> {
    return this.q.countPlays.get(memberId) as number;
  }

  async topTracks(memberIds: readonly string[], range: TimeRange, by: TopMeasure, limit: number): Promise<TopTrackRow[]> {
    const statement = by === 'plays' ? this.q.topTracksByPlays : this.q.topTracksByTime;
    const rows = statement.all(JSON.stringify(memberIds), range.fromMs, range.toMs, limit) as
      { track: string; artist: string; track_uri: string | null; plays: number; ms_played: number }[];
    return rows.map((r) => ({ track: r.track, artist: r.artist, trackUri: r.track_uri, plays: r.plays, msPlayed: r.ms_played }));
  }

  async topArtists(memberIds: readonly string[], range: TimeRange, by: TopMeasure, limit: number): Promise<TopArtistRow[]> {
    const statement = by === 'plays' ? this.q.topArtistsByPlays : this.q.topArtistsByTime;
    const rows = statement.all(JSON.stringify(memberIds), range.fromMs, range.toMs, limit) as { artist: string; plays: number; ms_played: number }[];
    return rows.map((r) => ({ artist: r.artist, plays: r.plays, msPlayed: r.ms_played }));
  }

  async playBuckets(memberIds: readonly string[], range: TimeRange, bucketMs: number): Promise<PlayBucket[]> {
    const rows = this.q.buckets.all(bucketMs, JSON.stringify(memberIds), range.fromMs, range.toMs) as { bucket: number; plays: number; ms_played: number }[];
    return rows.map((r) => ({ startMs: r.bucket * bucketMs, plays: r.plays, msPlayed: r.ms_played }));
  }

  async playedTracks(memberIds: readonly string[], range: TimeRange): Promise<{ uris: string[]; trackKeys: string[] }> {
    const args = [JSON.stringify(memberIds), range.fromMs, range.toMs];
    return { uris: this.q.playedUris.all(...args) as string[], trackKeys: this.q.playedKeys.all(...args) as string[] };
  }

  private stage(jobId: string, plays: readonly PlayInput[]): number {
    let staged = 0;
    for (const play of plays) staged += this.q.stage.run(...stagingValues(jobId, play)).changes;
    return staged;
  }

  /** Inside a transaction: staged rows that match no stored play become plays; staging is emptied. */
  private moveStaged(jobId: string): number {
    const now = Date.now();
    let moved = 0;
    // One statement per source, so that a play staged from one source sees the rows
    // just moved from a more precise one (SQLite evaluates each INSERT … SELECT first).
    for (const source of COMMIT_ORDER) moved += this.q.moveStaged.run(now, jobId, source).changes;
    this.q.deleteStaged.run(jobId);
    return moved;
  }
}

function prepare(db: Database.Database) {
  const topTracks = (order: string) => db.prepare(
    `SELECT MIN(track) AS track, MIN(artist) AS artist, MAX(track_uri) AS track_uri, COUNT(*) AS plays, SUM(${LISTENED}) AS ms_played
       FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ?
      GROUP BY track_key ORDER BY ${order} DESC, track_key LIMIT ?`);
  const topArtists = (order: string) => db.prepare(
    `SELECT MIN(artist) AS artist, COUNT(*) AS plays, SUM(${LISTENED}) AS ms_played
       FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ?
      GROUP BY substr(track_key, 1, instr(track_key, char(31)) - 1) ORDER BY ${order} DESC, artist LIMIT ?`);
  return {
    stage: db.prepare(`INSERT OR IGNORE INTO history_staging (job_id, ${PLAY_COLUMNS}) VALUES (${Array(16).fill('?').join(', ')})`),
    countStaged: db.prepare('SELECT COUNT(*) FROM history_staging WHERE job_id = ?').pluck(),
    moveStaged: db.prepare(
      `INSERT OR IGNORE INTO history_plays (${PLAY_COLUMNS}, added_at)
       SELECT ${PLAY_COLUMNS.split(',').map((c) => `s.${c.trim()}`).join(', ')}, ?
         FROM history_staging s WHERE s.job_id = ? AND s.source = ? AND ${NOT_ALREADY_STORED}
        ORDER BY s.end_ms`),
    deleteStaged: db.prepare('DELETE FROM history_staging WHERE job_id = ?'),
    deleteAllStaged: db.prepare('DELETE FROM history_staging'),
    insertImport: db.prepare('INSERT INTO history_imports (job_id, member_id, file_name, started_at, finished_at, counts) VALUES (?, ?, ?, ?, ?, ?)'),
    imports: db.prepare('SELECT * FROM history_imports WHERE member_id = ? ORDER BY started_at'),
    cursor: db.prepare('SELECT after_ms FROM history_cursors WHERE member_id = ?').pluck(),
    setCursor: db.prepare(
      `INSERT INTO history_cursors (member_id, after_ms, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (member_id) DO UPDATE SET after_ms = excluded.after_ms, updated_at = excluded.updated_at`),
    plays: db.prepare(`SELECT * FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ? ORDER BY end_ms DESC, id DESC LIMIT ?`),
    playsAfterId: db.prepare('SELECT * FROM history_plays WHERE member_id = ? AND id > ? ORDER BY id LIMIT ?'),
    countPlays: db.prepare('SELECT COUNT(*) FROM history_plays WHERE member_id = ?').pluck(),
    topTracksByPlays: topTracks('plays'),
    topTracksByTime: topTracks('ms_played'),
    topArtistsByPlays: topArtists('plays'),
    topArtistsByTime: topArtists('ms_played'),
    buckets: db.prepare(
      `SELECT end_ms / ? AS bucket, COUNT(*) AS plays, SUM(${LISTENED}) AS ms_played
         FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ? GROUP BY bucket ORDER BY bucket`),
    playedUris: db.prepare(`SELECT DISTINCT track_uri FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ? AND track_uri IS NOT NULL`).pluck(),
    playedKeys: db.prepare(`SELECT DISTINCT track_key FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ?`).pluck(),
  };
}
