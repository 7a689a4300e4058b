import type express from 'express';
import type { InboundOf, InboundType } from '../../protocol/index.js';
import { ERROR_CODES, ProtocolError } from '../../protocol/index.js';
import { SpotifyError, SpotifyHttp, type SpotifyHttpOptions } from '../../spotify/spotify-http.js';
import { SpotifyWebApi } from '../../spotify/web-api.js';
import type { Acknowledgement, Feature, FeatureFactory, MessageHandler, RelayContext, SessionView } from '../feature.js';
import { SpotifyAccounts } from './accounts.js';
import { LegacyHandoff } from './legacy-handoff.js';
import { SigninHandoff } from './signin-handoff.js';
import { signinRouter } from './signin-routes.js';
import { SpotifyApps } from './spotify-apps.js';
import { CipherError, TokenCipher } from './token-cipher.js';
import { SigninRequiredError, TokenBroker, signinRequiredMessage } from './token-broker.js';
import type { CrewAppStatus, CrewSpotifyApp, ListeningAccess } from '../ports.js';

/** Spotify's development mode: an app serves this many users (its owner included). */
export const DEV_MODE_USER_BUDGET = 5;

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
  refreshedToken: async () => {
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

  constructor(
    private readonly context: RelayContext,
    private readonly options: SpotifyFeatureOptions = {},
  ) {
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
        store,
        cipher,
        accounts,
        apps: this.apps,
        apiUrl: spotify.apiUrl,
        log: context.log,
        now,
        notifyDevice,
        crewOf: async (deviceId) => (await context.store.crews.getMembership(deviceId))?.crewId ?? null,
        onRefreshFailed: context.metrics.spotifyRefreshFailed,
        profileOf: (deviceId, accessToken) =>
          new SpotifyWebApi({
            http,
            apiUrl: () => spotify.apiUrl,
            limiterKey: deviceId,
            tokens: {
              token: async () => accessToken,
              refresh: async () => {
                throw new SpotifyError('unauthorized');
              },
            },
          }).me(),
      });
      this.handoff = new SigninHandoff({
        store,
        crews: context.store.crews,
        cipher,
        accounts,
        apps: this.apps,
        broker: this.broker,
        http,
        apiUrl: spotify.apiUrl,
        publicUrl: context.config.publicUrl,
        log: context.log,
        notifyDevice,
        now,
        sessionTtlMs: options.sessionTtlMs,
        offlineDeliveryMs: options.offlineDeliveryMs,
      });
      this.legacy = new LegacyHandoff({
        crews: context.store.crews,
        tokens: store,
        cipher,
        accounts,
        redirectUri: this.handoff.redirectUri,
        log: context.log,
        notifyDevice,
        now,
        app: spotify.clientId ? { clientId: spotify.clientId, clientSecret: spotify.clientSecret ?? null } : null,
        holdMs: options.legacyHoldMs,
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
    const prune = () =>
      void this.context.store.tokens
        .pruneSessions((this.options.now ?? Date.now)() - 86_400_000)
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

  /** Acked, then answered: the answer follows the ack. */
  private async signinStart(session: SessionView, message: InboundOf<'spotify_signin_start'>): Promise<Acknowledgement | void> {
    if (!this.handoff || !session.deviceId) return session.fail('spotify_not_configured', undefined, message.client_msg_id);
    try {
      const started = await this.handoff.start(session.deviceId);
      return { afterAck: async () => session.send({ type: 'spotify_signin_session', ...started }) };
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
      const token = message.refused ? await this.broker.refreshAfterRefusedFingerprint(deviceId, message.refused) : await this.broker.accessTokenFor(deviceId);
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
        return session.fail(
          'spotify_unavailable',
          "The relay cannot read this gadget's Spotify sign-in (its encryption key is not configured). Ask the person who runs the relay, or re-pair Spotify from the menu.",
        );
      }
      throw error;
    }
  }

  private async appRegister(session: SessionView, message: InboundOf<'spotify_app_register'>): Promise<Acknowledgement | void> {
    if (!this.ownerCheck(session, message.client_msg_id)) return;
    const crewId = session.crew!.crewId;
    await this.apps!.register(crewId, message.client_id, message.client_secret);
    return { afterAck: async () => session.send({ type: 'spotify_app', ...(await this.apps!.describe(crewId)) }) };
  }

  private async appRemove(session: SessionView, message: InboundOf<'spotify_app_remove'>): Promise<Acknowledgement | void> {
    if (!this.ownerCheck(session, message.client_msg_id)) return;
    await this.apps!.remove(session.crew!.crewId);
    return { afterAck: async () => session.send({ type: 'spotify_app', client_id: null, has_secret: false }) };
  }

  async appStatus(crewId: string): Promise<CrewAppStatus> {
    const members = await this.context.store.crews.listMembers(crewId);
    if (!this.apps || !this.handoff) {
      return {
        configured: false,
        redirect_uri: null,
        client_id: null,
        has_secret: false,
        relay_app: false,
        quota_exceeded_at: null,
        quota_message: null,
        members: members.map((m) => ({ device_id: m.deviceId, display_name: m.displayName, spotify_name: null, app: null })),
        accounts_on_crew_app: 0,
        budget: DEV_MODE_USER_BUDGET,
      };
    }
    const own = await this.apps.describe(crewId);
    const relayId = this.context.config.spotify.clientId ?? null;
    const grants = await Promise.all(members.map((m) => this.context.store.tokens.getGrant(m.deviceId)));
    const onCrewApp = new Set<string>();
    const rows = members.map((m, i) => {
      const grant = grants[i]?.status === 'live' ? grants[i] : null;
      const app = !grant ? null : grant.clientId === own.client_id ? ('crew' as const) : grant.clientId === relayId ? ('relay' as const) : ('other' as const);
      // Spotify counts accounts, not gadgets: one person on two gadgets is one user.
      if (grant && app === 'crew') onCrewApp.add(grant.spotifyAccountId ?? `id:${grant.spotifyUserId}`);
      return { device_id: m.deviceId, display_name: m.displayName, spotify_name: grant ? (grant.displayName ?? grant.spotifyUserId) : null, app };
    });
    const signsInWith = own.client_id ?? relayId;
    const quotaAt = signsInWith ? this.apps.quotaExceededAt(signsInWith) : null;
    return {
      configured: true,
      redirect_uri: this.handoff.redirectUri,
      ...own,
      relay_app: relayId !== null,
      quota_exceeded_at: quotaAt,
      quota_message: quotaAt === null ? null : ERROR_CODES.spotify_quota_exceeded,
      members: rows,
      accounts_on_crew_app: onCrewApp.size,
      budget: DEV_MODE_USER_BUDGET,
    };
  }

  /** The crew pages' port (the socket messages spotify_app_register/remove do the same). */
  get crewApp(): CrewSpotifyApp {
    const configured = () => {
      if (!this.apps || !this.handoff) throw new ProtocolError('spotify_not_configured');
      return { apps: this.apps, handoff: this.handoff };
    };
    return {
      status: (crewId) => this.appStatus(crewId),
      register: async (crewId, clientId, clientSecret) => {
        await configured().apps.register(crewId, clientId, clientSecret);
        return this.appStatus(crewId);
      },
      remove: async (crewId) => {
        await configured().apps.remove(crewId);
        return this.appStatus(crewId);
      },
      startCheck: (deviceId) => configured().handoff.start(deviceId),
    };
  }

  private ownerCheck(session: SessionView, clientMsgId: string | undefined): boolean {
    if (!this.apps) session.fail('spotify_not_configured', undefined, clientMsgId);
    else if (!session.crew) session.fail('not_in_crew', undefined, clientMsgId);
    else if (!session.crew.isOwner) session.fail('not_owner', "Only the crew owner may register the crew's Spotify app.", clientMsgId);
    else return true;
    return false;
  }
}

