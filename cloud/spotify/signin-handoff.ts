import { createHash, randomBytes, randomInt } from 'node:crypto';
import { CREW_CODE_ALPHABET, ProtocolError, errorFrame, type OutboundMessage } from '../../protocol/index.js';
import { SpotifyError, type SpotifyHttp } from '../../spotify/spotify-http.js';
import { SpotifyWebApi, type SpotifyProfile } from '../../spotify/web-api.js';
import type { Logger } from '../log.js';
import type { CrewStore } from '../store/store.js';
import { pkcePair, type SpotifyAccounts, type SpotifyApp } from './accounts.js';
import type { SpotifyApps } from './spotify-apps.js';
import type { TokenBroker } from './token-broker.js';
import type { TokenCipher } from './token-cipher.js';
import type { SigninSessionRecord, TokenStore } from '../store/areas/tokens.js';

/** What the phone pages can show. */
export type SigninFailure =
  | 'invalid'
  | 'expired'
  | 'replaced'
  | 'used'
  | 'stale'
  | 'denied'
  | 'spotify_down'
  | 'rate_limited'
  | 'quota_exceeded'
  | 'not_allowlisted'
  | 'app_unknown'
  | 'wrong_crew'
  | 'not_configured'
  // The legacy hand-off (cloud/spotify/legacy-handoff.ts): the gadget built the link itself.
  | 'legacy_rate_limited'
  | 'code_rejected'
  | 'legacy_spotify_down';

/** A failure, the session it concerns, and for rate_limited how long to wait. */
export interface SigninRefusal {
  ok: false;
  failure: SigninFailure;
  session?: SigninSessionRecord;
  retryAfterMs?: number;
}

export type LandingResult = { ok: true; session: SigninSessionRecord } | SigninRefusal;
export type ContinueResult = { ok: true; authorizeUrl: string } | SigninRefusal;
export type CallbackResult = { ok: true; session: SigninSessionRecord; spotifyName: string } | SigninRefusal;

/** What a failed code exchange or profile read means for the person at the phone. */
const EXCHANGE_FAILURES: Partial<Record<SpotifyError['code'], SigninFailure>> = {
  invalid_grant: 'stale',
  not_allowlisted: 'not_allowlisted',
  rate_limited: 'rate_limited',
  quota_exceeded: 'quota_exceeded',
  invalid_client: 'app_unknown',
};

export interface SigninHandoffDeps {
  readonly store: TokenStore;
  readonly crews: CrewStore;
  readonly cipher: TokenCipher;
  readonly accounts: SpotifyAccounts;
  readonly apps: SpotifyApps;
  readonly broker: TokenBroker;
  readonly http: SpotifyHttp;
  readonly apiUrl: string;
  readonly publicUrl: string;
  readonly log: Logger;
  readonly notifyDevice: (deviceId: string, message: OutboundMessage) => boolean;
  readonly now?: () => number;
  /** How long a sign-in link works. */
  readonly sessionTtlMs?: number;
  /** How long a sign-in completed while the gadget was offline is kept for it. */
  readonly offlineDeliveryMs?: number;
}

/** `ABCD-EFGH` in any case, with or without the dash, → the canonical form (or null). */
export function normaliseSigninCode(raw: string): string | null {
  const compact = raw.trim().toUpperCase().replace(/[\s-]/g, '');
  if (!/^[A-HJ-NP-Z2-9]{8}$/.test(compact)) return null;
  return `${compact.slice(0, 4)}-${compact.slice(4)}`;
}

const hashState = (state: string) => createHash('sha256').update(state).digest('hex');

/**
 * The phone sign-in hand-off: the gadget asks for a session (short link + code), the phone
 * opens the link, continues to Spotify's authorize page (PKCE S256, `state` bound to the
 * session, single use, expiring), and Spotify comes back to /spotify/callback.
 */
export class SigninHandoff {
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly offlineMs: number;

