/**
 * A fake Spotify (Accounts service + Web API) on a real loopback HTTP server. The product
 * takes its Spotify base URLs from configuration; tests point them at `accountsUrl` and
 * `apiUrl`. Nothing here reaches the real Spotify.
 *
 *   const spotify = await startFakeSpotify();          // 127.0.0.1, port 0
 *   spotify.registerApp('client-1');                   // PKCE app (add a secret for confidential apps)
 *   spotify.addUser({ id: 'anna', displayName: 'Anna' });
 *   ... SPOTIFY_ACCOUNTS_URL = spotify.accountsUrl, SPOTIFY_API_URL = spotify.apiUrl
 *   await spotify.close();
 *
 * Accounts (at accountsUrl):
 *   GET  /authorize       checks client_id, response_type=code, redirect_uri, scope, and
 *                         code_challenge_method=S256; approves at once as `approveAs(userId)`
 *                         (default: the first user added) and redirects 302 to
 *                         redirect_uri?code=…&state=…, or ?error=access_denied&state=… after
 *                         `denyNext()`. Unknown client → 400 page (as Spotify does).
 *   POST /api/token       form body. authorization_code: one use per code, same redirect_uri,
 *                         PKCE S256 check of code_verifier (or Basic auth with the app secret).
 *                         refresh_token: invalid_grant when revoked/unknown; returns a new
 *                         refresh token (old one dies) when `setRotateRefreshTokens(true)`.
 * Web API (at apiUrl = origin + /v1), Bearer token required (401 when unknown/expired):
 *   GET  /v1/me                          {id, account_id, display_name, product}
 *   Every Web API call with a token of an app that has an allowlist (setAllowlist) answers
 *   403 "User not registered in the Developer Dashboard" for a user not on it, as
 *   development-mode apps do.
 *   GET  /v1/me/player/currently-playing 200 with ETag (304 on If-None-Match), 204 when idle
 *   GET  /v1/me/player                   playback state with device, 204 without active device
 *   GET  /v1/me/player/queue             {currently_playing, queue}
 *   POST /v1/me/player/queue?uri=…       204; 403 PREMIUM_REQUIRED / 404 NO_ACTIVE_DEVICE
 *   PUT  /v1/me/player/play {uris, position_ms?}  204; same errors (bodies kept: playRequestsOf);
 *                                        the first URI then plays from position_ms (a catalog
 *                                        track, else fakeTrack(id)); no uris resumes
 *   PUT  /v1/me/player/pause             204; same errors (counted: calls('pause', user)); freezes progress
 *   PUT  /v1/me/player/seek?position_ms= 204; same errors; 400 without a whole position_ms
 *   GET  /v1/me/player/devices           {devices: [{id, is_active, name, type, …}]} (setDevices)
 *   PUT  /v1/me/player {device_ids: [id], play?}  204 the device becomes the active one; 404 for
 *                                        an unknown device id; 400 for more than one id
 * Playback moves: while is_playing, progress_ms is where it was set (setCurrentlyPlaying, a play,
 * a seek) plus the time since on the fake's clock (useClock; Date.now by default), up to the
 * track's duration, where it stops (is_playing false), as a single-track play does.
 *   GET  /v1/tracks/{id}                 the catalog track (addCatalogTrack), 404 when unknown
 *   GET  /v1/me/player/recently-played   limit (1–50, default 20), after | before (Unix ms,
 *                                        not both → 400); newest first; cursors {after, before}
 *                                        are the newest/oldest played_at returned; `next` pages
 *                                        on in the same direction while more items remain.
 *   GET  /v1/search?q=…&type=track&limit=…  catalog tracks whose name, artists or album hold every
 *                                        word of q (case-insensitive); limit 1–10 (default 5; more
 *                                        → 400 "Invalid limit", as since February 2026); type must
 *                                        include track; no q → 400
 *   POST /v1/me/playlists {name, description?, public?}  201 the new playlist {id, uri, name,
 *                                        external_urls}; 403 "Insufficient client scope" unless the
 *                                        token's sign-in has playlist-modify-private (public: -public)
 *   POST /v1/playlists/{id}/items {uris} 201 {snapshot_id}; 1–100 valid track/episode URIs (else
 *                                        400); 404 unknown playlist; 403 another user's; same scope
 *   ANY  /v1/playlists/{id}/tracks       403 Forbidden (removed for development-mode apps, March 2026)
 *   GET  /images/ID.jpg | /images/ID.png real 300×300 JPEG / 64×64 PNG in a colour from ID.
 *
 * Control API (methods on the returned object):
 *   registerApp(clientId, secret?)        addUser({id, displayName?, premium?, activeDevice?})
 *   approveAs(userId) / denyNext()        setAccessTokenTtl(seconds)  (default 3600)
 *   setRotateRefreshTokens(on)            revokeGrants(userId)  → refresh gives invalid_grant
 *   expireAccessTokens(userId?)           → Web API answers 401 for those tokens
 *   narrowScopes(userId, scope)           the user's grants (and their refreshes) carry only these
 *                                         scopes, as a sign-in made before an app asked for more
 *   setPremium(userId, on) / setActiveDevice(userId, on)
 *   setCurrentlyPlaying(userId, {track, progress_ms, is_playing} | null)  — as of now on the fake's clock
 *   useClock(now)                         the clock playback moves by (a test's manual clock)
 *   setDevices(userId, [{id, name, type?, is_active?}])  the user's Spotify Connect devices
 *   setRecentlyPlayed(userId, [{track, played_at: ISO string}])
 *   addCatalogTrack(track)                what GET /v1/tracks/{id} and search know
 *   playlistsOf(userId) → [{id, name, description, public, uris}] the user's playlists, oldest first
 *   playRequestsOf(userId) → every accepted play body [{uris, position_ms?}]
 *   script(endpoint, {status, body?, headers?, delayMs?}, {times?, userId?})  — answers the next
 *       `times` (default 1) matching calls with this response instead of the normal one
 *   rateLimit(endpoint, retryAfterSeconds, {times?, userId?})   — 429 with Retry-After
 *   quotaExceeded(endpoint, {times?, userId?, retryAfterSeconds?}) — 429 {error:{reason:'QUOTA_EXCEEDED'}}
 *   setAllowlist(clientId, userIds | null)  — development-mode allowlist (null: none, all users pass)
 *   serverError(endpoint, times = 1, status = 503)               invalidGrantNext()
 *   delay(endpoint, ms, {times?})         — the answer waits (for timeout tests)
 *   calls(endpoint, userId?) → count      log → every request {endpoint, userId, status}
 *   queueOf(userId) / playedOf(userId)    accessTokensOf(userId) / refreshTokensOf(userId)
 *   lastAuthorize → the query of the last /authorize request;  verifiers → every code_verifier received
 * signInThroughFake(spotify, userId) → {access, refresh}: the PKCE sign-in of app `app-1`, as a client
 * does it (register `app-1` first).
 * Endpoint names: authorize, token, me, currently-playing, player, queue-get, queue, play,
 * pause, seek, devices, transfer, track, recently-played, search, create-playlist, playlist-items, playlist-tracks, image.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCanvas } from '@napi-rs/canvas';

export type FakeEndpoint =
  | 'authorize'
  | 'token'
  | 'me'
  | 'currently-playing'
  | 'player'
  | 'queue-get'
  | 'queue'
  | 'play'
  | 'pause'
  | 'seek'
  | 'devices'
  | 'transfer'
  | 'track'
  | 'recently-played'
  | 'search'
  | 'create-playlist'
  | 'playlist-items'
  | 'playlist-tracks'
  | 'image';

export interface PlayRequest {
  uris?: string[];
  position_ms?: number;
}

export interface FakeTrack {
  id: string;
  name: string;
  artists: string[];
  album: string;
  duration_ms: number;
}

export interface FakeDevice {
  id: string;
  name: string;
  type: string;
  is_active: boolean;
}

export interface FakePlaylist {
  id: string;
  owner: string;
  name: string;
  description: string;
  public: boolean;
  uris: string[];
}

export interface ScriptedResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}

interface Script {
  endpoint: FakeEndpoint;
  userId?: string;
  remaining: number;
  response: ScriptedResponse;
}

interface FakeUser {
  id: string;
  /** Spotify's stable account id (`account_id` on /me since May 2026). */
  accountId: string;
  displayName: string;
  premium: boolean;
  activeDevice: boolean;
  /** progress_ms as of `since` (the fake's clock); it moves while is_playing. */
  playing: { track: FakeTrack; progress_ms: number; is_playing: boolean; since: number } | null;
  devices: FakeDevice[];
  recent: { track: FakeTrack; played_at: string }[];
  queue: string[];
  played: string[];
  playRequests: PlayRequest[];
}

