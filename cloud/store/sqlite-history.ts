import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { TimeRange, TopMeasure } from '../ports.js';
import {
  trackKey,
  type CommitOptions,
  type HistoryStore,
  type ImportRecord,
  type Play,
  type PlayBucket,
  type PlayInput,
  type PlaySource,
  type TopArtistRow,
  type TopTrackRow,
} from './areas/history.js';
import { NO_CHECKPOINTS, type Checkpoints } from './checkpointer.js';
import { runMigrations, type SqliteDatabase, writeTransaction } from './sqlite.js';

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
  // Imports commit in slices: their plays carry the id of a pending import and stay
  // invisible until the last slice deletes that row (see VISIBLE). AUTOINCREMENT: an id
  // is never handed out twice, so a play of a finished import never turns invisible.
  `ALTER TABLE history_plays ADD COLUMN import_id INTEGER;
   CREATE TABLE history_pending (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     job_id TEXT NOT NULL UNIQUE,
     member_id TEXT NOT NULL,
     after_play_id INTEGER NOT NULL,
     started_at INTEGER NOT NULL
   );`,
];

/** A play is visible unless it belongs to an import whose last slice is not committed. */
const visible = (alias = '') => `(${alias}import_id IS NULL OR ${alias}import_id NOT IN (SELECT id FROM history_pending))`;
const VISIBLE = visible();

/*
 * The matching rule of areas/history.ts (PlaySource), for a candidate row `s` against the stored plays `p`.
 * The time condition is on end_ms so that the (member_id, end_ms) index serves it.
 */
const NOT_ALREADY_STORED = `NOT EXISTS (
  SELECT 1 FROM history_plays p
   WHERE p.member_id = s.member_id
     AND p.end_ms >= (s.end_ms / 60000 - 1) * 60000
     AND p.end_ms < (s.end_ms / 60000 + 2) * 60000
     AND (p.track_key = s.track_key OR p.track_uri = s.track_uri)
     AND (p.source <> s.source OR p.end_ms = s.end_ms)
     AND (${visible('p.')} OR p.import_id = ?))`;

// Sources in the order their plays are committed: the most precise one is kept.
const COMMIT_ORDER: readonly PlaySource[] = ['recently_played', 'import_extended', 'import_account'];

const LISTENED = 'COALESCE(ms_played, duration_ms, 0)';
const MEMBERS = `member_id IN (SELECT value FROM json_each(?)) AND ${VISIBLE}`;

interface PlayRow {
  id: number;
  member_id: string;
  source: PlaySource;
  end_ms: number;
  track_uri: string | null;
  track_key: string;
  track: string;
  artist: string;
  album: string | null;
  ms_played: number | null;
  duration_ms: number | null;
  skipped: number | null;
  shuffle: number | null;
  offline: number | null;
  reason_start: string | null;
  reason_end: string | null;
}

const flag = (value: number | null): boolean | null => (value === null ? null : value === 1);
const bit = (value: boolean | null): number | null => (value === null ? null : value ? 1 : 0);

const toPlay = (r: PlayRow): Play => ({
  id: r.id,
  memberId: r.member_id,
  source: r.source,
  endMs: r.end_ms,
  trackUri: r.track_uri,
  trackKey: r.track_key,
  track: r.track,
  artist: r.artist,
  album: r.album,
  msPlayed: r.ms_played,
  durationMs: r.duration_ms,
  skipped: flag(r.skipped),
  shuffle: flag(r.shuffle),
  offline: flag(r.offline),
  reasonStart: r.reason_start,
  reasonEnd: r.reason_end,
});

const stagingValues = (jobId: string, p: PlayInput) => [
  jobId,
  p.memberId,
  p.source,
  p.endMs,
  p.trackUri,
  trackKey(p.artist, p.track),
  p.track,
  p.artist,
  p.album,
  p.msPlayed,
  p.durationMs,
  bit(p.skipped),
  bit(p.shuffle),
  bit(p.offline),
  p.reasonStart,
  p.reasonEnd,
];