  constructor(private readonly deps: SigninHandoffDeps) {
    this.now = deps.now ?? Date.now;
    this.ttlMs = deps.sessionTtlMs ?? 10 * 60_000;
    this.offlineMs = deps.offlineDeliveryMs ?? 15 * 60_000;
  }

  get redirectUri(): string {
    return `${this.deps.publicUrl}/spotify/callback`;
  }

  /** Starts a session for the gadget (replacing its older ones). */
  async start(deviceId: string): Promise<{ url: string; code: string; expires_at: number }> {
    const membership = await this.deps.crews.getMembership(deviceId);
    const crew = membership ? await this.deps.crews.getCrew(membership.crewId) : null;
    const app = await this.deps.apps.forCrew(crew?.crewId ?? null);
    if (!app) throw new ProtocolError('spotify_not_configured');
    const device = await this.deps.crews.getDevice(deviceId);
    const code = newCode();
    const createdAt = this.now();
    await this.deps.store.createSession({
      code,
      deviceId,
      deviceName: device?.displayName ?? deviceId,
      crewId: crew?.crewId ?? null,
      crewCode: crew?.crewCode ?? null,
      crewName: crew?.crewName ?? null,
      clientId: app.clientId,
      createdAt,
      expiresAt: createdAt + this.ttlMs,
      stateHash: null,
      verifierEnc: null,
      status: 'open',
    });
    return { url: `${this.deps.publicUrl}/s/${code.replace('-', '')}`, code, expires_at: createdAt + this.ttlMs };
  }

  /** What the phone sees when it opens the link. */
  async landing(rawCode: string): Promise<LandingResult> {
    const code = normaliseSigninCode(rawCode);
    const session = code ? await this.deps.store.getSession(code) : null;
    if (!session) return { ok: false, failure: 'invalid' };
    const failure = await this.sessionProblem(session);
    return failure ? { ok: false, failure, session } : { ok: true, session };
  }

  /** The phone pressed "Continue": a fresh state + PKCE pair, then off to Spotify. */
  async continue(rawCode: string): Promise<ContinueResult> {
    const landing = await this.landing(rawCode);
    if (!landing.ok) return landing;
    const { session } = landing;
    const app = await this.deps.apps.byClientId(session.clientId, session.crewId);
    if (!app) return { ok: false, failure: 'not_configured', session };
    const state = randomBytes(24).toString('base64url');
    const { verifier, challenge } = pkcePair();
    const begun = await this.deps.store.beginAttempt(session.code, hashState(state), this.deps.cipher.encrypt(verifier, `verifier:${session.code}`));
    if (!begun) return { ok: false, failure: 'used', session };
    return { ok: true, authorizeUrl: this.deps.accounts.authorizeUrl({ app, redirectUri: this.redirectUri, state, challenge }) };
  }

  /** Spotify sent the phone back with `code` + `state`, or `error` + `state`. */
  async callback(query: { code?: string; state?: string; error?: string }): Promise<CallbackResult> {
    if (!query.state) return { ok: false, failure: 'invalid' };
    const stateHash = hashState(query.state);
    const taken = await this.deps.store.takeSessionByState(stateHash);
    if (!taken) {
      // A replaced session keeps its state hash so that its late callback can say so.
      const known = await this.deps.store.getSessionByState(stateHash);
      const failure = known?.status === 'replaced' ? 'replaced' : known ? 'used' : 'invalid';
      return { ok: false, failure, session: known ?? undefined };
    }
    // `taken` is now `exchanging`: this callback owns it; only expiry and crew still matter.
    const problem = await this.sessionProblem({ ...taken, status: 'redirected' });
    if (problem || query.error || !query.code) {
      await this.deps.store.finishSession(taken.code, 'open');
      return { ok: false, failure: problem ?? (query.error === 'access_denied' ? 'denied' : 'spotify_down'), session: taken };
    }
    return this.exchange(taken, query.code);
  }