interface Grant {
  userId: string;
  clientId: string;
  scope: string;
}
interface AccessGrant extends Grant {
  expiresAt: number;
}
interface CodeGrant extends Grant {
  redirectUri: string;
  challenge: string | null;
  used: boolean;
}

export interface LogEntry {
  endpoint: FakeEndpoint;
  userId: string | null;
  status: number;
  method: string;
  path: string;
}

export function fakeTrack(id: string, overrides: Partial<FakeTrack> = {}): FakeTrack {
  return { id, name: `Track ${id}`, artists: [`Artist ${id}`], album: `Album ${id}`, duration_ms: 200_000, ...overrides };
}

export class FakeSpotify {
  readonly accountsUrl: string;
  readonly apiUrl: string;
  readonly origin: string;
  readonly log: LogEntry[] = [];
  lastAuthorize: URLSearchParams | null = null;
  /** TCP connections open now (a client that leaves answers unread keeps them open). */
  openConnections = 0;
  /** Every PKCE code_verifier the token endpoint received (secrets the relay must not keep in plaintext). */
  readonly verifiers: string[] = [];

  private readonly apps = new Map<string, string | null>();
  private readonly users = new Map<string, FakeUser>();
  private readonly codes = new Map<string, CodeGrant>();
  private readonly accessTokens = new Map<string, AccessGrant>();
  private readonly refreshTokens = new Map<string, Grant>();
  private readonly scripts: Script[] = [];
  private readonly images = new Map<string, Buffer>();
  private readonly catalog = new Map<string, FakeTrack>();
  private readonly allowlists = new Map<string, Set<string>>();
  private readonly playlists = new Map<string, FakePlaylist>();
  private approver: string | null = null;
  private clock: () => number = Date.now;
  private denyOnce = false;
  private ttlSeconds = 3600;
  private rotate = false;