/** Plays per commit slice: a few tens of ms on a Pi's SD card (scripts/bench-import.ts). */
export const DEFAULT_SLICE_ROWS = 2000;
/**
 * Plays staged per transaction. Staging a row costs more than moving one (the row is
 * built, keyed and inserted one statement at a time): 2,000 per transaction took up to
 * 84 ms at 300k staged plays (scripts/bench-import.ts); 250 take a few ms.
 */
const STAGE_ROWS = 250;

interface StagingKey {
  readonly endMs: number;
  readonly trackKey: string;
}
// Below and above every staged row's (end_ms, track_key).
const FIRST_KEY: StagingKey = { endMs: Number.MIN_SAFE_INTEGER, trackKey: '' };
const LAST_KEY: StagingKey = { endMs: Number.MAX_SAFE_INTEGER, trackKey: '' };

const SYNCHRONOUS_NORMAL = 1;

interface PendingRow {
  id: number;
  after_play_id: number;
}

/** Lets the relay answer sockets and timers between two slices. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The embedded store's `history` area. */
export class SqliteHistoryStore implements HistoryStore {
  private readonly db: SqliteDatabase;
  private readonly q: Statements;
  private readonly checkpoints: Checkpoints;

  /** `checkpoints`: who checkpoints the WAL while an import's transactions go in (see checkpointer.ts). */
  constructor(db: SqliteDatabase, checkpoints: Checkpoints = NO_CHECKPOINTS) {
    this.db = db;
    this.checkpoints = checkpoints;
    runMigrations(db, 'history', MIGRATIONS);
    this.q = prepare(db);
  }

  async addPlays(plays: readonly PlayInput[]): Promise<{ added: number; duplicate: number }> {
    const jobId = `poll:${randomUUID()}`;
    return writeTransaction(this.db, () => {
      this.stage(jobId, plays);
      const added = this.moveStaged(jobId);
      return { added, duplicate: plays.length - added };
    });
  }

  /** In transactions of STAGE_ROWS plays, the event loop running between them. */
  async stageImport(jobId: string, plays: readonly PlayInput[]): Promise<number> {
    return this.inSteps(async () => {
      let staged = 0;
      for (let from = 0; from < plays.length; from += STAGE_ROWS) {
        if (from > 0) await this.pause();
        staged += this.unsynced(() => this.stage(jobId, plays.slice(from, from + STAGE_ROWS)));
      }
      return staged;
    });
  }

  /**
   * Moves the staged plays into the plays in slices of `sliceRows`, each its own short
   * transaction, yielding the event loop between them. The plays carry the import's
   * pending id and stay invisible (VISIBLE) until the last transaction removes that id
   * and records the import: readers and the collector see all of it or none of it.
   */
  async commitImport(record: ImportRecord, options: CommitOptions = {}): Promise<{ imported: number; duplicate: number }> {
    return this.inSteps(() => this.commitInSlices(record, options));
  }

  private async commitInSlices(record: ImportRecord, options: CommitOptions): Promise<{ imported: number; duplicate: number }> {
    const sliceRows = options.sliceRows ?? DEFAULT_SLICE_ROWS;
    const afterPlayId = this.q.lastPlayId.get() as number;
    const pendingId = Number(this.q.openPending.run(record.jobId, record.memberId, afterPlayId, Date.now()).lastInsertRowid);
    const twins = new PolledTwins(this.q, record.memberId, pendingId, afterPlayId);
    let imported = 0;
    let staged = 0;
    // Source by source (the most precise first, COMMIT_ORDER): a play of a later source
    // sees the ones already moved from a more precise one.
    for (const source of COMMIT_ORDER) {
      let from = FIRST_KEY;
      for (let last = false; !last; ) {
        options.signal?.throwIfAborted();
        const slice = this.unsynced(() => {
          const moved = this.moveSlice(record, source, pendingId, from, sliceRows);
          return { ...moved, imported: moved.imported - twins.drop() };
        });
        imported += slice.imported;
        staged += slice.staged;
        ({ from, last } = slice);
        options.onSlice?.(staged);
        await this.pause();
      }
    }
    options.signal?.throwIfAborted();
    return writeTransaction(this.db, () => {
      imported -= twins.drop();
      const duplicate = staged - imported;
      const counts = { ...record.counts, imported, duplicate: (record.counts.duplicate ?? 0) + duplicate };
      this.q.insertImport.run(record.jobId, record.memberId, record.fileName, record.startedAt, Date.now(), JSON.stringify(counts));
      this.q.closePending.run(pendingId);
      return { imported, duplicate };
    });
  }

