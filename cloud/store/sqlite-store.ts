import { openSqlite, type SqliteDatabase } from './sqlite.js';
import { SqliteCrewStore } from './sqlite-crews.js';
import { SqliteHistoryStore } from './sqlite-history.js';
import { SqliteMcpTokenStore } from './sqlite-mcp.js';
import { SqliteQueueStore } from './sqlite-queue.js';
import { SqliteTelegramStore } from './sqlite-telegram.js';
import { SqliteTokenStore } from './sqlite-tokens.js';
import type { Store } from './store.js';

/**
 * The embedded store: one SQLite file shared by every area. Each area's class takes the
 * Database handle, runs its own migrations in its constructor and implements its part of Store.
 * Feature areas add a line below (e.g. `tokens: new SqliteTokenStore(db)`).
 */
function openAreas(db: SqliteDatabase) {
  return {
    crews: new SqliteCrewStore(db),
    history: new SqliteHistoryStore(db),
    queue: new SqliteQueueStore(db),
    tokens: new SqliteTokenStore(db),
    telegram: new SqliteTelegramStore(db),
    mcp: new SqliteMcpTokenStore(db),
  };
}

export function openSqliteStore(file: string): Store & { readonly db: SqliteDatabase } {
  const db = openSqlite(file);
  let areas: ReturnType<typeof openAreas>;
  try {
    areas = openAreas(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return {
    kind: 'sqlite',
    db,
    ...areas,
    async ping() {
      if (!db.open) throw new Error('The SQLite store is closed.');
      db.prepare('SELECT 1').get();
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
