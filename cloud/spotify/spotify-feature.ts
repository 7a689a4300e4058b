import type express from 'express';
import type { InboundOf, InboundType } from '../../protocol/index.js';
import { ProtocolError } from '../../protocol/index.js';
import { SpotifyError, SpotifyHttp, type SpotifyHttpOptions } from '../../device/spotify/spotify-http.js';
import type { Feature, FeatureFactory, MessageHandler, RelayContext, SessionView } from '../feature.js';
import { SpotifyAccounts } from './accounts.js';
import { LegacyHandoff } from './legacy-handoff.js';
import { SigninHandoff } from './signin-handoff.js';
import { signinRouter } from './signin-routes.js';
import { SpotifyApps } from './spotify-apps.js';
import { CipherError, TokenCipher } from './token-cipher.js';
import { SigninRequiredError, TokenBroker, signinRequiredMessage } from './token-broker.js';

/** What other relay features (the history collector) may ask of Spotify. */
export interface ListeningAccess {
  /** Device ids of members with a usable Spotify grant. */
  signedInMembers(): Promise<string[]>;
  /** A fresh access token for the member; throws SigninRequiredError when the grant is gone. */
  accessToken(deviceId: string): Promise<string>;
}

export interface SpotifyFeatureOptions {
  readonly now?: () => number;
  readonly http?: SpotifyHttpOptions;
  readonly sessionTtlMs?: number;
  readonly offlineDeliveryMs?: number;
  /** How long a legacy gadget's tokens wait for it to reconnect (default one hour). */
  readonly legacyHoldMs?: number;
}

const NOT_CONFIGURED: ListeningAccess = {
  signedInMembers: async () => [],
  accessToken: async () => {
    throw new ProtocolError('spotify_not_configured');
  },
};

/**
 * The Spotify feature of the relay: sign-in hand-off (socket + phone pages), token broker
 * and per-crew apps. Without LEELOO_ENCRYPTION_KEY it still answers, with
 * `spotify_not_configured` and an explanatory page.
 */
export class SpotifyFeature implements Feature {
  readonly name = 'spotify';
  readonly handlers: Partial<Record<InboundType, MessageHandler>>;
  readonly router: express.Router;
  readonly broker: TokenBroker | null;
  readonly handoff: SigninHandoff | null;
  /** First/second-generation gadgets' own sign-in links (state = device id). */
  readonly legacy: LegacyHandoff | null;
  private readonly apps: SpotifyApps | null;
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(private readonly context: RelayContext, private readonly options: SpotifyFeatureOptions = {}) {
    const { spotify } = context.config;
    const now = options.now ?? Date.now;
    const notifyDevice = context.sendToDevice.bind(context);
    if (spotify.encryptionKey && context.config.publicUrl) {
      const cipher = new TokenCipher(spotify.encryptionKey, spotify.previousKeys);
      const http = new SpotifyHttp({ now, onOutcome: context.metrics.spotifyCall, ...options.http });
      const accounts = new SpotifyAccounts(http, spotify.accountsUrl);
      const store = context.store.tokens;
      this.apps = new SpotifyApps(store, cipher, spotify.clientId ? { clientId: spotify.clientId, clientSecret: spotify.clientSecret ?? null } : null);
      this.broker = new TokenBroker({
        store, cipher, accounts, apps: this.apps, apiUrl: spotify.apiUrl, log: context.log, now, notifyDevice,
        crewOf: async (deviceId) => (await context.store.crews.getMembership(deviceId))?.crewId ?? null,
        onRefreshFailed: context.metrics.spotifyRefreshFailed,
      });
      this.handoff = new SigninHandoff({
        store, crews: context.store.crews, cipher, accounts, apps: this.apps, broker: this.broker, http,
        apiUrl: spotify.apiUrl, publicUrl: context.config.publicUrl, log: context.log, notifyDevice, now,
        sessionTtlMs: options.sessionTtlMs, offlineDeliveryMs: options.offlineDeliveryMs,
      });
      this.legacy = new LegacyHandoff({
        crews: context.store.crews, tokens: store, cipher, accounts, redirectUri: this.handoff.redirectUri, log: context.log, notifyDevice, now,
        app: spotify.clientId ? { clientId: spotify.clientId, clientSecret: spotify.clientSecret ?? null } : null, holdMs: options.legacyHoldMs,
      });
    } else {
      this.apps = null;
      this.broker = null;
      this.handoff = null;
      this.legacy = null;
    }
    this.router = signinRouter(this.handoff, spotify.accountsUrl, now, this.legacy);
    this.handlers = {
      spotify_signin_start: (s, m) => this.signinStart(s, m as InboundOf<'spotify_signin_start'>),
      spotify_token_request: (s, m) => this.tokenRequest(s, m as InboundOf<'spotify_token_request'>),
      spotify_app_register: (s, m) => this.appRegister(s, m as InboundOf<'spotify_app_register'>),
      spotify_app_remove: (s, m) => this.appRemove(s, m as InboundOf<'spotify_app_remove'>),
    };
  }

  /** The Web API base URL, or null while Spotify is not configured (the queue's track lookup). */
  get apiUrl(): string | null {
    return this.broker ? this.context.config.spotify.apiUrl : null;
  }

  /** For other features: the broker, or an access that reports nobody signed in. */
  get access(): ListeningAccess {
    return this.broker ?? NOT_CONFIGURED;
  }

