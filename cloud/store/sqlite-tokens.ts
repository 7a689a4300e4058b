import type { CrewAppRecord, GrantRecord, SigninSessionRecord, TokenStore, TokenUpdate } from './areas/tokens.js';
import { runMigrations, type SqliteDatabase, writeTransaction } from './sqlite.js';

/** The `tokens` area on SQLite. Columns ending in _enc hold TokenCipher ciphertext only. */
const MIGRATIONS = [
  `CREATE TABLE spotify_grants (
     device_id TEXT PRIMARY KEY,
     spotify_user_id TEXT NOT NULL,
     display_name TEXT,
     client_id TEXT NOT NULL,
     refresh_token_enc TEXT NOT NULL,
     access_token_enc TEXT,
     access_expires_at INTEGER NOT NULL,
     scope TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('live', 'dead')),
     dead_reason TEXT,
     notify_until INTEGER,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE spotify_signin_sessions (
     code TEXT PRIMARY KEY,
     device_id TEXT NOT NULL,
     device_name TEXT NOT NULL,
     crew_id TEXT,
     crew_code TEXT,
     crew_name TEXT,
     client_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     state_hash TEXT UNIQUE,
     verifier_enc TEXT,
     status TEXT NOT NULL CHECK (status IN ('open', 'redirected', 'exchanging', 'completed', 'replaced'))
   );
   CREATE INDEX spotify_signin_by_device ON spotify_signin_sessions(device_id, status);
   CREATE TABLE spotify_crew_apps (
     crew_id TEXT PRIMARY KEY,
     client_id TEXT NOT NULL,
     client_secret_enc TEXT,
     updated_at INTEGER NOT NULL
   );`,
  // Legacy Spotify hand-off: tokens held (encrypted) for an offline first/second-generation gadget.
  `CREATE TABLE spotify_legacy_held (
     device_id TEXT PRIMARY KEY,
     tokens_enc TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  // Spotify's stable `account_id` (on /me since May 2026). Grants made before it have NULL
  // here and keep their old `id` in spotify_user_id; the token broker fills the account id
  // in at their next refresh (one /me call), so every stored grant migrates by itself.
  `ALTER TABLE spotify_grants ADD COLUMN spotify_account_id TEXT`,
];

interface GrantRow {
  device_id: string;
  spotify_user_id: string;
  spotify_account_id: string | null;
  display_name: string | null;
  client_id: string;
  refresh_token_enc: string;
  access_token_enc: string | null;
  access_expires_at: number;
  scope: string;
  status: 'live' | 'dead';
  dead_reason: GrantRecord['deadReason'];
  notify_until: number | null;
  updated_at: number;
}

interface SessionRow {
  code: string;
  device_id: string;
  device_name: string;
  crew_id: string | null;
  crew_code: string | null;
  crew_name: string | null;
  client_id: string;
  created_at: number;
  expires_at: number;
  state_hash: string | null;
  verifier_enc: string | null;
  status: SigninSessionRecord['status'];
}

const grantFrom = (r: GrantRow): GrantRecord => ({
  deviceId: r.device_id,
  spotifyUserId: r.spotify_user_id,
  spotifyAccountId: r.spotify_account_id,
  displayName: r.display_name,
  clientId: r.client_id,
  refreshTokenEnc: r.refresh_token_enc,
  accessTokenEnc: r.access_token_enc,
  accessExpiresAt: r.access_expires_at,
  scope: r.scope,
  status: r.status,
  deadReason: r.dead_reason,
  notifyUntil: r.notify_until,
  updatedAt: r.updated_at,
});

const sessionFrom = (r: SessionRow): SigninSessionRecord => ({
  code: r.code,
  deviceId: r.device_id,
  deviceName: r.device_name,
  crewId: r.crew_id,
  crewCode: r.crew_code,
  crewName: r.crew_name,
  clientId: r.client_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  stateHash: r.state_hash,
  verifierEnc: r.verifier_enc,
  status: r.status,
});

export class SqliteTokenStore implements TokenStore {
  constructor(private readonly db: SqliteDatabase) {
    runMigrations(db, 'tokens', MIGRATIONS);
  }

  async getGrant(deviceId: string): Promise<GrantRecord | null> {
    const row = this.db.prepare('SELECT * FROM spotify_grants WHERE device_id = ?').get(deviceId) as GrantRow | undefined;
    return row ? grantFrom(row) : null;
  }

  async saveGrant(g: GrantRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO spotify_grants (device_id, spotify_user_id, spotify_account_id, display_name, client_id, refresh_token_enc,
         access_token_enc, access_expires_at, scope, status, dead_reason, notify_until, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        g.deviceId,
        g.spotifyUserId,
        g.spotifyAccountId,
        g.displayName,
        g.clientId,
        g.refreshTokenEnc,
        g.accessTokenEnc,
        g.accessExpiresAt,
        g.scope,
        g.status,
        g.deadReason,
        g.notifyUntil,
        g.updatedAt,
      );
  }

  async setAccountId(deviceId: string, accountId: string): Promise<void> {
    this.db.prepare('UPDATE spotify_grants SET spotify_account_id = ? WHERE device_id = ?').run(accountId, deviceId);
  }

  async updateTokens(deviceId: string, expectedRefreshEnc: string, u: TokenUpdate): Promise<boolean> {
    const result = this.db
      .prepare(
        `UPDATE spotify_grants SET refresh_token_enc = ?, access_token_enc = ?, access_expires_at = ?, updated_at = ?
       WHERE device_id = ? AND refresh_token_enc = ? AND status = 'live'`,
      )
      .run(u.refreshTokenEnc, u.accessTokenEnc, u.accessExpiresAt, Date.now(), deviceId, expectedRefreshEnc);
    return result.changes === 1;
  }

  async markGrantDead(deviceId: string, reason: 'revoked' | 'app_changed', expectedRefreshEnc?: string): Promise<boolean> {
    const result = this.db
      .prepare(
        `UPDATE spotify_grants SET status = 'dead', dead_reason = ?, access_token_enc = NULL, notify_until = NULL, updated_at = ?
       WHERE device_id = ? AND status = 'live' AND (? IS NULL OR refresh_token_enc = ?)`,
      )
      .run(reason, Date.now(), deviceId, expectedRefreshEnc ?? null, expectedRefreshEnc ?? null);
    return result.changes === 1;
  }

  async clearNotify(deviceId: string): Promise<void> {
    this.db.prepare('UPDATE spotify_grants SET notify_until = NULL WHERE device_id = ?').run(deviceId);
  }

  async listLiveGrants(): Promise<string[]> {
    return this.db.prepare("SELECT device_id FROM spotify_grants WHERE status = 'live' ORDER BY device_id").pluck().all() as string[];
  }

  async createSession(s: SigninSessionRecord): Promise<void> {
    writeTransaction(this.db, () => {
      this.db
        .prepare("UPDATE spotify_signin_sessions SET status = 'replaced', verifier_enc = NULL WHERE device_id = ? AND status IN ('open', 'redirected')")
        .run(s.deviceId);
      this.db
        .prepare(
          `INSERT INTO spotify_signin_sessions (code, device_id, device_name, crew_id, crew_code, crew_name, client_id,
           created_at, expires_at, state_hash, verifier_enc, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(s.code, s.deviceId, s.deviceName, s.crewId, s.crewCode, s.crewName, s.clientId, s.createdAt, s.expiresAt, s.stateHash, s.verifierEnc, s.status);
    });
  }

  async getSession(code: string): Promise<SigninSessionRecord | null> {
    const row = this.db.prepare('SELECT * FROM spotify_signin_sessions WHERE code = ?').get(code) as SessionRow | undefined;
    return row ? sessionFrom(row) : null;
  }

  async getSessionByState(stateHash: string): Promise<SigninSessionRecord | null> {
    const row = this.db.prepare('SELECT * FROM spotify_signin_sessions WHERE state_hash = ?').get(stateHash) as SessionRow | undefined;
    return row ? sessionFrom(row) : null;
  }

  async beginAttempt(code: string, stateHash: string, verifierEnc: string): Promise<boolean> {
    const result = this.db
      .prepare(
        `UPDATE spotify_signin_sessions SET state_hash = ?, verifier_enc = ?, status = 'redirected'
       WHERE code = ? AND status IN ('open', 'redirected')`,
      )
      .run(stateHash, verifierEnc, code);
    return result.changes === 1;
  }

  async takeSessionByState(stateHash: string): Promise<SigninSessionRecord | null> {
    const row = this.db
      .prepare(`UPDATE spotify_signin_sessions SET status = 'exchanging' WHERE state_hash = ? AND status = 'redirected' RETURNING *`)
      .get(stateHash) as SessionRow | undefined;
    return row ? sessionFrom(row) : null;
  }

  async finishSession(code: string, status: 'completed' | 'open'): Promise<void> {
    // A failed exchange clears the attempt: its state must not work a second time.
    this.db
      .prepare(
        `UPDATE spotify_signin_sessions SET status = ?, verifier_enc = NULL,
         state_hash = CASE WHEN ? = 'open' THEN NULL ELSE state_hash END WHERE code = ?`,
      )
      .run(status, status, code);
  }

  async pruneSessions(expiredBefore: number): Promise<number> {
    this.db.prepare('DELETE FROM spotify_legacy_held WHERE expires_at < ?').run(expiredBefore);
    return this.db.prepare('DELETE FROM spotify_signin_sessions WHERE expires_at < ?').run(expiredBefore).changes;
  }

  async holdLegacyTokens(deviceId: string, tokensEnc: string, expiresAt: number): Promise<void> {
    this.db
      .prepare(`INSERT INTO spotify_legacy_held (device_id, tokens_enc, expires_at) VALUES (?, ?, ?)
        ON CONFLICT(device_id) DO UPDATE SET tokens_enc = excluded.tokens_enc, expires_at = excluded.expires_at`)
      .run(deviceId, tokensEnc, expiresAt);
  }

  async takeLegacyTokens(deviceId: string, now: number): Promise<string | null> {
    const row = this.db.prepare('DELETE FROM spotify_legacy_held WHERE device_id = ? RETURNING tokens_enc, expires_at').get(deviceId) as
      | { tokens_enc: string; expires_at: number }
      | undefined;
    return row && row.expires_at > now ? row.tokens_enc : null;
  }

  async getCrewApp(crewId: string): Promise<CrewAppRecord | null> {
    const row = this.db.prepare('SELECT * FROM spotify_crew_apps WHERE crew_id = ?').get(crewId) as
      | { crew_id: string; client_id: string; client_secret_enc: string | null; updated_at: number }
      | undefined;
    return row ? { crewId: row.crew_id, clientId: row.client_id, clientSecretEnc: row.client_secret_enc, updatedAt: row.updated_at } : null;
  }

  async saveCrewApp(app: CrewAppRecord): Promise<void> {
    this.db
      .prepare('INSERT OR REPLACE INTO spotify_crew_apps (crew_id, client_id, client_secret_enc, updated_at) VALUES (?, ?, ?, ?)')
      .run(app.crewId, app.clientId, app.clientSecretEnc, app.updatedAt);
  }

  async removeCrewApp(crewId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM spotify_crew_apps WHERE crew_id = ?').run(crewId).changes === 1;
  }
}
