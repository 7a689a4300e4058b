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
import { storeUnavailable, type Store } from './store.js';

/** Below this much free space the store counts as unwritable: a commit may need a few new pages. */
const MIN_FREE_BYTES = 64 * 1024;

/**
 * The embedded store: one SQLite file shared by every area. Each area's class takes the
 * Database handle, runs its own migrations in its constructor and implements its part of Store.
 * Feature areas add a line below (e.g. `tokens: new SqliteTokenStore(db)`).
 */
function openAreas(db: SqliteDatabase, checkpoints: Checkpoints) {
  return {
    ...directoryAndLog(new SqliteCrewStore(db)),
    history: new SqliteHistoryStore(db, checkpoints),
    queue: new SqliteQueueStore(db),
    tokens: new SqliteTokenStore(db),
    telegram: new SqliteTelegramStore(db),
    mcp: new SqliteMcpStore(db),
  };
}

export function openSqliteStore(file: string, options: SqliteOptions = {}): Store & { readonly db: SqliteDatabase } {
  const db = openSqlite(file, options);
  // History imports' long runs of writes checkpoint the WAL in a worker, not on the event loop.
  const checkpoints = file === ':memory:' ? NO_CHECKPOINTS : new WorkerCheckpoints(db, file);
  let areas: ReturnType<typeof openAreas>;
  try {
    areas = openAreas(db, checkpoints);
  } catch (error) {
    db.close();
    throw error;
  }
  db.exec('CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL)');
  const probe = db.prepare('INSERT INTO store_probe (id, at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at');
  return {
    kind: 'sqlite',
    db,
    ...areas,
    /**
     * Readiness is the ability to write: a one-row transaction (read-only files, SQLITE_FULL)
     * and the file system's free space (rewriting a page already on disk succeeds on a full
     * disk, where the next growing commit fails).
     */
    async ping() {
      if (!db.open) throw new ProtocolError('unavailable', 'The SQLite store is closed.');
      try {
        probe.run(Date.now());
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
      await checkpoints.close();
      if (db.open) db.close();
    },
  };
}

/** The directory and the event log share one class (and its transactions) in SQLite. */
function directoryAndLog(crews: SqliteCrewStore) {
  return { crews, log: crews };
}