  private async exchange(session: SigninSessionRecord, code: string): Promise<CallbackResult> {
    const app = await this.deps.apps.byClientId(session.clientId, session.crewId);
    if (!app || !session.verifierEnc) {
      await this.deps.store.finishSession(session.code, 'open');
      return { ok: false, failure: app ? 'invalid' : 'not_configured', session };
    }
    try {
      const verifier = this.deps.cipher.decrypt(session.verifierEnc, `verifier:${session.code}`);
      const answer = await this.deps.accounts.exchangeCode({ app, code, redirectUri: this.redirectUri, verifier });
      const profile = await this.profile(answer.access_token, session);
      await this.completeGrant(session, app, answer, profile);
      await this.deps.store.finishSession(session.code, 'completed');
      return { ok: true, session, spotifyName: profile.display_name ?? profile.id };
    } catch (error) {
      await this.deps.store.finishSession(session.code, 'open');
      const failure = (error instanceof SpotifyError && EXCHANGE_FAILURES[error.code]) || 'spotify_down';
      this.deps.log.warn({ code: session.code, deviceId: session.deviceId, failure, err: describe(error) }, 'spotify code exchange failed');
      if (failure === 'quota_exceeded') this.deps.apps.noteQuotaExceeded(app.clientId, this.now());
      if (failure === 'not_allowlisted') {
        this.deps.notifyDevice(session.deviceId, errorFrame('spotify_not_allowlisted', undefined, { ref_type: 'spotify_signin_start' }));
      }
      const retryAfterMs = error instanceof SpotifyError && failure === 'rate_limited' ? (error.retryAfterMs ?? undefined) : undefined;
      return { ok: false, failure, session, ...(retryAfterMs ? { retryAfterMs } : {}) };
    }
  }

  /** Read with the person's own token, so a 429 here waits for this gadget's user only. */
  private profile(accessToken: string, session: SigninSessionRecord) {
    const api = new SpotifyWebApi({
      http: this.deps.http,
      apiUrl: () => this.deps.apiUrl,
      limiterKey: session.deviceId,
      tokens: {
        token: async () => accessToken,
        refresh: async () => {
          throw new SpotifyError('unauthorized');
        },
      },
    });
    return api.me();
  }

  private async completeGrant(
    session: SigninSessionRecord,
    app: SpotifyApp,
    answer: Parameters<TokenBroker['saveNewGrant']>[0]['answer'],
    profile: SpotifyProfile,
  ): Promise<void> {
    const token = await this.deps.broker.saveNewGrant({
      deviceId: session.deviceId,
      app,
      answer,
      spotifyUserId: profile.id,
      spotifyAccountId: profile.account_id ?? null,
      displayName: profile.display_name ?? null,
      notifyUntil: this.now() + this.offlineMs,
    });
    const delivered = this.deps.notifyDevice(session.deviceId, {
      type: 'spotify_auth_complete',
      tokens: { access_token: token.accessToken, expires_in: Math.max(1, Math.floor((token.expiresAt - this.now()) / 1000)) },
    });
    if (delivered) await this.deps.store.clearNotify(session.deviceId);
    this.deps.log.info({ deviceId: session.deviceId, delivered }, 'spotify sign-in completed');
  }

  /** Why this session cannot be used now, or null. */
  private async sessionProblem(session: SigninSessionRecord): Promise<SigninFailure | null> {
    if (session.status === 'completed' || session.status === 'exchanging') return 'used';
    if (session.status === 'replaced') return 'replaced';
    if (session.expiresAt <= this.now()) return 'expired';
    const membership = await this.deps.crews.getMembership(session.deviceId);
    if ((membership?.crewId ?? null) !== session.crewId) return 'wrong_crew';
    return null;
  }
}

function newCode(): string {
  const pick = () => Array.from({ length: 4 }, () => CREW_CODE_ALPHABET[randomInt(CREW_CODE_ALPHABET.length)]).join('');
  return `${pick()}-${pick()}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
