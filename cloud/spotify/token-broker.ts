import type { Logger } from '../log.js';
import type { OutboundMessage, SpotifySigninReason } from '../../protocol/index.js';
import { tokenFingerprint } from '../../protocol/index.js';
import { SpotifyError } from '../../spotify/spotify-http.js';
import type { SpotifyAccounts, SpotifyApp, TokenAnswer } from './accounts.js';
import type { SpotifyApps } from './spotify-apps.js';
import type { TokenCipher } from './token-cipher.js';
import type { GrantRecord, TokenStore } from '../store/areas/tokens.js';

export interface AccessToken {
  readonly accessToken: string;
  /** ms since epoch. */
  readonly expiresAt: number;
  readonly apiUrl: string;
}

const SIGNIN_SENTENCES: Record<SpotifySigninReason, string> = {
  no_grant: 'This gadget is not signed in to Spotify yet; scan the code on its screen to sign in.',
  revoked: 'Spotify no longer accepts this sign-in (it was revoked or is older than Spotify allows); sign in again.',
  app_changed: "The crew's Spotify app changed since this gadget signed in; sign in again.",
};

/** The gadget must be signed in (again): it should show the sign-in QR. */
export class SigninRequiredError extends Error {
  /** True when the gadget was already told (spotify_signin_required) as the grant died. */
  notified = false;
  constructor(readonly reason: SpotifySigninReason) {
    super(SIGNIN_SENTENCES[reason]);
    this.name = 'SigninRequiredError';
  }
}

export function signinRequiredMessage(reason: SpotifySigninReason): OutboundMessage {
  return { type: 'spotify_signin_required', reason, message: SIGNIN_SENTENCES[reason] };
}

export interface TokenBrokerDeps {
  readonly store: TokenStore;
  readonly cipher: TokenCipher;
  readonly accounts: SpotifyAccounts;
  readonly apps: SpotifyApps;
  readonly apiUrl: string;
  readonly log: Logger;
  /** The crew a device is in now (its app decides how to refresh). */
  readonly crewOf: (deviceId: string) => Promise<string | null>;
  /** Tells a connected gadget; returns false when it is not connected to this process. */
  readonly notifyDevice: (deviceId: string, message: OutboundMessage) => boolean;
  readonly now?: () => number;
  /** Tokens expiring within this margin are refreshed before they are handed out. */
  readonly refreshMarginMs?: number;
  /** Told of every failed refresh: `revoked`, `app_changed`, or the SpotifyError code. */
  readonly onRefreshFailed?: (reason: string) => void;
  /** GET /me with the member's token: fills in the account id of grants older than `account_id`. */
  readonly profileOf?: (deviceId: string, accessToken: string) => Promise<{ account_id?: string }>;
}

const refreshContext = (deviceId: string) => `refresh:${deviceId}`;
const accessContext = (deviceId: string) => `access:${deviceId}`;

/**
 * Hands out short-lived Spotify access tokens per gadget, refreshing ahead of expiry.
 * Concurrent requests for one gadget share one refresh (single flight in this process;
 * across processes the store's compare-and-set on the refresh token decides, and a loser
 * takes the winner's tokens instead of reporting a false invalid_grant).
 *
 * Other relay features (the history collector) use `accessToken(deviceId)` and
 * `signedInMembers()`.
 */
export class TokenBroker {
  private readonly inflight = new Map<string, Promise<AccessToken>>();
  private readonly now: () => number;
  private readonly marginMs: number;

  constructor(private readonly deps: TokenBrokerDeps) {
    this.now = deps.now ?? Date.now;
    this.marginMs = deps.refreshMarginMs ?? 5 * 60_000;
  }

  /** A valid access token for the gadget; throws SigninRequiredError or SpotifyError. */
  async accessTokenFor(deviceId: string): Promise<AccessToken> {
    const grant = await this.liveGrant(deviceId);
    const cached = this.cached(grant, this.marginMs);
    return cached ?? this.singleFlight(deviceId, () => this.refresh(grant));
  }

  /** After Spotify refused `refused` with 401: a new token unless another call already replaced it. */
  refreshAfterRefusal(deviceId: string, refused: string): Promise<AccessToken> {
    return this.refreshAfterRefusedFingerprint(deviceId, tokenFingerprint(refused));
  }

  /** The same, for a gadget that names the refused token by its fingerprint (spotify_token_request.refused). */
  async refreshAfterRefusedFingerprint(deviceId: string, fingerprint: string): Promise<AccessToken> {
    const grant = await this.liveGrant(deviceId);
    const cached = this.cached(grant, this.marginMs);
    if (cached && tokenFingerprint(cached.accessToken) !== fingerprint) return cached;
    return this.singleFlight(deviceId, () => this.refresh(grant));
  }

  /** For other features (ListeningAccess): the access token alone. */
  async accessToken(deviceId: string): Promise<string> {
    return (await this.accessTokenFor(deviceId)).accessToken;
  }

  /** For other features (ListeningAccess): a new token after Spotify refused `refused` with 401. */
  async refreshedToken(deviceId: string, refused: string): Promise<string> {
    return (await this.refreshAfterRefusal(deviceId, refused)).accessToken;
  }

  /** Device ids of gadgets with a usable Spotify grant. */
  signedInMembers(): Promise<string[]> {
    return this.deps.store.listLiveGrants();
  }