  async start(): Promise<void> {
    if (!this.handoff) {
      this.context.log.info('spotify is not configured (LEELOO_ENCRYPTION_KEY and PUBLIC_URL are needed); sign-in answers spotify_not_configured');
      return;
    }
    // Old sign-in sessions are kept a day so a late phone still gets "expired", then dropped.
    const prune = () => void this.context.store.tokens.pruneSessions((this.options.now ?? Date.now)() - 86_400_000)
      .catch((err: unknown) => this.context.log.warn({ err }, 'pruning spotify sign-in sessions failed'));
    this.pruneTimer = setInterval(prune, 3_600_000);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
  }

  /** A first/second-generation gadget is back: tokens held for it since an offline sign-in go out now. */
  async afterCrewEntry(session: SessionView): Promise<void> {
    if (!this.legacy || !session.deviceId || session.generation === 3) return;
    await this.legacy.deliverHeld(session.deviceId, (message) => session.send(message));
  }

  private async signinStart(session: SessionView, message: InboundOf<'spotify_signin_start'>): Promise<void> {
    if (!this.handoff || !session.deviceId) return session.fail('spotify_not_configured', undefined, message.client_msg_id);
    try {
      const started = await this.handoff.start(session.deviceId);
      session.ack(message.client_msg_id);
      session.send({ type: 'spotify_signin_session', ...started });
    } catch (error) {
      if (error instanceof ProtocolError) return session.fail(error.code, error.message, message.client_msg_id);
      throw error;
    }
  }

  private async tokenRequest(session: SessionView, message: InboundOf<'spotify_token_request'>): Promise<void> {
    if (!this.broker || !session.deviceId) return session.fail('spotify_not_configured');
    const deviceId = session.deviceId;
    const now = this.options.now ?? Date.now;
    try {
      const token = message.refused
        ? await this.broker.refreshAfterRefusedFingerprint(deviceId, message.refused)
        : await this.broker.accessTokenFor(deviceId);
      const grant = await this.context.store.tokens.getGrant(deviceId);
      if (grant?.notifyUntil && grant.notifyUntil > now()) {
        // The sign-in completed while this gadget was offline.
        const expiresIn = Math.max(1, Math.floor((token.expiresAt - now()) / 1000));
        session.send({ type: 'spotify_auth_complete', tokens: { access_token: token.accessToken, expires_in: expiresIn } });
        await this.context.store.tokens.clearNotify(deviceId);
      }
      session.send({ type: 'spotify_token', access_token: token.accessToken, expires_at: token.expiresAt, api_url: token.apiUrl });
    } catch (error) {
      if (error instanceof SigninRequiredError) {
        if (!error.notified) session.send(signinRequiredMessage(error.reason));
        return;
      }
      if (error instanceof SpotifyError) {
        const wait = error.retryAfterMs ? ` Try again in ${Math.ceil(error.retryAfterMs / 1000)} s.` : '';
        return session.fail('spotify_unavailable', `Spotify did not renew the sign-in: ${error.message}${wait}`);
      }
      if (error instanceof CipherError) {
        // Kept, not deleted: the operator may only have forgotten the previous key.
        this.context.log.error({ deviceId, err: error.message }, 'a stored Spotify grant cannot be decrypted');
        return session.fail('spotify_unavailable', 'The relay cannot read this gadget\'s Spotify sign-in (its encryption key is not configured). Ask the person who runs the relay, or re-pair Spotify from the menu.');
      }
      throw error;
    }
  }

  private async appRegister(session: SessionView, message: InboundOf<'spotify_app_register'>): Promise<void> {
    if (!this.ownerCheck(session, message.client_msg_id)) return;
    await this.apps!.register(session.crew!.crewId, message.client_id, message.client_secret);
    session.ack(message.client_msg_id);
    session.send({ type: 'spotify_app', ...(await this.apps!.describe(session.crew!.crewId)) });
  }

  private async appRemove(session: SessionView, message: InboundOf<'spotify_app_remove'>): Promise<void> {
    if (!this.ownerCheck(session, message.client_msg_id)) return;
    await this.apps!.remove(session.crew!.crewId);
    session.ack(message.client_msg_id);
    session.send({ type: 'spotify_app', client_id: null, has_secret: false });
  }

  private ownerCheck(session: SessionView, clientMsgId: string | undefined): boolean {
    if (!this.apps) session.fail('spotify_not_configured', undefined, clientMsgId);
    else if (!session.crew) session.fail('not_in_crew', undefined, clientMsgId);
    else if (!session.crew.isOwner) session.fail('not_owner', 'Only the crew owner may register the crew\'s Spotify app.', clientMsgId);
    else return true;
    return false;
  }
}

/**
 * The factory for cloud/main.ts plus a ListeningAccess that other features can take before
 * the relay builds its context (it answers "nobody signed in" until the feature exists).
 */
export function spotifyFeatureFactory(options?: SpotifyFeatureOptions): {
  factory: FeatureFactory;
  access: ListeningAccess;
  feature(): SpotifyFeature | null;
} {
  let built: SpotifyFeature | null = null;
  return {
    factory: (context) => (built = new SpotifyFeature(context, options)),
    access: {
      signedInMembers: () => (built?.access ?? NOT_CONFIGURED).signedInMembers(),
      accessToken: (deviceId) => (built?.access ?? NOT_CONFIGURED).accessToken(deviceId),
    },
    feature: () => built,
  };
}