  async discardImport(jobId: string): Promise<void> {
    await this.inSteps(async () => {
      await this.dropStaging(this.q.deleteStagedSlice, jobId);
      const pending = this.q.pendingByJob.get(jobId) as PendingRow | undefined;
      if (pending) await this.dropPending(pending);
    });
  }

  async discardAllStaging(): Promise<number> {
    return this.inSteps(async () => {
      let dropped = await this.dropStaging(this.q.deleteAnyStagedSlice);
      for (const pending of this.q.allPending.all() as PendingRow[]) dropped += await this.dropPending(pending);
      return dropped;
    });
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
    const rows = statement.all(JSON.stringify(memberIds), range.fromMs, range.toMs, limit) as {
      track: string;
      artist: string;
      track_uri: string | null;
      plays: number;
      ms_played: number;
    }[];
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

  /** A run of short transactions, checkpointed by `checkpoints` meanwhile (between them: pause()). */
  private async inSteps<T>(work: () => Promise<T>): Promise<T> {
    this.checkpoints.hold();
    try {
      return await work();
    } finally {
      this.checkpoints.release();
    }
  }

  /** Between two transactions of a run: the relay's turn, and the WAL's checkpoint when one is due. */
  private async pause(): Promise<void> {
    await nextTurn();
    await this.checkpoints.due();
  }

  private stage(jobId: string, plays: readonly PlayInput[]): number {
    let staged = 0;
    for (const play of plays) staged += this.q.stage.run(...stagingValues(jobId, play)).changes;
    return staged;
  }

  /** Inside a transaction: one slice of a source's staged rows (keys after `from`) becomes pending plays. */
  private moveSlice(record: ImportRecord, source: PlaySource, pendingId: number, from: StagingKey, rows: number) {
    const bound = this.q.sliceBound.get(record.jobId, record.memberId, source, from.endMs, from.trackKey, rows - 1) as
      | { end_ms: number; track_key: string }
      | undefined;
    const to = bound ? { endMs: bound.end_ms, trackKey: bound.track_key } : LAST_KEY;
    const range = [record.jobId, record.memberId, source, from.endMs, from.trackKey, to.endMs, to.trackKey];
    const imported = this.q.moveSlice.run(Date.now(), pendingId, ...range, pendingId).changes;
    const staged = this.q.deleteStagedRange.run(...range).changes;
    return { imported, staged, from: to, last: !bound };
  }

  /**
   * A transaction of an unfinished import, committed without its own fsync: what it
   * writes is invisible, and a crash that loses it loses nothing visible. The last
   * commit of the import runs at the store's level (FULL by default), and its fsync of
   * the WAL makes every frame before it durable too.
   */
  private unsynced<T>(work: () => T): T {
    const level = this.db.pragma('synchronous', { simple: true }) as number;
    if (level <= SYNCHRONOUS_NORMAL) return writeTransaction(this.db, work);
    this.db.pragma(`synchronous = ${SYNCHRONOUS_NORMAL}`);
    try {
      return writeTransaction(this.db, work);
    } finally {
      this.db.pragma(`synchronous = ${level}`);
    }
  }

  /** Deletes staging rows a slice at a time (one job's, or any job's); returns how many. */
  private async dropStaging(statement: Database.Statement, jobId?: string): Promise<number> {
    let dropped = 0;
    for (let changes = -1; changes !== 0; await this.pause()) {
      changes = this.unsynced(() => (jobId === undefined ? statement.run(DEFAULT_SLICE_ROWS) : statement.run(jobId, DEFAULT_SLICE_ROWS)).changes);
      dropped += changes;
    }
    return dropped;
  }

  /**
   * Deletes an unfinished import's plays by id range, a slice at a time; its pending row
   * goes last, so that none of them is ever visible. Returns how many plays were dropped.
   */
  private async dropPending(pending: PendingRow): Promise<number> {
    const lastId = this.q.lastPlayId.get() as number;
    let dropped = 0;
    for (let from = pending.after_play_id; from < lastId; from += DEFAULT_SLICE_ROWS) {
      dropped += this.unsynced(() => this.q.deletePendingRange.run(from, from + DEFAULT_SLICE_ROWS, pending.id).changes);
      await this.pause();
    }
    this.q.closePending.run(pending.id);
    return dropped;
  }

  /** Inside a transaction: staged rows that match no stored play become plays; staging is emptied. */
  private moveStaged(jobId: string): number {
    const now = Date.now();
    let moved = 0;
    // One statement per source, so that a play staged from one source sees the rows
    // just moved from a more precise one (SQLite evaluates each INSERT … SELECT first).
    for (const source of COMMIT_ORDER) moved += this.q.moveStaged.run(now, jobId, source, null).changes;
    this.q.deleteStaged.run(jobId);
    return moved;
  }
}

type Statements = ReturnType<typeof prepare>;

/**
 * Polled plays stored while an import's slices go in cannot see its (invisible) plays, so
 * either may hold the same play: the polled one is kept. Each check looks at the plays
 * stored since the previous one only, so that no check grows with the import.
 */
class PolledTwins {
  private checkedId: number;

