import type { McpStore, McpTokenRecord, MixtapeRecord } from './areas/mcp.js';
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
  // The weekly crew mixtapes members' assistants made: one per member and week.
  `CREATE TABLE mcp_mixtapes (
     device_id TEXT NOT NULL REFERENCES devices(device_id),
     week TEXT NOT NULL,
     playlist_id TEXT NOT NULL,
     playlist_uri TEXT NOT NULL,
     url TEXT,
     name TEXT NOT NULL,
     uris TEXT NOT NULL,
     added INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (device_id, week)
   );`,
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

interface MixtapeRow {
  device_id: string;
  week: string;
  playlist_id: string;
  playlist_uri: string;
  url: string | null;
  name: string;
  uris: string;
  added: number;
  created_at: number;
}

export class SqliteMcpStore implements McpStore {
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

  async findMixtape(deviceId: string, week: string): Promise<MixtapeRecord | null> {
    const row = this.db.prepare('SELECT * FROM mcp_mixtapes WHERE device_id = ? AND week = ?').get(deviceId, week) as MixtapeRow | undefined;
    if (!row) return null;
    return {
      deviceId: row.device_id,
      week: row.week,
      playlistId: row.playlist_id,
      playlistUri: row.playlist_uri,
      url: row.url,
      name: row.name,
      uris: JSON.parse(row.uris) as string[],
      added: row.added,
      createdAt: row.created_at,
    };
  }

  async saveMixtape(record: MixtapeRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO mcp_mixtapes (device_id, week, playlist_id, playlist_uri, url, name, uris, added, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
        record.deviceId,
        record.week,
        record.playlistId,
        record.playlistUri,
        record.url,
        record.name,
        JSON.stringify(record.uris),
        record.added,
        record.createdAt,
      );
  }

  async noteMixtapeAdded(deviceId: string, week: string, added: number): Promise<void> {
    this.db.prepare('UPDATE mcp_mixtapes SET added = ? WHERE device_id = ? AND week = ?').run(added, deviceId, week);
  }
}