  /** Stores the grant of a completed sign-in (replacing any older one). */
  async saveNewGrant(input: {
    deviceId: string;
    app: SpotifyApp;
    answer: TokenAnswer;
    spotifyUserId: string;
    spotifyAccountId: string | null;
    displayName: string | null;
    notifyUntil: number;
  }): Promise<AccessToken> {
    const { deviceId, answer } = input;
    if (!answer.refresh_token) throw new SpotifyError('bad_response', { detail: 'no refresh_token in the code exchange' });
    const expiresAt = this.now() + answer.expires_in * 1000;
    const grant: GrantRecord = {
      deviceId,
      spotifyUserId: input.spotifyUserId,
      spotifyAccountId: input.spotifyAccountId,
      displayName: input.displayName,
      clientId: input.app.clientId,
      refreshTokenEnc: this.deps.cipher.encrypt(answer.refresh_token, refreshContext(deviceId)),
      accessTokenEnc: this.deps.cipher.encrypt(answer.access_token, accessContext(deviceId)),
      accessExpiresAt: expiresAt,
      scope: answer.scope ?? '',
      status: 'live',
      deadReason: null,
      notifyUntil: input.notifyUntil,
      updatedAt: this.now(),
    };
    await this.deps.store.saveGrant(grant);
    return { accessToken: answer.access_token, expiresAt, apiUrl: this.deps.apiUrl };
  }

  private async liveGrant(deviceId: string): Promise<GrantRecord> {
    const grant = await this.deps.store.getGrant(deviceId);
    if (!grant) throw new SigninRequiredError('no_grant');
    if (grant.status === 'dead') throw new SigninRequiredError(grant.deadReason ?? 'revoked');
    return grant;
  }

  private cached(grant: GrantRecord, marginMs: number): AccessToken | null {
    if (!grant.accessTokenEnc || grant.accessExpiresAt - marginMs <= this.now()) return null;
    const accessToken = this.deps.cipher.decrypt(grant.accessTokenEnc, accessContext(grant.deviceId));
    return { accessToken, expiresAt: grant.accessExpiresAt, apiUrl: this.deps.apiUrl };
  }

  private singleFlight(deviceId: string, run: () => Promise<AccessToken>): Promise<AccessToken> {
    const running = this.inflight.get(deviceId);
    if (running) return running;
    const promise = run().finally(() => this.inflight.delete(deviceId));
    this.inflight.set(deviceId, promise);
    return promise;
  }

  private async refresh(grant: GrantRecord): Promise<AccessToken> {
    const { deviceId } = grant;
    const app = await this.deps.apps.byClientId(grant.clientId, await this.deps.crewOf(deviceId));
    if (!app) return this.kill(grant, 'app_changed');
    const refreshToken = this.deps.cipher.decrypt(grant.refreshTokenEnc, refreshContext(deviceId));
    let answer: TokenAnswer;
    try {
      answer = await this.deps.accounts.refresh({ app, refreshToken });
    } catch (error) {
      if (error instanceof SpotifyError && error.code === 'invalid_grant') return this.afterInvalidGrant(grant);
      this.deps.onRefreshFailed?.(error instanceof SpotifyError ? error.code : 'error');
      // The owner's app page says so: the app, not this member, is out of quota.
      if (error instanceof SpotifyError && error.code === 'quota_exceeded') this.deps.apps.noteQuotaExceeded(app.clientId, this.now());
      throw error;
    }
    const expiresAt = this.now() + answer.expires_in * 1000;
    // Always written with the current key: this is where key rotation re-encrypts old rows.
    const stored = await this.deps.store.updateTokens(deviceId, grant.refreshTokenEnc, {
      refreshTokenEnc: this.deps.cipher.encrypt(answer.refresh_token ?? refreshToken, refreshContext(deviceId)),
      accessTokenEnc: this.deps.cipher.encrypt(answer.access_token, accessContext(deviceId)),
      accessExpiresAt: expiresAt,
    });
    if (!stored) this.deps.log.info({ deviceId }, 'spotify grant changed during refresh; using the fresh answer');
    this.deps.log.debug({ deviceId, rotated: Boolean(answer.refresh_token), expiresAt }, 'spotify token refreshed');
    if (stored && !grant.spotifyAccountId) await this.migrateAccountId(deviceId, answer.access_token);
    return { accessToken: answer.access_token, expiresAt, apiUrl: this.deps.apiUrl };
  }

  /** A grant made before Spotify's `account_id`: read it once; a failure only means "next refresh". */
  private async migrateAccountId(deviceId: string, accessToken: string): Promise<void> {
    if (!this.deps.profileOf) return;
    try {
      const { account_id: accountId } = await this.deps.profileOf(deviceId, accessToken);
      if (accountId) await this.deps.store.setAccountId(deviceId, accountId);
    } catch (error) {
      this.deps.log.info({ deviceId, err: (error as Error).message }, 'could not read the Spotify account id yet; trying at the next refresh');
    }
  }

  private async afterInvalidGrant(grant: GrantRecord): Promise<AccessToken> {
    // Another relay process may have rotated the refresh token a moment ago.
    const latest = await this.deps.store.getGrant(grant.deviceId);
    if (latest && latest.status === 'live' && latest.refreshTokenEnc !== grant.refreshTokenEnc) {
      const cached = this.cached(latest, 0);
      if (cached) return cached;
    }
    return this.kill(grant, 'revoked');
  }

  private async kill(grant: GrantRecord, reason: 'revoked' | 'app_changed'): Promise<never> {
    this.deps.onRefreshFailed?.(reason);
    await this.deps.store.markGrantDead(grant.deviceId, reason, grant.refreshTokenEnc);
    this.deps.log.warn({ deviceId: grant.deviceId, reason }, 'spotify grant is dead; the gadget must sign in again');
    const error = new SigninRequiredError(reason);
    error.notified = this.deps.notifyDevice(grant.deviceId, signinRequiredMessage(reason));
    throw error;
  }
}