  constructor(
    private readonly q: Statements,
    private readonly memberId: string,
    private readonly pendingId: number,
    afterPlayId: number,
  ) {
    this.checkedId = afterPlayId;
  }

  /** Inside a transaction: deletes the import's plays that match a play stored since the last check; returns how many. */
  drop(): number {
    const dropped = this.q.dropPolledTwins.run({ pending: this.pendingId, member: this.memberId, after: this.checkedId }).changes;
    // After the delete: an id it freed at the top is handed out again, and must be checked then.
    this.checkedId = this.q.lastPlayId.get() as number;
    return dropped;
  }
}

/** The statements of sliced commits: staging ranges in (end_ms, track_key) order, pending imports. */
function prepareSlices(db: Database.Database) {
  const range = `s.job_id = ? AND s.member_id = ? AND s.source = ? AND (s.end_ms, s.track_key) > (?, ?) AND (s.end_ms, s.track_key) <= (?, ?)`;
  return {
    sliceBound: db.prepare(
      `SELECT end_ms, track_key FROM history_staging s
        WHERE s.job_id = ? AND s.member_id = ? AND s.source = ? AND (s.end_ms, s.track_key) > (?, ?)
        ORDER BY s.end_ms, s.track_key LIMIT 1 OFFSET ?`,
    ),
    moveSlice: db.prepare(
      `INSERT OR IGNORE INTO history_plays (${PLAY_COLUMNS}, added_at, import_id)
       SELECT ${PLAY_COLUMNS.split(',')
         .map((c) => `s.${c.trim()}`)
         .join(', ')}, ?, ?
         FROM history_staging s WHERE ${range} AND ${NOT_ALREADY_STORED}
        ORDER BY s.end_ms, s.track_key`,
    ),
    deleteStagedRange: db.prepare(`DELETE FROM history_staging AS s WHERE ${range}`),
    deleteStagedSlice: db.prepare('DELETE FROM history_staging WHERE rowid IN (SELECT rowid FROM history_staging WHERE job_id = ? LIMIT ?)'),
    deleteAnyStagedSlice: db.prepare('DELETE FROM history_staging WHERE rowid IN (SELECT rowid FROM history_staging LIMIT ?)'),
    lastPlayId: db.prepare('SELECT COALESCE(MAX(id), 0) FROM history_plays').pluck(),
    openPending: db.prepare('INSERT INTO history_pending (job_id, member_id, after_play_id, started_at) VALUES (?, ?, ?, ?)'),
    closePending: db.prepare('DELETE FROM history_pending WHERE id = ?'),
    pendingByJob: db.prepare('SELECT id, after_play_id FROM history_pending WHERE job_id = ?'),
    allPending: db.prepare('SELECT id, after_play_id FROM history_pending'),
    deletePendingRange: db.prepare('DELETE FROM history_plays WHERE id > ? AND id <= ? AND import_id = ?'),
    // The import's plays that match a visible play stored after id @after (the matching rule of areas/history.ts).
    // `+r.member_id`: the rows after @after are found by id; by member they would be all of the member's plays.
    dropPolledTwins: db.prepare(
      `DELETE FROM history_plays WHERE import_id = @pending AND id IN (
         SELECT s.id FROM history_plays r JOIN history_plays s
           ON s.member_id = r.member_id
          AND s.end_ms >= (r.end_ms / 60000 - 1) * 60000 AND s.end_ms < (r.end_ms / 60000 + 2) * 60000
          AND (s.track_key = r.track_key OR s.track_uri = r.track_uri)
          AND (s.source <> r.source OR s.end_ms = r.end_ms)
          AND s.import_id = @pending
        WHERE +r.member_id = @member AND r.id > @after AND r.import_id IS NULL)`,
    ),
  };
}

function prepare(db: Database.Database) {
  const topTracks = (order: string) =>
    db.prepare(
      `SELECT MIN(track) AS track, MIN(artist) AS artist, MAX(track_uri) AS track_uri, COUNT(*) AS plays, SUM(${LISTENED}) AS ms_played
       FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ?
      GROUP BY track_key ORDER BY ${order} DESC, track_key LIMIT ?`,
    );
  const topArtists = (order: string) =>
    db.prepare(
      `SELECT MIN(artist) AS artist, COUNT(*) AS plays, SUM(${LISTENED}) AS ms_played
       FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ?
      GROUP BY substr(track_key, 1, instr(track_key, char(31)) - 1) ORDER BY ${order} DESC, artist LIMIT ?`,
    );
  return {
    stage: db.prepare(`INSERT OR IGNORE INTO history_staging (job_id, ${PLAY_COLUMNS}) VALUES (${Array(16).fill('?').join(', ')})`),
    moveStaged: db.prepare(
      `INSERT OR IGNORE INTO history_plays (${PLAY_COLUMNS}, added_at)
       SELECT ${PLAY_COLUMNS.split(',')
         .map((c) => `s.${c.trim()}`)
         .join(', ')}, ?
         FROM history_staging s WHERE s.job_id = ? AND s.source = ? AND ${NOT_ALREADY_STORED}
        ORDER BY s.end_ms`,
    ),
    deleteStaged: db.prepare('DELETE FROM history_staging WHERE job_id = ?'),
    ...prepareSlices(db),
    insertImport: db.prepare('INSERT INTO history_imports (job_id, member_id, file_name, started_at, finished_at, counts) VALUES (?, ?, ?, ?, ?, ?)'),
    imports: db.prepare('SELECT * FROM history_imports WHERE member_id = ? ORDER BY started_at'),
    cursor: db.prepare('SELECT after_ms FROM history_cursors WHERE member_id = ?').pluck(),
    setCursor: db.prepare(
      `INSERT INTO history_cursors (member_id, after_ms, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (member_id) DO UPDATE SET after_ms = excluded.after_ms, updated_at = excluded.updated_at`,
    ),
    plays: db.prepare(`SELECT * FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ? ORDER BY end_ms DESC, id DESC LIMIT ?`),
    playsAfterId: db.prepare(`SELECT * FROM history_plays WHERE member_id = ? AND id > ? AND ${VISIBLE} ORDER BY id LIMIT ?`),
    countPlays: db.prepare(`SELECT COUNT(*) FROM history_plays WHERE member_id = ? AND ${VISIBLE}`).pluck(),
    topTracksByPlays: topTracks('plays'),
    topTracksByTime: topTracks('ms_played'),
    topArtistsByPlays: topArtists('plays'),
    topArtistsByTime: topArtists('ms_played'),
    buckets: db.prepare(
      `SELECT end_ms / CAST(? AS INTEGER) AS bucket, COUNT(*) AS plays, SUM(${LISTENED}) AS ms_played
         FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ? GROUP BY bucket ORDER BY bucket`,
    ),
    playedUris: db.prepare(`SELECT DISTINCT track_uri FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ? AND track_uri IS NOT NULL`).pluck(),
    playedKeys: db.prepare(`SELECT DISTINCT track_key FROM history_plays WHERE ${MEMBERS} AND end_ms >= ? AND end_ms < ?`).pluck(),
  };
}
