import { createHash } from 'node:crypto';
import { DeviceId, type OutboundOf } from '../../protocol/index.js';
import { SpotifyError } from '../../spotify/spotify-http.js';
import type { Logger } from '../log.js';
import type { CrewStore } from '../store/store.js';
import { KeyedBuckets } from '../token-bucket.js';
import type { SpotifyAccounts, SpotifyApp } from './accounts.js';
import type { SigninFailure } from './signin-handoff.js';
import type { TokenCipher } from './token-cipher.js';
import type { TokenStore } from '../store/areas/tokens.js';

/** What the callback page can say about a legacy hand-off. */
export type LegacyOutcome = { ok: true; deviceId: string; deviceName: string; delivered: boolean } | { ok: false; failure: SigninFailure; deviceId?: string };

type AuthComplete = OutboundOf<'spotify_auth_complete'>;

export interface LegacyHandoffDeps {
  readonly crews: CrewStore;
  readonly tokens: TokenStore;
  readonly cipher: TokenCipher;
  readonly accounts: SpotifyAccounts;
  /** The relay's own app: the field gadgets build their authorize URL with its client id. Needs its secret (no PKCE). */
  readonly app: SpotifyApp | null;
  readonly redirectUri: string;
  readonly log: Logger;
  readonly notifyDevice: (deviceId: string, message: AuthComplete) => boolean;
  readonly now?: () => number;
  /** How long tokens wait for an offline gadget (default one hour). */
  readonly holdMs?: number;
}

const HOLD_MS = 3_600_000;
/** Per device: 5 callbacks, then one more every 2 minutes. */
const CALLBACKS_BURST = 5;
const CALLBACKS_PER_SECOND = 1 / 120;
/** A code is single use at Spotify; a replay is answered here without asking again. */
const SEEN_CODE_MS = 15 * 60_000;
const MAX_TRACKED = 10_000;

const hash = (text: string) => createHash('sha256').update(text).digest('hex');
const heldContext = (deviceId: string) => `legacy-tokens:${deviceId}`;

/**
 * The first- and second-generation Spotify sign-in: the gadget builds the authorize URL
 * itself (the relay app's client id, redirect_uri = PUBLIC_URL/spotify/callback, `state` =
 * its device id, no PKCE). A callback whose state is not a sign-in session of ours but a
 * known secretless device id is exchanged once with the app's secret, and the gadget gets
 * `spotify_auth_complete` with the refresh token (it refreshes on its own): now when online,
 * else right after the answer to its next register/create_crew/join_crew, within one hour.
 *
 * Trade-off (README): the state is a device id, which is guessable; whoever knows it can
 * send that gadget a sign-in of their own Spotify account. Callbacks are rate-limited per
 * device and logged; current-protocol gadgets (which hold a secret) are never served here.
 */
export class LegacyHandoff {
  private readonly now: () => number;
  private readonly holdMs: number;
  private readonly callbacks: KeyedBuckets;
  private readonly seenCodes = new Map<string, number>();

  constructor(private readonly deps: LegacyHandoffDeps) {
    this.now = deps.now ?? Date.now;
    this.holdMs = deps.holdMs ?? HOLD_MS;
    this.callbacks = new KeyedBuckets(CALLBACKS_PER_SECOND, CALLBACKS_BURST, this.now, MAX_TRACKED);
  }

  /** Null when the state names no first/second-generation device of this relay (not a legacy callback). */
  async callback(query: { code?: string; state?: string; error?: string }): Promise<LegacyOutcome | null> {
    const deviceId = query.state;
    if (!deviceId || !DeviceId.safeParse(deviceId).success) return null;
    const device = await this.deps.crews.getDevice(deviceId);
    // A device with a secret speaks the current protocol: its sign-in goes through /s/… only.
    if (!device || device.secretHash || device.secretResetAt) return null;
    const log = (outcome: string, extra: Record<string, unknown> = {}) => this.deps.log.info({ deviceId, outcome, ...extra }, 'legacy spotify callback');

    if (!this.callbacks.take(deviceId).ok) {
      log('rate_limited');
      return { ok: false, failure: 'legacy_rate_limited', deviceId };
    }
    if (query.error) {
      log('denied', { spotifyError: query.error.slice(0, 40) });
      return { ok: false, failure: query.error === 'access_denied' ? 'denied' : 'legacy_spotify_down', deviceId };
    }
    if (!query.code) {
      log('no_code');
      return { ok: false, failure: 'invalid', deviceId };
    }
    const app = this.deps.app;
    if (!app?.clientSecret) {
      log('not_configured');
      return { ok: false, failure: 'not_configured', deviceId };
    }
    if (!this.firstUse(query.code)) {
      log('replayed');
      return { ok: false, failure: 'used', deviceId };
    }
    let tokens: AuthComplete['tokens'];
    try {
      const answer = await this.deps.accounts.exchangeCode({ app, code: query.code, redirectUri: this.deps.redirectUri });
      tokens = { access_token: answer.access_token, refresh_token: answer.refresh_token, expires_in: answer.expires_in };
    } catch (error) {
      const rejected = error instanceof SpotifyError && (error.code === 'invalid_grant' || error.code === 'bad_request');
      log(rejected ? 'code_rejected' : 'spotify_down', { err: error instanceof Error ? error.message : String(error) });
      return { ok: false, failure: rejected ? 'code_rejected' : 'legacy_spotify_down', deviceId };
    }
    const delivered = this.deps.notifyDevice(deviceId, { type: 'spotify_auth_complete', tokens });
    if (!delivered) {
      const held = JSON.stringify({ tokens, at: this.now() });
      await this.deps.tokens.holdLegacyTokens(deviceId, this.deps.cipher.encrypt(held, heldContext(deviceId)), this.now() + this.holdMs);
    }
    log(delivered ? 'delivered' : 'held');
    return { ok: true, deviceId, deviceName: device.displayName, delivered };
  }

  /**
   * Called right after the answer to a gadget's register/create_crew/join_crew: held tokens
   * (within their hour) go out now, with the access token's remaining lifetime.
   */
  async deliverHeld(deviceId: string, send: (message: AuthComplete) => void): Promise<void> {
    const enc = await this.deps.tokens.takeLegacyTokens(deviceId, this.now());
    if (!enc) return;
    const { tokens, at } = JSON.parse(this.deps.cipher.decrypt(enc, heldContext(deviceId))) as { tokens: AuthComplete['tokens']; at: number };
    const left = Math.max(1, tokens.expires_in - Math.floor((this.now() - at) / 1000));
    send({ type: 'spotify_auth_complete', tokens: { ...tokens, expires_in: left } });
    this.deps.log.info({ deviceId, outcome: 'delivered_after_reconnect' }, 'legacy spotify callback');
  }

  private firstUse(code: string): boolean {
    const now = this.now();
    for (const [key, until] of this.seenCodes) {
      if (until > now && this.seenCodes.size < MAX_TRACKED) break;
      this.seenCodes.delete(key);
    }
    const key = hash(code);
    if ((this.seenCodes.get(key) ?? 0) > now) return false;
    this.seenCodes.set(key, now + SEEN_CODE_MS);
    return true;
  }
}