  constructor(private readonly server: Server) {
    const { port } = server.address() as AddressInfo;
    this.origin = `http://127.0.0.1:${port}`;
    this.accountsUrl = this.origin;
    this.apiUrl = `${this.origin}/v1`;
    server.on('connection', (socket) => {
      this.openConnections++;
      socket.once('close', () => this.openConnections--);
    });
    server.on('request', (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.json(res, 500, { error: { status: 500, message: String(error) } });
      });
    });
  }

  // ----- control API ------------------------------------------------------------------

  registerApp(clientId: string, secret?: string): void {
    this.apps.set(clientId, secret ?? null);
  }

  addUser(user: { id: string; accountId?: string; displayName?: string; premium?: boolean; activeDevice?: boolean }): void {
    this.users.set(user.id, {
      id: user.id,
      accountId: user.accountId ?? `acct-${createHash('sha256').update(user.id).digest('hex').slice(0, 20)}`,
      displayName: user.displayName ?? user.id,
      premium: user.premium ?? true,
      activeDevice: user.activeDevice ?? true,
      playing: null,
      devices: [{ id: `dev-${user.id}`, name: `${user.displayName ?? user.id}'s phone`, type: 'Smartphone', is_active: user.activeDevice ?? true }],
      recent: [],
      queue: [],
      played: [],
      playRequests: [],
    });
    this.approver ??= user.id;
  }

  approveAs(userId: string): void {
    this.approver = userId;
  }

  setAllowlist(clientId: string, userIds: readonly string[] | null): void {
    if (userIds) this.allowlists.set(clientId, new Set(userIds));
    else this.allowlists.delete(clientId);
  }

  quotaExceeded(endpoint: FakeEndpoint, options: { times?: number; userId?: string; retryAfterSeconds?: number } = {}): void {
    this.script(
      endpoint,
      {
        status: 429,
        headers: options.retryAfterSeconds === undefined ? {} : { 'retry-after': String(options.retryAfterSeconds) },
        body: { error: { status: 429, message: 'Quota exceeded for this application', reason: 'QUOTA_EXCEEDED' } },
      },
      options,
    );
  }
  denyNext(): void {
    this.denyOnce = true;
  }
  setAccessTokenTtl(seconds: number): void {
    this.ttlSeconds = seconds;
  }
  setRotateRefreshTokens(on: boolean): void {
    this.rotate = on;
  }

  revokeGrants(userId: string): void {
    for (const [token, grant] of this.refreshTokens) if (grant.userId === userId) this.refreshTokens.delete(token);
    this.expireAccessTokens(userId);
  }

  narrowScopes(userId: string, scope: string): void {
    for (const grant of [...this.accessTokens.values(), ...this.refreshTokens.values()]) if (grant.userId === userId) grant.scope = scope;
  }

  expireAccessTokens(userId?: string): void {
    for (const grant of this.accessTokens.values()) if (!userId || grant.userId === userId) grant.expiresAt = 0;
  }

  setPremium(userId: string, on: boolean): void {
    this.user(userId).premium = on;
  }
  setActiveDevice(userId: string, on: boolean): void {
    const user = this.user(userId);
    user.activeDevice = on;
    user.devices.forEach((d, i) => (d.is_active = on && (d.is_active || i === 0)));
  }

  setCurrentlyPlaying(userId: string, state: { track: FakeTrack; progress_ms: number; is_playing: boolean } | null): void {
    this.user(userId).playing = state ? { ...state, since: this.clock() } : null;
  }

  useClock(now: () => number): void {
    this.clock = now;
  }

  setDevices(userId: string, devices: { id: string; name: string; type?: string; is_active?: boolean }[]): void {
    const user = this.user(userId);
    user.devices = devices.map((d) => ({ id: d.id, name: d.name, type: d.type ?? 'Computer', is_active: d.is_active ?? false }));
    user.activeDevice = user.devices.some((d) => d.is_active);
  }

  /** Where the user's playback is now: its progress moved on while playing, stopped at the end. */
  playbackOf(userId: string): { track: FakeTrack; progress_ms: number; is_playing: boolean } | null {
    const playing = this.user(userId).playing;
    if (!playing) return null;
    if (!playing.is_playing) return { track: playing.track, progress_ms: playing.progress_ms, is_playing: false };
    const progress = playing.progress_ms + Math.max(0, this.clock() - playing.since);
    if (progress < playing.track.duration_ms) return { track: playing.track, progress_ms: progress, is_playing: true };
    return { track: playing.track, progress_ms: playing.track.duration_ms, is_playing: false };
  }

  setRecentlyPlayed(userId: string, plays: { track: FakeTrack; played_at: string }[]): void {
    this.user(userId).recent = [...plays].sort((a, b) => Date.parse(b.played_at) - Date.parse(a.played_at));
  }

  addCatalogTrack(track: FakeTrack): void {
    this.catalog.set(track.id, track);
  }

  playlistsOf(userId: string): FakePlaylist[] {
    return [...this.playlists.values()].filter((p) => p.owner === userId).map((p) => ({ ...p, uris: [...p.uris] }));
  }

  script(endpoint: FakeEndpoint, response: ScriptedResponse, options: { times?: number; userId?: string } = {}): void {
    this.scripts.push({ endpoint, userId: options.userId, remaining: options.times ?? 1, response });
  }

  rateLimit(endpoint: FakeEndpoint, retryAfterSeconds: number, options: { times?: number; userId?: string } = {}): void {
    this.script(
      endpoint,
      {
        status: 429,
        headers: { 'retry-after': String(retryAfterSeconds) },
        body: endpoint === 'token' ? undefined : { error: { status: 429, message: 'API rate limit exceeded' } },
      },
      options,
    );
  }

  serverError(endpoint: FakeEndpoint, times = 1, status = 503): void {
    this.script(endpoint, { status, body: endpoint === 'token' ? 'upstream down' : { error: { status, message: 'Service unavailable' } } }, { times });
  }

  invalidGrantNext(): void {
    this.script('token', { status: 400, body: { error: 'invalid_grant', error_description: 'Refresh token revoked' } });
  }

  delay(endpoint: FakeEndpoint, ms: number, options: { times?: number } = {}): void {
    this.script(endpoint, { status: 0, delayMs: ms }, options);
  }

  calls(endpoint: FakeEndpoint, userId?: string): number {
    return this.log.filter((e) => e.endpoint === endpoint && (userId === undefined || e.userId === userId)).length;
  }

  queueOf(userId: string): string[] {
    return [...this.user(userId).queue];
  }
  playedOf(userId: string): string[] {
    return [...this.user(userId).played];
  }
  playRequestsOf(userId: string): PlayRequest[] {
    return this.user(userId).playRequests.map((r) => ({ ...r }));
  }
  accessTokensOf(userId: string): string[] {
    return [...this.accessTokens].filter(([, g]) => g.userId === userId).map(([t]) => t);
  }
  refreshTokensOf(userId: string): string[] {
    return [...this.refreshTokens].filter(([, g]) => g.userId === userId).map(([t]) => t);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  // ----- request handling -------------------------------------------------------------

  private user(id: string): FakeUser {
    const user = this.users.get(id);
    if (!user) throw new Error(`fake Spotify has no user "${id}"; call addUser first`);
    return user;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const body = await readBody(req);
    const route = this.route(req.method ?? 'GET', url.pathname);
    if (!route) {
      this.json(res, 404, { error: { status: 404, message: 'Service not found' } });
      return;
    }
    const userId = route === 'authorize' ? null : route === 'token' ? this.tokenUser(body) : route === 'image' ? null : this.bearerUser(req);
    const scripted = this.takeScript(route, userId);
    if (scripted?.delayMs) await new Promise((r) => setTimeout(r, scripted.delayMs));
    const status = scripted && scripted.status > 0 ? this.sendScripted(res, scripted) : await this.answer(route, req, res, url, body, userId);
    this.log.push({ endpoint: route, userId, status, method: req.method ?? 'GET', path: url.pathname });
  }

  private route(method: string, path: string): FakeEndpoint | null {
    const table: Record<string, FakeEndpoint> = {
      'GET /authorize': 'authorize',
      'POST /api/token': 'token',
      'GET /v1/me': 'me',
      'GET /v1/me/player/currently-playing': 'currently-playing',
      'GET /v1/me/player': 'player',
      'GET /v1/me/player/queue': 'queue-get',
      'POST /v1/me/player/queue': 'queue',
      'PUT /v1/me/player/play': 'play',
      'PUT /v1/me/player/pause': 'pause',
      'PUT /v1/me/player/seek': 'seek',
      'GET /v1/me/player/devices': 'devices',
      'PUT /v1/me/player': 'transfer',
      'GET /v1/me/player/recently-played': 'recently-played',
      'GET /v1/search': 'search',
      'POST /v1/me/playlists': 'create-playlist',
    };
    if (method === 'POST' && /^\/v1\/playlists\/[^/]+\/items$/.test(path)) return 'playlist-items';
    if (/^\/v1\/playlists\/[^/]+\/tracks$/.test(path)) return 'playlist-tracks';
    if (method === 'GET' && /^\/v1\/tracks\/[^/]+$/.test(path)) return 'track';
    if (method === 'GET' && /^\/images\/[A-Za-z0-9_-]+\.(jpg|png)$/.test(path)) return 'image';
    return table[`${method} ${path}`] ?? null;
  }

  private takeScript(endpoint: FakeEndpoint, userId: string | null): ScriptedResponse | null {
    const script = this.scripts.find((s) => s.endpoint === endpoint && (!s.userId || s.userId === userId));
    if (!script) return null;
    if (--script.remaining <= 0) this.scripts.splice(this.scripts.indexOf(script), 1);
    return script.response;
  }

  private sendScripted(res: ServerResponse, scripted: ScriptedResponse): number {
    const isText = typeof scripted.body === 'string';
    res.writeHead(scripted.status, {
      ...(scripted.body === undefined ? {} : { 'content-type': isText ? 'text/plain' : 'application/json' }),
      ...scripted.headers,
    });
    res.end(scripted.body === undefined ? undefined : isText ? (scripted.body as string) : JSON.stringify(scripted.body));
    return scripted.status;
  }

  private tokenUser(body: string): string | null {
    const form = new URLSearchParams(body);
    const key = form.get('grant_type') === 'refresh_token' ? form.get('refresh_token') : form.get('code');
    if (!key) return null;
    return (form.get('grant_type') === 'refresh_token' ? this.refreshTokens.get(key) : this.codes.get(key))?.userId ?? null;
  }

  private bearerUser(req: IncomingMessage): string | null {
    return this.bearerGrant(req)?.userId ?? null;
  }

  private bearerGrant(req: IncomingMessage): AccessGrant | null {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const grant = token ? this.accessTokens.get(token) : undefined;
    return grant && grant.expiresAt > Date.now() ? grant : null;
  }

  /** A development-mode app answers 403 for every user missing from its allowlist. */
  private outsideAllowlist(req: IncomingMessage): boolean {
    const grant = this.bearerGrant(req);
    const allowed = grant ? this.allowlists.get(grant.clientId) : undefined;
    return Boolean(grant && allowed && !allowed.has(grant.userId));
  }

  private async answer(route: FakeEndpoint, req: IncomingMessage, res: ServerResponse, url: URL, body: string, userId: string | null): Promise<number> {
    if (route === 'authorize') return this.authorize(res, url.searchParams);
    if (route === 'token') return this.token(req, res, new URLSearchParams(body));
    if (route === 'image') return this.image(res, url.pathname);
    if (!userId) return this.json(res, 401, { error: { status: 401, message: 'Invalid access token' } });
    if (this.outsideAllowlist(req)) return this.json(res, 403, { error: { status: 403, message: 'User not registered in the Developer Dashboard' } });
    const user = this.user(userId);
    switch (route) {
      case 'me':
        return this.json(res, 200, {
          id: user.id,
          account_id: user.accountId,
          display_name: user.displayName,
          product: user.premium ? 'premium' : 'free',
          type: 'user',
          uri: `spotify:user:${user.id}`,
        });
      case 'currently-playing':
        return this.currentlyPlaying(req, res, user);
      case 'player':
        return this.player(res, user);
      case 'queue-get':
        return this.json(res, 200, { currently_playing: user.playing ? this.trackJson(user.playing.track) : null, queue: [] });
      case 'queue':
        return this.addToQueue(res, user, url.searchParams.get('uri'));
      case 'play':
        return this.play(res, user, body);
      case 'pause':
        return this.playerRefusal(res, user) ?? this.pause(res, user);
      case 'seek':
        return this.seek(res, user, url.searchParams.get('position_ms'));
      case 'devices':
        return this.json(res, 200, {
          devices: user.devices.map((d) => ({ ...d, is_private_session: false, is_restricted: false, volume_percent: 60, supports_volume: true })),
        });
      case 'transfer':
        return this.transfer(res, user, body);
      case 'track':
        return this.catalogTrack(res, url.pathname.slice('/v1/tracks/'.length));
      case 'recently-played':
        return this.recentlyPlayed(res, user, url);
      case 'search':
        return this.search(res, url.searchParams);
      case 'create-playlist':
        return this.createPlaylist(req, res, user, body);
      case 'playlist-items':
        return this.addPlaylistItems(req, res, user, url.pathname.split('/')[3] ?? '', body);
      case 'playlist-tracks':
        return this.json(res, 403, { error: { status: 403, message: 'Forbidden' } });
      default:
        return this.json(res, 404, { error: { status: 404, message: 'Service not found' } });
    }
  }

  private authorize(res: ServerResponse, query: URLSearchParams): number {
    this.lastAuthorize = query;
    const clientId = query.get('client_id') ?? '';
    const redirectUri = query.get('redirect_uri') ?? '';
    if (!this.apps.has(clientId)) return this.text(res, 400, 'INVALID_CLIENT: Invalid client');
    if (query.get('response_type') !== 'code' || !/^https?:\/\//.test(redirectUri)) {
      return this.text(res, 400, 'INVALID_REQUEST: response_type must be code and redirect_uri absolute');
    }
    const challenge = query.get('code_challenge');
    if (challenge && query.get('code_challenge_method') !== 'S256') return this.text(res, 400, 'INVALID_REQUEST: code_challenge_method must be S256');
    const target = new URL(redirectUri);
    const state = query.get('state');
    if (this.denyOnce || !this.approver) {
      this.denyOnce = false;
      target.searchParams.set('error', 'access_denied');
    } else {
      const code = `code-${token()}`;
      this.codes.set(code, { userId: this.approver, clientId, scope: query.get('scope') ?? '', redirectUri, challenge, used: false });
      target.searchParams.set('code', code);
    }
    if (state !== null) target.searchParams.set('state', state);
    res.writeHead(302, { location: target.toString() });
    res.end();
    return 302;
  }

  private token(req: IncomingMessage, res: ServerResponse, form: URLSearchParams): number {
    const client = this.client(req, form);
    if (!client) return this.json(res, 400, { error: 'invalid_client', error_description: 'Invalid client' });
    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code') return this.exchange(res, form, client);
    if (grantType === 'refresh_token') return this.refresh(res, form, client.clientId);
    return this.json(res, 400, { error: 'unsupported_grant_type', error_description: 'grant_type must be authorization_code or refresh_token' });
  }

  /** The calling app, from Basic auth (secret checked) or the client_id form field (PKCE). */
  private client(req: IncomingMessage, form: URLSearchParams): { clientId: string; authenticated: boolean } | null {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (basic) {
      const [id, secret] = Buffer.from(basic, 'base64').toString().split(':');
      return id && this.apps.has(id) && this.apps.get(id) === secret ? { clientId: id, authenticated: true } : null;
    }
    const id = form.get('client_id') ?? '';
    return this.apps.has(id) ? { clientId: id, authenticated: false } : null;
  }

  private exchange(res: ServerResponse, form: URLSearchParams, client: { clientId: string; authenticated: boolean }): number {
    const grant = this.codes.get(form.get('code') ?? '');
    const invalid = (description: string) => this.json(res, 400, { error: 'invalid_grant', error_description: description });
    if (!grant || grant.used || grant.clientId !== client.clientId) return invalid('Invalid authorization code');
    grant.used = true;
    if (grant.redirectUri !== form.get('redirect_uri')) return invalid('Invalid redirect URI');
    if (grant.challenge) {
      const verifier = form.get('code_verifier') ?? '';
      this.verifiers.push(verifier);
      if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return invalid('code_verifier was incorrect');
    } else if (!client.authenticated) {
      return this.json(res, 400, { error: 'invalid_client', error_description: 'Client secret required without PKCE' });
    }
    const refresh = `rt-${token()}`;
    this.refreshTokens.set(refresh, { userId: grant.userId, clientId: grant.clientId, scope: grant.scope });
    return this.json(res, 200, { ...this.issueAccess(grant), refresh_token: refresh });
  }

  private refresh(res: ServerResponse, form: URLSearchParams, clientId: string): number {
    const old = form.get('refresh_token') ?? '';
    const grant = this.refreshTokens.get(old);
    if (!grant || grant.clientId !== clientId) return this.json(res, 400, { error: 'invalid_grant', error_description: 'Refresh token revoked' });
    const answer: Record<string, unknown> = this.issueAccess(grant);
    if (this.rotate) {
      const next = `rt-${token()}`;
      this.refreshTokens.delete(old);
      this.refreshTokens.set(next, grant);
      answer.refresh_token = next;
    }
    return this.json(res, 200, answer);
  }

  private issueAccess(grant: Grant): { access_token: string; token_type: string; expires_in: number; scope: string } {
    const access = `at-${token()}`;
    this.accessTokens.set(access, { ...grant, expiresAt: Date.now() + this.ttlSeconds * 1000 });
    return { access_token: access, token_type: 'Bearer', expires_in: this.ttlSeconds, scope: grant.scope };
  }

  private currentlyPlaying(req: IncomingMessage, res: ServerResponse, user: FakeUser): number {
    const playback = this.playbackOf(user.id);
    if (!playback || !user.playing) return this.empty(res, 204);
    const body = JSON.stringify({
      timestamp: this.clock(),
      context: null,
      progress_ms: playback.progress_ms,
      is_playing: playback.is_playing,
      currently_playing_type: 'track',
      item: this.trackJson(playback.track),
      actions: { disallows: {} },
    });
    const etag = `"${createHash('sha1')
      // The state as last set (a play, a pause, a seek), not its moving progress: the ETag changes when the state does.
      .update(JSON.stringify([user.playing, playback.is_playing]))
      .digest('hex')
      .slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag });
      res.end();
      return 304;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag });
    res.end(body);
    return 200;
  }

  private player(res: ServerResponse, user: FakeUser): number {
    const active = user.activeDevice ? (user.devices.find((d) => d.is_active) ?? user.devices[0]) : undefined;
    if (!active) return this.empty(res, 204);
    const playback = this.playbackOf(user.id);
    return this.json(res, 200, {
      device: { ...active, is_active: true, volume_percent: 60 },
      shuffle_state: false,
      repeat_state: 'off',
      timestamp: this.clock(),
      context: null,
      progress_ms: playback?.progress_ms ?? null,
      is_playing: playback?.is_playing ?? false,
      item: playback ? this.trackJson(playback.track) : null,
      currently_playing_type: 'track',
    });
  }

  private playerRefusal(res: ServerResponse, user: FakeUser): number | null {
    if (!user.premium) return this.json(res, 403, { error: { status: 403, message: 'Player command failed: Premium required', reason: 'PREMIUM_REQUIRED' } });
    if (!user.activeDevice)
      return this.json(res, 404, { error: { status: 404, message: 'Player command failed: No active device found', reason: 'NO_ACTIVE_DEVICE' } });
    return null;
  }

  private addToQueue(res: ServerResponse, user: FakeUser, uri: string | null): number {
    if (!uri || !/^spotify:(track|episode):[A-Za-z0-9]+$/.test(uri)) return this.json(res, 400, { error: { status: 400, message: 'Invalid base62 id' } });
    const refused = this.playerRefusal(res, user);
    if (refused !== null) return refused;
    user.queue.push(uri);
    return this.empty(res, 204);
  }

  private play(res: ServerResponse, user: FakeUser, body: string): number {
    let request: PlayRequest;
    try {
      request = body ? (JSON.parse(body) as PlayRequest) : {};
    } catch {
      return this.json(res, 400, { error: { status: 400, message: 'Malformed json' } });
    }
    if (request.position_ms !== undefined && (!Number.isInteger(request.position_ms) || request.position_ms < 0)) {
      return this.json(res, 400, { error: { status: 400, message: 'position_ms must be a non-negative integer' } });
    }
    const refused = this.playerRefusal(res, user);
    if (refused !== null) return refused;
    if (Array.isArray(request.uris)) user.played.push(...request.uris.map(String));
    user.playRequests.push(request);
    const first = Array.isArray(request.uris) ? String(request.uris[0] ?? '') : '';
    const id = /^spotify:track:([A-Za-z0-9]+)$/.exec(first)?.[1];
    if (id) {
      const track = this.catalog.get(id) ?? fakeTrack(id);
      user.playing = { track, progress_ms: Math.min(request.position_ms ?? 0, track.duration_ms), is_playing: true, since: this.clock() };
    } else if (!first && user.playing) {
      const now = this.playbackOf(user.id)!;
      user.playing = { track: now.track, progress_ms: request.position_ms ?? now.progress_ms, is_playing: true, since: this.clock() };
    }
    return this.empty(res, 204);
  }

  private pause(res: ServerResponse, user: FakeUser): number {
    const now = this.playbackOf(user.id);
    if (now) user.playing = { track: now.track, progress_ms: now.progress_ms, is_playing: false, since: this.clock() };
    return this.empty(res, 204);
  }

  private seek(res: ServerResponse, user: FakeUser, position: string | null): number {
    const ms = Number(position);
    if (position === null || !Number.isInteger(ms) || ms < 0) return this.json(res, 400, { error: { status: 400, message: 'Missing or invalid position_ms' } });
    const refused = this.playerRefusal(res, user);
    if (refused !== null) return refused;
    const now = this.playbackOf(user.id);
    if (now) user.playing = { track: now.track, progress_ms: Math.min(ms, now.track.duration_ms), is_playing: now.is_playing, since: this.clock() };
    return this.empty(res, 204);
  }

  private transfer(res: ServerResponse, user: FakeUser, body: string): number {
    let ids: unknown;
    let play: unknown;
    try {
      ({ device_ids: ids, play } = JSON.parse(body) as { device_ids?: unknown; play?: unknown });
    } catch {
      return this.json(res, 400, { error: { status: 400, message: 'Malformed json' } });
    }
    if (!Array.isArray(ids) || ids.length !== 1) return this.json(res, 400, { error: { status: 400, message: 'device_ids must hold exactly one id' } });
    const target = user.devices.find((d) => d.id === ids[0]);
    if (!target) return this.json(res, 404, { error: { status: 404, message: 'Device not found' } });
    if (!user.premium) return this.json(res, 403, { error: { status: 403, message: 'Player command failed: Premium required', reason: 'PREMIUM_REQUIRED' } });
    for (const d of user.devices) d.is_active = d === target;
    user.activeDevice = true;
    const now = this.playbackOf(user.id);
    if (now && play === true) user.playing = { track: now.track, progress_ms: now.progress_ms, is_playing: true, since: this.clock() };
    return this.empty(res, 204);
  }

  private search(res: ServerResponse, q: URLSearchParams): number {
    const query = (q.get('q') ?? '').trim().toLowerCase();
    if (!query) return this.json(res, 400, { error: { status: 400, message: 'No search query' } });
    if (!(q.get('type') ?? '').split(',').includes('track')) return this.json(res, 400, { error: { status: 400, message: 'Missing parameter type' } });
    const limit = Number(q.get('limit') ?? 5);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10) return this.json(res, 400, { error: { status: 400, message: 'Invalid limit' } });
    const words = query.split(/\s+/);
    const found = [...this.catalog.values()].filter((t) => {
      const text = [t.name, t.album, ...t.artists].join(' ').toLowerCase();
      return words.every((w) => text.includes(w));
    });
    return this.json(res, 200, { tracks: { items: found.slice(0, limit).map((t) => this.trackJson(t)), total: found.length, limit, offset: 0 } });
  }

  /** The scopes the bearer's sign-in granted: playlist writes need playlist-modify-private (or -public). */
  private lacksScope(req: IncomingMessage, scope: string): boolean {
    return !(this.bearerGrant(req)?.scope ?? '').split(' ').includes(scope);
  }

  private createPlaylist(req: IncomingMessage, res: ServerResponse, user: FakeUser, body: string): number {
    let parsed: { name?: unknown; description?: unknown; public?: unknown };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      return this.json(res, 400, { error: { status: 400, message: 'Malformed json' } });
    }
    if (typeof parsed.name !== 'string' || !parsed.name) return this.json(res, 400, { error: { status: 400, message: 'Missing required field: name' } });
    const isPublic = parsed.public !== false;
    if (this.lacksScope(req, isPublic ? 'playlist-modify-public' : 'playlist-modify-private')) {
      return this.json(res, 403, { error: { status: 403, message: 'Insufficient client scope' } });
    }
    const id = token()
      .replace(/[^A-Za-z0-9]/g, '')
      .padEnd(22, '0')
      .slice(0, 22);
    const playlist: FakePlaylist = {
      id,
      owner: user.id,
      name: parsed.name,
      description: typeof parsed.description === 'string' ? parsed.description : '',
      public: isPublic,
      uris: [],
    };
    this.playlists.set(id, playlist);
    return this.json(res, 201, {
      id,
      uri: `spotify:playlist:${id}`,
      name: playlist.name,
      description: playlist.description,
      public: playlist.public,
      owner: { id: user.id, display_name: user.displayName },
      external_urls: { spotify: `https://open.spotify.com/playlist/${id}` },
      items: { total: 0 },
    });
  }

  private addPlaylistItems(req: IncomingMessage, res: ServerResponse, user: FakeUser, id: string, body: string): number {
    const playlist = this.playlists.get(id);
    if (!playlist) return this.json(res, 404, { error: { status: 404, message: 'Resource not found' } });
    if (playlist.owner !== user.id) return this.json(res, 403, { error: { status: 403, message: 'Forbidden' } });
    if (this.lacksScope(req, playlist.public ? 'playlist-modify-public' : 'playlist-modify-private')) {
      return this.json(res, 403, { error: { status: 403, message: 'Insufficient client scope' } });
    }
    let uris: unknown;
    try {
      uris = (JSON.parse(body) as { uris?: unknown }).uris;
    } catch {
      return this.json(res, 400, { error: { status: 400, message: 'Malformed json' } });
    }
    if (!Array.isArray(uris) || uris.length < 1 || uris.length > 100) {
      return this.json(res, 400, { error: { status: 400, message: 'You can add a maximum of 100 items per request.' } });
    }
    if (!uris.every((u) => typeof u === 'string' && /^spotify:(track|episode):[A-Za-z0-9]{22}$/.test(u))) {
      return this.json(res, 400, { error: { status: 400, message: 'Invalid base62 id' } });
    }
    playlist.uris.push(...(uris as string[]));
    return this.json(res, 201, { snapshot_id: `snap-${playlist.uris.length}` });
  }

  private catalogTrack(res: ServerResponse, id: string): number {
    if (!/^[A-Za-z0-9]{22}$/.test(id)) return this.json(res, 400, { error: { status: 400, message: 'Invalid base62 id' } });
    const track = this.catalog.get(id);
    if (!track) return this.json(res, 404, { error: { status: 404, message: 'Resource not found' } });
    return this.json(res, 200, this.trackJson(track));
  }

  private recentlyPlayed(res: ServerResponse, user: FakeUser, url: URL): number {
    const q = url.searchParams;
    const limit = Number(q.get('limit') ?? 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 50) return this.json(res, 400, { error: { status: 400, message: 'Invalid limit' } });
    if (q.has('after') && q.has('before')) return this.json(res, 400, { error: { status: 400, message: 'Only one of after and before may be given' } });
    const after = q.has('after') ? Number(q.get('after')) : null;
    const before = q.has('before') ? Number(q.get('before')) : null;
    const at = (p: { played_at: string }) => Date.parse(p.played_at);
    let pool = user.recent;
    if (after !== null) pool = pool.filter((p) => at(p) > after);
    if (before !== null) pool = pool.filter((p) => at(p) < before);
    // Newest first; with `after`, the page closest to the cursor (so paging forward works).
    const page = after !== null ? pool.slice(Math.max(0, pool.length - limit)) : pool.slice(0, limit);
    const more = pool.length > page.length;
    const cursors = page.length ? { after: String(at(page[0]!)), before: String(at(page[page.length - 1]!)) } : null;
    const next =
      more && cursors
        ? `${this.apiUrl}/me/player/recently-played?limit=${limit}&${after !== null ? `after=${cursors.after}` : `before=${cursors.before}`}`
        : null;
    return this.json(res, 200, {
      href: url.toString(),
      limit,
      next,
      cursors,
      total: undefined,
      items: page.map((p) => ({ track: this.trackJson(p.track), played_at: p.played_at, context: null })),
    });
  }

  private image(res: ServerResponse, path: string): number {
    let bytes = this.images.get(path);
    if (!bytes) {
      const [, id, ext] = /^\/images\/(.+)\.(jpg|png)$/.exec(path)!;
      const size = ext === 'png' ? 64 : 300;
      const canvas = createCanvas(size, size);
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = `#${createHash('sha1').update(id!).digest('hex').slice(0, 6)}`;
      ctx.fillRect(0, 0, size, size);
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(size / 4, size / 4, size / 2, size / 2);
      bytes = ext === 'png' ? canvas.toBuffer('image/png') : canvas.toBuffer('image/jpeg');
      this.images.set(path, bytes);
    }
    res.writeHead(200, { 'content-type': path.endsWith('.png') ? 'image/png' : 'image/jpeg', 'content-length': bytes.length });
    res.end(bytes);
    return 200;
  }

  trackJson(track: FakeTrack): Record<string, unknown> {
    return {
      id: track.id,
      uri: `spotify:track:${track.id}`,
      name: track.name,
      type: 'track',
      duration_ms: track.duration_ms,
      artists: track.artists.map((name, i) => ({ id: `ar${track.id}${i}`, name, uri: `spotify:artist:ar${track.id}${i}` })),
      album: {
        id: `al${track.id}`,
        name: track.album,
        uri: `spotify:album:al${track.id}`,
        images: [
          { url: `${this.origin}/images/${track.id}.jpg`, width: 300, height: 300 },
          { url: `${this.origin}/images/${track.id}.png`, width: 64, height: 64 },
        ],
      },
      external_urls: { spotify: `https://open.spotify.com/track/${track.id}` },
    };
  }

  private json(res: ServerResponse, status: number, body: unknown): number {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    return status;
  }

  private text(res: ServerResponse, status: number, body: string): number {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(body);
    return status;
  }

  private empty(res: ServerResponse, status: number): number {
    res.writeHead(status);
    res.end();
    return status;
  }
}

function token(): string {
  return randomBytes(18).toString('base64url');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startFakeSpotify(): Promise<FakeSpotify> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return new FakeSpotify(server);
}

/** Signs a user in through the fake's own authorize + token endpoints (app `app-1`, PKCE); returns its tokens. */
export async function signInThroughFake(spotify: FakeSpotify, userId: string): Promise<{ access: string; refresh: string }> {
  spotify.approveAs(userId);
  const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
  const authorize = await fetch(
    `${spotify.accountsUrl}/authorize?client_id=app-1&response_type=code&redirect_uri=http://127.0.0.1/cb&state=s&code_challenge=${challenge}&code_challenge_method=S256`,
    { redirect: 'manual' },
  );
  const code = new URL(authorize.headers.get('location')!).searchParams.get('code')!;
  const answer = await fetch(`${spotify.accountsUrl}/api/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: 'http://127.0.0.1/cb',
      client_id: 'app-1',
      code_verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
    }),
  });
  const body = (await answer.json()) as { access_token: string; refresh_token: string };
  return { access: body.access_token, refresh: body.refresh_token };
}
