import type { McpTokenRecord, McpTokenStore } from '../mcp/mcp-token-store.js';
import { runMigrations, type SqliteDatabase } from './sqlite.js';

/** The `mcp` area on SQLite (after the crews area, whose devices table it references). */
const MIGRATIONS = [
  `CREATE TABLE mcp_tokens (
     token_hash TEXT PRIMARY KEY,
     device_id TEXT NOT NULL REFERENCES devices(device_id),
     created_at INTEGER NOT NULL
   );
   CREATE INDEX mcp_tokens_device ON mcp_tokens (device_id);`,
];

interface TokenRow { token_hash: string; device_id: string; created_at: number }

export class SqliteMcpTokenStore implements McpTokenStore {
  constructor(private readonly db: SqliteDatabase) {
    runMigrations(db, 'mcp', MIGRATIONS);
  }

  async saveToken(record: McpTokenRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO mcp_tokens (token_hash, device_id, created_at) VALUES (?, ?, ?)')
      .run(record.tokenHash, record.deviceId, record.createdAt);
  }

  async findToken(tokenHash: string): Promise<McpTokenRecord | null> {
    const row = this.db.prepare('SELECT * FROM mcp_tokens WHERE token_hash = ?').get(tokenHash) as TokenRow | undefined;
    return row ? { tokenHash: row.token_hash, deviceId: row.device_id, createdAt: row.created_at } : null;
  }

  async revokeTokens(deviceId: string): Promise<number> {
    return this.db.prepare('DELETE FROM mcp_tokens WHERE device_id = ?').run(deviceId).changes;
  }
}
