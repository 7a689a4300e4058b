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
  // Members list and revoke their own tokens on the crew page: an id to name one by, a name, last use.
  `ALTER TABLE mcp_tokens ADD COLUMN token_id TEXT;
   ALTER TABLE mcp_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
   ALTER TABLE mcp_tokens ADD COLUMN last_used_at INTEGER;
   UPDATE mcp_tokens SET token_id = substr(token_hash, 1, 16);
   CREATE UNIQUE INDEX mcp_tokens_id ON mcp_tokens (token_id);`,
];

interface TokenRow {
  token_id: string;
  token_hash: string;
  device_id: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

const recordOf = (row: TokenRow): McpTokenRecord => ({
  tokenId: row.token_id,
  tokenHash: row.token_hash,
  deviceId: row.device_id,
  name: row.name,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

export class SqliteMcpTokenStore implements McpTokenStore {
  constructor(private readonly db: SqliteDatabase) {
    runMigrations(db, 'mcp', MIGRATIONS);
  }

  async saveToken(record: Omit<McpTokenRecord, 'lastUsedAt'>): Promise<void> {
    this.db
      .prepare('INSERT INTO mcp_tokens (token_id, token_hash, device_id, name, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(record.tokenId, record.tokenHash, record.deviceId, record.name, record.createdAt);
  }

  async findToken(tokenHash: string): Promise<McpTokenRecord | null> {
    const row = this.db.prepare('SELECT * FROM mcp_tokens WHERE token_hash = ?').get(tokenHash) as TokenRow | undefined;
    return row ? recordOf(row) : null;
  }

  async listTokens(deviceId: string): Promise<McpTokenRecord[]> {
    const rows = this.db.prepare('SELECT * FROM mcp_tokens WHERE device_id = ? ORDER BY created_at DESC, token_id').all(deviceId) as TokenRow[];
    return rows.map(recordOf);
  }

  async touchToken(tokenHash: string, at: number): Promise<void> {
    this.db.prepare('UPDATE mcp_tokens SET last_used_at = ? WHERE token_hash = ?').run(at, tokenHash);
  }

  async revokeToken(deviceId: string, tokenId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM mcp_tokens WHERE device_id = ? AND token_id = ?').run(deviceId, tokenId).changes > 0;
  }

  async revokeTokens(deviceId: string): Promise<number> {
    return this.db.prepare('DELETE FROM mcp_tokens WHERE device_id = ?').run(deviceId).changes;
  }
}
