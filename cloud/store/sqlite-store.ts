import fs from 'node:fs/promises';
import path from 'node:path';
import { ProtocolError } from '../../protocol/index.js';
import { NO_CHECKPOINTS, WorkerCheckpoints, type Checkpoints } from './checkpointer.js';
import { openSqlite, type SqliteDatabase, type SqliteOptions } from './sqlite.js';
import { SqliteCrewStore } from './sqlite-crews.js';
import { SqliteHistoryStore } from './sqlite-history.js';
import { SqliteMcpStore } from './sqlite-mcp.js';
import { SqliteQueueStore } from './sqlite-queue.js';
import { SqliteTelegramStore } from './sqlite-telegram.js';
import { SqliteTokenStore } from './sqlite-tokens.js';
import { ThreadWriter, type LogWriter } from './sqlite-writer.js';
import { storeUnavailable, type Store } from './store.js';

/** Below this much free space the store counts as unwritable: a commit may need a few new pages. */
const MIN_FREE_BYTES = 64 * 1024;

/**
 * The embedded store: one SQLite file shared by every area. Each area's class takes the
 * Database handle, runs its own migrations in its constructor and implements its part of Store.
 * Feature areas add a line below (e.g. `tokens: new SqliteTokenStore(db)`).
 */
function openAreas(db: SqliteDatabase, checkpoints: Checkpoints, writer: LogWriter | undefined) {
  return {
    ...directoryAndLog(new SqliteCrewStore(db, writer)),
    history: new SqliteHistoryStore(db, checkpoints),
    queue: new SqliteQueueStore(db),
    tokens: new SqliteTokenStore(db),
    telegram: new SqliteTelegramStore(db),
    mcp: new SqliteMcpStore(db),
  };
}

export interface SqliteStoreOptions extends SqliteOptions {
  /** Told when the writer thread fails (the store's connection then writes the log again). */
  readonly onWriterFailure?: (error: Error) => void;
}

export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Store & { readonly db: SqliteDatabase } {
  const db = openSqlite(file, options);
  const inFile = file !== ':memory:';
  // History imports' long runs of writes checkpoint the WAL in a worker, not on the event loop.
  const checkpoints = inFile ? new WorkerCheckpoints(db, file) : NO_CHECKPOINTS;
  // The crew log's commits (and their fsyncs) run on the writer thread, not on the event loop.
  const writer = inFile ? new ThreadWriter(db, file, { synchronous: options.synchronous }, options.onWriterFailure ?? (() => undefined)) : undefined;
  let areas: ReturnType<typeof openAreas>;
  try {
    db.exec('CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL)');
    areas = openAreas(db, checkpoints, writer);
  } catch (error) {
    db.close();
    throw error;
  }
  return {
    kind: 'sqlite',
    db,
    ...areas,
    /**
     * Readiness is the ability to write: a one-row transaction where the crew log is written
     * (the writer thread; read-only files, SQLITE_FULL) and the file system's free space
     * (rewriting a page already on disk succeeds on a full disk, where the next growing commit fails).
     */
    async ping() {
      if (!db.open) throw new ProtocolError('unavailable', 'The SQLite store is closed.');
      try {
        await areas.crews.probeWriter();
      } catch (error) {
        throw storeUnavailable(error) ?? error;
      }
      if (file === ':memory:') return;
      const space = await fs.statfs(path.dirname(file));
      if (space.bavail * space.bsize < MIN_FREE_BYTES) {
        throw new ProtocolError('unavailable', `The relay's disk is full (${space.bavail * space.bsize} bytes free where its store lives); free some space.`);
      }
    },
    async close() {
      await writer?.close();
      await checkpoints.close();
      if (db.open) db.close();
    },
  };
}

/** The directory and the event log share one class (and its transactions) in SQLite. */
function directoryAndLog(crews: SqliteCrewStore) {
  return { crews, log: crews };
}
