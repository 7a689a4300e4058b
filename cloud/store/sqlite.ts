import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

/**
 * `full`: every commit is fsynced before the relay acknowledges it (survives power loss).
 * `normal`: in WAL mode a commit is in the OS's cache when acknowledged and fsynced at
 * checkpoints: it survives the relay's crash or SIGKILL, not an OS crash or power loss.
 */
export type SqliteSync = 'full' | 'normal';

export interface SqliteOptions {
  readonly synchronous?: SqliteSync;
}

/**
 * Opens (or creates) the embedded store's file. WAL lets readers run beside the writer;
 * synchronous (FULL by default) decides which failures an acknowledged commit survives.
 */
export function openSqlite(file: string, options: SqliteOptions = {}): SqliteDatabase {
  if (file !== ':memory:') createPrivateFile(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  configureConnection(db, options);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    area TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (area, version)
  )`);
  return db;
}

/**
 * What every connection to the file sets (the store's own and the writer thread's): the
 * synchronous level, foreign keys, and how long a write waits for the other connection's
 * write lock before it gives up with SQLITE_BUSY.
 */
export function configureConnection(db: SqliteDatabase, options: SqliteOptions): void {
  db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
}

/**
 * A transaction that writes: IMMEDIATE takes the write lock before its first read, so the
 * writer thread's commit (sqlite-writer.ts) cannot land between this one's reads and writes and
 * fail it with SQLITE_BUSY half-way; it waits for the lock (busy_timeout) instead.
 */
export function writeTransaction<T>(db: SqliteDatabase, work: () => T): T {
  return db.transaction(work).immediate();
}

/**
 * The data dir is 0700 and the database 0600 whatever the umask: it holds device secrets'
 * hashes and (encrypted) Spotify tokens. SQLite gives its -wal and -shm files the mode of
 * the database file. An existing directory the operator chose is left as it is.
 */
function createPrivateFile(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  fs.chmodSync(file, 0o600);
}

/**
 * Applies an area's migrations that are not yet recorded, each in its own transaction.
 * Version N is `sqlList[N-1]`: an area appends to its list and never edits an applied entry.
 * Returns how many were applied now.
 */
export function runMigrations(db: SqliteDatabase, area: string, sqlList: readonly string[]): number {
  const applied = db.prepare('SELECT version FROM schema_migrations WHERE area = ?').pluck().all(area) as number[];
  const done = new Set(applied);
  const record = db.prepare('INSERT INTO schema_migrations (area, version, applied_at) VALUES (?, ?, ?)');
  let count = 0;
  sqlList.forEach((sql, index) => {
    const version = index + 1;
    if (done.has(version)) return;
    writeTransaction(db, () => {
      db.exec(sql);
      record.run(area, version, Date.now());
    });
    count += 1;
  });
  return count;
}
