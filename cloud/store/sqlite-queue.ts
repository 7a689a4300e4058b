import type { ActiveQueue, QueueStore, StoredQueue, StoredQueueState } from './areas/queue.js';
import { runMigrations, type SqliteDatabase } from './sqlite.js';

const MIGRATIONS = [
  `CREATE TABLE queue_states (
     crew_id TEXT PRIMARY KEY,
     version INTEGER NOT NULL,
     announced_version INTEGER NOT NULL DEFAULT 0,
     due_at INTEGER,
     state TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX queue_states_active ON queue_states(due_at) WHERE due_at IS NOT NULL;`,
];

interface QueueRow {
  crew_id: string;
  version: number;
  announced_version: number;
  due_at: number | null;
  state: string;
}

/** The queue area of the embedded store. SQLite calls are synchronous; the interface is async for Redis. */
export class SqliteQueueStore implements QueueStore {
  private readonly db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.db = db;
    runMigrations(db, 'queue', MIGRATIONS);
  }

  async load(crewId: string): Promise<StoredQueue | null> {
    const row = this.db.prepare('SELECT * FROM queue_states WHERE crew_id = ?').get(crewId) as QueueRow | undefined;
    if (!row) return null;
    return { state: { version: row.version, json: row.state }, announcedVersion: row.announced_version };
  }

  async save(crewId: string, state: StoredQueueState, expectedVersion: number, dueAt: number | null): Promise<boolean> {
    const { json } = state;
    const now = Date.now();
    if (expectedVersion === 0) {
      const info = this.db
        .prepare('INSERT OR IGNORE INTO queue_states (crew_id, version, due_at, state, updated_at) VALUES (?, ?, ?, ?, ?)')
        .run(crewId, state.version, dueAt, json, now);
      return info.changes === 1;
    }
    const info = this.db
      .prepare('UPDATE queue_states SET version = ?, due_at = ?, state = ?, updated_at = ? WHERE crew_id = ? AND version = ?')
      .run(state.version, dueAt, json, now, crewId, expectedVersion);
    return info.changes === 1;
  }

  async markAnnounced(crewId: string, version: number): Promise<void> {
    this.db.prepare('UPDATE queue_states SET announced_version = MAX(announced_version, ?) WHERE crew_id = ?').run(version, crewId);
  }

  async listActive(): Promise<ActiveQueue[]> {
    const rows = this.db
      .prepare('SELECT crew_id, due_at, version > announced_version AS unannounced FROM queue_states WHERE due_at IS NOT NULL OR version > announced_version')
      .all() as Array<{ crew_id: string; due_at: number | null; unannounced: number }>;
    return rows.map((r) => ({ crewId: r.crew_id, dueAt: r.due_at, unannounced: r.unannounced === 1 }));
  }
}