/**
 * The factory for a relay that lists features one by one (tests; cloud/compose.ts builds
 * SpotifyFeature itself) plus a ListeningAccess that other features can take before
 * the relay builds its context (it answers "nobody signed in" until the feature exists).
 */
export function spotifyFeatureFactory(options?: SpotifyFeatureOptions): {
  factory: FeatureFactory;
  access: ListeningAccess;
  crewApp: CrewSpotifyApp;
  feature(): SpotifyFeature | null;
} {
  let built: SpotifyFeature | null = null;
  const crewApp = (): CrewSpotifyApp => {
    if (!built) throw new ProtocolError('unavailable', 'Spotify is starting; try again in a moment.');
    return built.crewApp;
  };
  return {
    crewApp: {
      status: (crewId) => crewApp().status(crewId),
      register: (crewId, clientId, secret) => crewApp().register(crewId, clientId, secret),
      remove: (crewId) => crewApp().remove(crewId),
      startCheck: (deviceId) => crewApp().startCheck(deviceId),
    },
    factory: (context) => (built = new SpotifyFeature(context, options)),
    access: {
      signedInMembers: () => (built?.access ?? NOT_CONFIGURED).signedInMembers(),
      accessToken: (deviceId) => (built?.access ?? NOT_CONFIGURED).accessToken(deviceId),
      refreshedToken: (deviceId, refused) => (built?.access ?? NOT_CONFIGURED).refreshedToken(deviceId, refused),
    },
    feature: () => built,
  };
}
