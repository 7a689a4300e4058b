/**
 * The `tokens` area of the Store: Spotify grants (one per gadget), phone sign-in sessions
 * and crews' own Spotify apps. Every secret in it is ciphertext from TokenCipher; the
 * store never sees a plaintext token. SQLite: cloud/store/sqlite-tokens.ts.
 */

export interface GrantRecord {
  readonly deviceId: string;
  /** Spotify's older user id (`id` on /me). */
  readonly spotifyUserId: string;
  /**
   * Spotify's stable account id (`account_id` on /me since May 2026): who the grant is.
   * Null for grants made before it existed, until the broker's next refresh reads it.
   */
  readonly spotifyAccountId: string | null;
  readonly displayName: string | null;
  /** The Spotify app the grant was made with; refreshes must use the same one. */
  readonly clientId: string;
  readonly refreshTokenEnc: string;
  readonly accessTokenEnc: string | null;
  readonly accessExpiresAt: number;
  readonly scope: string;
  readonly status: 'live' | 'dead';
  readonly deadReason: 'revoked' | 'app_changed' | null;
  /** Until when a sign-in completed while the gadget was offline is still announced to it. */
  readonly notifyUntil: number | null;
  readonly updatedAt: number;
}

export type SigninStatus = 'open' | 'redirected' | 'exchanging' | 'completed' | 'replaced';

export interface SigninSessionRecord {
  /** `ABCD-EFGH`: shown on the gadget and in the link PUBLIC_URL/s/ABCDEFGH. */
  readonly code: string;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly crewId: string | null;
  readonly crewCode: string | null;
  readonly crewName: string | null;
  readonly clientId: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** sha256 of the OAuth `state` of the current attempt (the state itself is never stored). */
  readonly stateHash: string | null;
  readonly verifierEnc: string | null;
  readonly status: SigninStatus;
}

export interface CrewAppRecord {
  readonly crewId: string;
  readonly clientId: string;
  readonly clientSecretEnc: string | null;
  readonly updatedAt: number;
}

export interface TokenUpdate {
  readonly refreshTokenEnc: string;
  readonly accessTokenEnc: string;
  readonly accessExpiresAt: number;
}

export interface TokenStore {
  getGrant(deviceId: string): Promise<GrantRecord | null>;
  /** Creates or replaces the gadget's grant (a new sign-in). */
  saveGrant(grant: GrantRecord): Promise<void>;
  /**
   * Stores refreshed tokens only if the grant still holds `expectedRefreshEnc` (another
   * relay process may have refreshed first). Returns false when it did not.
   */
  updateTokens(deviceId: string, expectedRefreshEnc: string, update: TokenUpdate): Promise<boolean>;
  /** Marks the grant dead, unless it changed since `expectedRefreshEnc` was read. */
  markGrantDead(deviceId: string, reason: 'revoked' | 'app_changed', expectedRefreshEnc?: string): Promise<boolean>;
  clearNotify(deviceId: string): Promise<void>;
  /** Fills in the stable account id of a grant made before Spotify had one. */
  setAccountId(deviceId: string, accountId: string): Promise<void>;
  /** Device ids with a live grant. */
  listLiveGrants(): Promise<string[]>;

  /** Stores a new session; the device's older open sessions become `replaced`. */
  createSession(session: SigninSessionRecord): Promise<void>;
  getSession(code: string): Promise<SigninSessionRecord | null>;
  getSessionByState(stateHash: string): Promise<SigninSessionRecord | null>;
  /** Records a new authorize attempt on an open or redirected session; false otherwise. */
  beginAttempt(code: string, stateHash: string, verifierEnc: string): Promise<boolean>;
  /** Single use: moves the session with this state from redirected to exchanging; null when none did. */
  takeSessionByState(stateHash: string): Promise<SigninSessionRecord | null>;
  /** After the exchange: completed, or back to open (state cleared) when it failed. */
  finishSession(code: string, status: 'completed' | 'open'): Promise<void>;
  pruneSessions(expiredBefore: number): Promise<number>;

  /**
   * Legacy hand-off (first/second-generation gadgets): tokens for a gadget that was offline
   * when its sign-in completed, as ciphertext, kept until `expiresAt`. One per device (a newer replaces it).
   */
  holdLegacyTokens(deviceId: string, tokensEnc: string, expiresAt: number): Promise<void>;
  /** Removes the device's held tokens and returns them when still within their time (expired ones are dropped). */
  takeLegacyTokens(deviceId: string, now: number): Promise<string | null>;

  getCrewApp(crewId: string): Promise<CrewAppRecord | null>;
  saveCrewApp(app: CrewAppRecord): Promise<void>;
  removeCrewApp(crewId: string): Promise<boolean>;
}
