import express, { type NextFunction, type Request, type Response } from 'express';
import { ERROR_CODES, httpStatusOf, ProtocolError } from '../../protocol/errors.js';
import {
  CrewQueueAddRequest,
  CrewQueueCommandRequest,
  CrewSettingsRequest,
  CrewSpotifyAppRequest,
  type CrewCommandResponse,
  type CrewQueueCommandType,
  type CrewSettingsResponse,
  type CrewStateResponse,
} from '../../protocol/crew-pages.js';
import { PAGE_EVENT_TYPES, type CrewEvent } from '../../protocol/messages.js';
import { describeIssues } from '../../protocol/parse.js';
import { QueueTrack, spotifyTrackUriFrom } from '../../protocol/queue.js';
import type { RelayContext } from '../feature.js';
import { cookieValue } from '../http-cookies.js';
import { clientErrorOf, sendError, sendJson } from '../http-errors.js';
import type { Actor, CommandResult, CrewSpotifyApp, QueueCommand, QueueCommands } from '../ports.js';
import { KeyedBuckets } from '../token-bucket.js';
import { crewPageHtml, linkErrorPageHtml } from './crew-page.js';
import type { CrewViewer, MemberLinks } from './member-links.js';
import { CrewInvites, isPhoneMember } from './crew-invites.js';
import { setShareHistory } from '../crew-visibility.js';
import { recoveryFor } from '../recovery.js';

export interface CrewPagesDeps {
  /** The owner's "Spotify app for this crew" (absent: the relay runs without the Spotify feature). */
  readonly spotifyApp?: CrewSpotifyApp;
  readonly context: RelayContext;
  readonly queue: QueueCommands;
  readonly links: MemberLinks;
  readonly now: () => number;
  /** Mounted at /crew/api behind the member link, with res.locals.historyViewer set. */
  readonly memberApi?: express.Router;
}

const COOKIE = 'leeloo_crew';
const SSE_HEARTBEAT_MS = 25_000;
const RECENT_EVENTS = 30;
const PAGE_EVENTS: ReadonlySet<string> = new Set(PAGE_EVENT_TYPES);

interface Stream {
  readonly res: Response;
  readonly viewer: CrewViewer;
  /** The newest crew seq written to this stream (its SSE id); older events are not written again. */
  lastSeq: number;
  /** Live events that came while the stream was catching up from the store; null once caught up. */
  backlog: CrewEvent[] | null;
}

/** A page that missed more than this many crew events reloads its state instead of replaying them. */
const REPLAY_LIMIT = 500;

/**
 * The crew's pages for phones: `/c/<signed link>` trades the link for a cookie and sends
 * the phone to `/crew`, so the link does not stay in the address bar, history or logs.
 * `/crew/api/…` is the JSON API and `/crew/api/events` the live stream (SSE) of crew events.
 */
export class CrewPages {
  readonly router = express.Router();
  private readonly deps: CrewPagesDeps;
  private readonly streams = new Map<string, Set<Stream>>();
  private heartbeat: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  /** The crew API's rate, per member link (crew and member), as each socket has one. */
  private readonly buckets: KeyedBuckets;

  constructor(deps: CrewPagesDeps) {
    this.deps = deps;
    const { perSecond, burst } = deps.context.config.rateLimit;
    this.buckets = new KeyedBuckets(perSecond, burst, deps.now);
    this.routes();
  }

  start(): void {
    this.unsubscribe = this.deps.context.onLiveCrewEvent((event, crewId) => this.fanOut(event, crewId));
    // One interval for every stream: proxies close idle connections, and a stream whose
    // link has expired since it opened is ended even in a quiet crew.
    this.heartbeat = setInterval(() => {
      const now = this.deps.now();
      for (const [crewId, set] of this.streams) {
        for (const stream of set) {
          if (stream.viewer.expiresAt <= now) this.expire(crewId, stream);
          else this.write(stream, ': keep-alive\n\n');
        }
      }
    }, SSE_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.eachStream((s) => s.res.end());
    this.streams.clear();
  }

  private routes(): void {
    const r = this.router;
    const json = express.json({ limit: '16kb' });
    const invites = new CrewInvites({
      context: this.deps.context,
      links: this.deps.links,
      now: this.deps.now,
      signIn: (req, res, token, expiresAt) => this.signIn(req, res, token, expiresAt),
      refuse: (res, error, hint) => this.linkError(res, error, hint),
    });
    r.get('/c/:token', (req, res) => void this.openLink(req, res));
    r.use(invites.pageRouter);
    r.get('/crew', (req, res) => void this.page(req, res));
    r.use('/crew/api', (req, res, next) => void this.authorize(req, res, next));
    r.use('/crew/api', invites.apiRouter);
    r.get(
      '/crew/api/state',
      this.handle((viewer) => this.state(viewer)),
    );
    r.get('/crew/api/events', (req, res) => this.events(req, res));
    r.post(
      '/crew/api/queue',
      json,
      this.handle((viewer, req) => this.add(viewer, body(req))),
    );
    r.post(
      '/crew/api/queue/:itemId/vote',
      json,
      this.command('queue_vote', (req) => ({ item_id: req.params.itemId, ...body(req) })),
    );
    r.post(
      '/crew/api/queue/:itemId/jam',
      json,
      this.command('queue_jam', (req) => ({ item_id: req.params.itemId, ...body(req) })),
    );
    r.delete(
      '/crew/api/queue/:itemId',
      json,
      this.command('queue_remove', (req) => ({ item_id: req.params.itemId, ...body(req) })),
    );
    r.post(
      '/crew/api/queue/:itemId/skip-vote',
      json,
      this.command('queue_skip_vote', (req) => ({ item_id: req.params.itemId, ...body(req) })),
    );
    r.post('/crew/api/queue/skip', json, this.command('queue_skip', body));
    r.post('/crew/api/queue/pause', json, this.command('queue_pause', body));
    r.post('/crew/api/queue/resume', json, this.command('queue_resume', body));
    r.post('/crew/api/queue/clear', json, this.command('queue_clear', body));
    r.post('/crew/api/queue/throwback', json, this.command('queue_throwback', body));
    r.post('/crew/api/airhorn', json, this.command('airhorn', body));
    r.get(
      '/crew/api/spotify-app',
      this.ownerOnly((viewer) => this.spotifyApp().status(viewer.crewId)),
    );
    r.put(
      '/crew/api/spotify-app',
      json,
      this.ownerOnly((viewer, req) => {
        const parsed = CrewSpotifyAppRequest.safeParse(body(req));
        if (!parsed.success) throw new ProtocolError('invalid_message', `${describeIssues(parsed.error)}.`);
        return this.spotifyApp().register(viewer.crewId, parsed.data.client_id, parsed.data.client_secret);
      }),
    );
    r.delete(
      '/crew/api/spotify-app',
      this.ownerOnly((viewer) => this.spotifyApp().remove(viewer.crewId)),
    );
    r.put(
      '/crew/api/crew-settings',
      json,
      this.handle((viewer, req) => this.settings(viewer, body(req))),
    );
    r.post(
      '/crew/api/spotify-app/check',
      json,
      this.ownerOnly((viewer) => this.spotifyApp().startCheck(viewer.deviceId)),
    );
    if (this.deps.memberApi) r.use('/crew/api', this.deps.memberApi);
    r.use('/crew/api', (_req, res) => sendError(res, new ProtocolError('not_found', 'There is no such crew API path.'), this.deps.context.log));
    r.use('/crew', (error: unknown, _req: Request, res: Response, next: NextFunction) => {
      if (res.headersSent) return next(error);
      sendError(res, error, this.deps.context.log);
    });
  }

  private async openLink(req: Request, res: Response): Promise<void> {
    try {
      const token = String(req.params.token);
      const viewer = await this.deps.links.authorize(this.deps.context.store, token, this.deps.now());
      this.signIn(req, res, token, viewer.expiresAt);
    } catch (error) {
      this.linkError(res, error);
    }
  }

  /** Keeps the member link in a cookie and sends the phone to /crew, so the link leaves the address bar. */
  private signIn(req: Request, res: Response, token: string, expiresAt: number): void {
    res.cookie(COOKIE, token, {
      httpOnly: true,
      sameSite: 'lax',
      secure: req.secure,
      path: '/crew',
      maxAge: expiresAt - this.deps.now(),
    });
    res.set('Referrer-Policy', 'no-referrer').redirect(303, '/crew');
  }

  private async page(req: Request, res: Response): Promise<void> {
    try {
      const viewer = await this.viewerOf(req);
      res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', 'Content-Security-Policy': PAGE_CSP });
      res.type('html').send(crewPageHtml(viewer));
    } catch (error) {
      this.linkError(res, error);
    }
  }

  private linkError(res: Response, error: unknown, hint?: string): void {
    const known = clientErrorOf(error) ?? new ProtocolError('internal_error');
    if (known.code === 'internal_error') this.deps.context.log.error({ err: error, requestId: res.locals.requestId }, 'crew page failed');
    res
      .status(httpStatusOf(known.code))
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(linkErrorPageHtml(known.code, known.message, hint));
  }

  private async viewerOf(req: Request): Promise<CrewViewer> {
    const token = cookieValue(req.headers.cookie, COOKIE);
    if (!token) throw new ProtocolError('link_invalid', 'Open the crew pages with the link your gadget shows (scan its QR code).');
    return this.deps.links.authorize(this.deps.context.store, token, this.deps.now());
  }

  private async authorize(req: Request, res: Response, next: NextFunction): Promise<void> {
    try {
      const viewer = await this.viewerOf(req);
      const taken = this.buckets.take(`${viewer.crewId}/${viewer.deviceId}`);
      if (!taken.ok) {
        throw new ProtocolError('rate_limited', `Too many requests from this crew link; wait ${taken.retryAfterMs} ms.`, taken.retryAfterMs);
      }
      res.locals.viewer = viewer;
      res.locals.historyViewer = { deviceId: viewer.deviceId, crewId: viewer.crewId };
      next();
    } catch (error) {
      sendError(res, error, this.deps.context.log);
    }
  }

  private handle(work: (viewer: CrewViewer, req: Request) => Promise<unknown>) {
    return (req: Request, res: Response) => sendJson(res, () => work(res.locals.viewer as CrewViewer, req), this.deps.context.log);
  }

  /** The crew's Spotify app is the owner's to manage, as on the socket (spotify_app_register). */
  private ownerOnly(work: (viewer: CrewViewer, req: Request) => Promise<unknown>) {
    return this.handle(async (viewer, req) => {
      if (!viewer.isOwner) throw new ProtocolError('not_owner', "Only the crew owner may manage the crew's Spotify app.");
      return work(viewer, req);
    });
  }

  private spotifyApp(): CrewSpotifyApp {
    if (!this.deps.spotifyApp) throw new ProtocolError('spotify_not_configured');
    return this.deps.spotifyApp;
  }

  private command(type: CrewQueueCommandType, fields: (req: Request) => Record<string, unknown>) {
    return this.handle(async (viewer, req): Promise<CrewCommandResponse> => {
      const parsed = CrewQueueCommandRequest[type].safeParse(fields(req));
      if (!parsed.success) throw new ProtocolError('invalid_message', `${describeIssues(parsed.error)}.`);
      return commandAnswer(await this.deps.queue.run(viewer.crewId, actorOf(viewer), { ...parsed.data, type } as QueueCommand));
    });
  }

  /** The owner's crew settings, as on the socket (set_crew_settings). */
  private async settings(viewer: CrewViewer, input: Record<string, unknown>): Promise<CrewSettingsResponse> {
    const parsed = CrewSettingsRequest.safeParse(input);
    if (!parsed.success) throw new ProtocolError('invalid_message', `${describeIssues(parsed.error)}.`);
    const { context } = this.deps;
    const by = { deviceId: viewer.deviceId, clientMsgId: parsed.data.client_msg_id };
    const result = await setShareHistory(
      { crews: context.store.crews, log: context.store.log, publish: context.publish },
      viewer,
      parsed.data.share_history,
      by,
    );
    return { ok: true, seq: result.seq, duplicate: result.duplicate, share_history: parsed.data.share_history };
  }

  /** Adds a pasted link or URI; title and artist come from the form when the relay cannot look them up. */
  private async add(viewer: CrewViewer, input: Record<string, unknown>): Promise<CrewCommandResponse> {
    const request = CrewQueueAddRequest.safeParse(input);
    if (!request.success) throw new ProtocolError('invalid_message', `${describeIssues(request.error)}.`);
    const { link, spotify_uri, client_msg_id, ...fields } = request.data;
    const uri = spotifyTrackUriFrom(link ?? spotify_uri ?? '');
    if (!uri) throw new ProtocolError('invalid_message', 'Paste a Spotify track link (https://open.spotify.com/track/…) or URI (spotify:track:…).');
    const typed = given(fields);
    // A pasted link alone is enough when Spotify can name the track; what the person typed wins.
    const needsLookup = !isFilled(typed.track) || !isFilled(typed.artist);
    const found = needsLookup ? await this.deps.queue.lookUp(viewer.crewId, viewer.deviceId, uri) : null;
    const parsed = QueueTrack.safeParse({ ...found, ...typed, spotify_uri: uri });
    if (!parsed.success) {
      throw new ProtocolError('invalid_message', `This track could not be looked up on Spotify; add the title and artist (${describeIssues(parsed.error)}).`);
    }
    const command = { type: 'queue_add' as const, ...parsed.data, client_msg_id };
    return commandAnswer(await this.deps.queue.run(viewer.crewId, actorOf(viewer), command));
  }

  private async state(viewer: CrewViewer): Promise<CrewStateResponse> {
    const { store } = this.deps.context;
    const [crew, members, queue] = await Promise.all([
      store.crews.getCrew(viewer.crewId),
      store.crews.listMembers(viewer.crewId),
      this.deps.queue.snapshot(viewer.crewId),
    ]);
    const latest = crew?.latestSeq ?? 0;
    // Members without a gadget (Telegram users of the bot, phone members by invite) are marked as such.
    const telegram = await store.telegram.telegramDevices(members.map((m) => m.deviceId));
    const events = await store.log.readEvents(viewer.crewId, Math.max(viewer.firstVisibleSeq - 1, latest - 500));
    const recent = events
      .map((e) => e.event)
      .filter(isRecentItem)
      .slice(-RECENT_EVENTS)
      .reverse();
    return {
      me: { device_id: viewer.deviceId, display_name: viewer.displayName, is_owner: viewer.isOwner },
      crew: {
        crew_name: crew?.crewName ?? viewer.crewName,
        share_history: crew?.shareHistory ?? viewer.shareHistory,
        members: members.map((m) => ({
          device_id: m.deviceId,
          display_name: m.displayName,
          is_owner: m.isOwner,
          online: this.deps.context.isOnline(m.deviceId),
          ...(telegram.has(m.deviceId) ? { via: 'telegram' as const } : isPhoneMember(m.deviceId) ? { via: 'phone' as const } : {}),
        })),
      },
      queue,
      recent,
      latest_seq: latest,
      link_expires_at: viewer.expiresAt,
      server_time: this.deps.now(),
    };
  }

  /**
   * The live stream. Every event carries its crew seq as the SSE id, so a page that reconnects
   * (the browser sends Last-Event-ID; the page's first connection says `?after=<latest_seq of
   * its state>`) gets what it missed, in order, once — after a relay restart or a phone that
   * slept — or `resync` (reload the state) when that is more than REPLAY_LIMIT events or no
   * longer stored.
   */
  private events(req: Request, res: Response): void {
    const viewer = res.locals.viewer as CrewViewer;
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write('retry: 3000\n\n');
    const after = seqFrom(req.get('last-event-id')) ?? seqFrom(req.query.after);
    const stream: Stream = { res, viewer, lastSeq: after ?? 0, backlog: after === null ? null : [] };
    const set = this.streams.get(viewer.crewId) ?? new Set<Stream>();
    set.add(stream);
    this.streams.set(viewer.crewId, set);
    req.on('close', () => this.remove(viewer.crewId, stream));
    if (after !== null) {
      // A page asking from before its member's join is replayed from the join on (cloud/crew-visibility.ts).
      this.catchUp(stream, Math.max(after, viewer.firstVisibleSeq - 1)).catch((error: unknown) => {
        this.deps.context.log.error({ err: error instanceof Error ? error.message : String(error) }, 'a crew page stream could not catch up');
        stream.backlog = null;
        this.resync(stream);
      });
    }
  }

  /** Replays the stored events after `after`, then the live ones that came meanwhile. */
  private async catchUp(stream: Stream, after: number): Promise<void> {
    const { log } = this.deps.context.store;
    const crewId = stream.viewer.crewId;
    const position = await log.position(crewId);
    const verdict = recoveryFor({ afterSeq: after, latestSeq: position?.latestSeq ?? 0, firstSeq: position?.firstSeq ?? null, replayLimit: REPLAY_LIMIT });
    if (!verdict.replay) {
      this.resync(stream);
    } else {
      for (const stored of await log.readEvents(crewId, after, { limit: REPLAY_LIMIT + 1 })) this.deliver(crewId, stream, stored.event);
    }
    const backlog = stream.backlog ?? [];
    stream.backlog = null;
    for (const event of backlog) this.deliver(crewId, stream, event);
  }

  /** Tells the page to reload its state (it missed too much to replay); live events go on from here. */
  private resync(stream: Stream): void {
    this.write(stream, 'event: resync\ndata: {}\n\n');
  }

  /**
   * A stream whose reader stopped leaves what is written to it in this process's memory: past
   * SEND_BUFFER_LIMIT_BYTES waiting it is cut off, as a socket is; the page reconnects with
   * Last-Event-ID and is replayed or told to resync.
   */
  private write(stream: Stream, text: string): void {
    const waiting = stream.res.writableLength;
    if (waiting > this.deps.context.config.sendBufferLimitBytes) {
      this.deps.context.log.info({ crewId: stream.viewer.crewId, waiting }, 'a crew page event stream stopped reading; cut off');
      this.remove(stream.viewer.crewId, stream);
      stream.res.destroy();
      return;
    }
    stream.res.write(text);
  }

  private fanOut(event: CrewEvent, crewId: string): void {
    const set = this.streams.get(crewId);
    if (!set) return;
    // One frame for every stream of the crew: streams that do not read share its text, not copies.
    let frame: string | null | undefined;
    for (const stream of set) {
      if (stream.backlog) stream.backlog.push(event);
      else this.deliver(crewId, stream, event, (frame ??= sseFrame(event)));
    }
  }

  private deliver(crewId: string, stream: Stream, event: CrewEvent, frame: string | null = sseFrame(event)): void {
    if (event.seq !== undefined && event.seq <= stream.lastSeq) return;
    // The link is checked on every request; a stream outlives requests, so it is checked here.
    if (endsViewer(event, stream.viewer) || stream.viewer.expiresAt <= this.deps.now()) {
      this.expire(crewId, stream);
      return;
    }
    if (event.seq !== undefined) stream.lastSeq = event.seq;
    if (frame !== null) this.write(stream, frame);
  }

  /** Tells the page its link no longer works and ends the stream. */
  private expire(crewId: string, stream: Stream): void {
    stream.res.write(`event: expired\ndata: ${JSON.stringify({ code: 'link_expired', message: ERROR_CODES.link_expired })}\n\n`);
    stream.res.end();
    this.remove(crewId, stream);
  }

  private remove(crewId: string, stream: Stream): void {
    const set = this.streams.get(crewId);
    if (!set?.delete(stream)) return;
    if (set.size === 0) this.streams.delete(crewId);
  }

  private eachStream(fn: (stream: Stream) => void): void {
    for (const set of this.streams.values()) for (const stream of set) fn(stream);
  }
}

// Inline script and styles only: the page loads nothing from anywhere else.
const PAGE_CSP = "default-src 'self'; img-src 'self' https: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'";

/** A crew seq from Last-Event-ID or `?after=`, or null when absent or not a seq. */
function seqFrom(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}

/** The event as the page's stream carries it (its seq as the SSE id), or null for types pages do not show. */
function sseFrame(event: CrewEvent): string | null {
  if (!PAGE_EVENTS.has(event.type)) return null;
  const id = event.seq !== undefined ? `id: ${event.seq}\n` : '';
  return `${id}event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

function endsViewer(event: CrewEvent, viewer: CrewViewer): boolean {
  if (event.type === 'crew_code_changed') return true;
  return event.type === 'member_left' && event.device_id === viewer.deviceId;
}

function isRecentItem(event: CrewEvent): boolean {
  if (event.type === 'airhorn') return true;
  // Every crew message a member sends (a gadget, a phone, an assistant): shares, reactions, texts, nudges, hangs.
  return event.type === 'message';
}

function actorOf(viewer: CrewViewer): Actor {
  return { deviceId: viewer.deviceId, name: viewer.displayName, isOwner: viewer.isOwner };
}

function body(req: Request): Record<string, unknown> {
  return typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
}

/** The fields that were given (a form's empty ones are absent), so they do not hide what a lookup found. */
function given<T extends Record<string, unknown>>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function commandAnswer(result: CommandResult): CrewCommandResponse {
  return { ok: true, seq: result.seq ?? null, duplicate: result.duplicate, queue: result.queue ?? null };
}

function isFilled(value: unknown): boolean {
  return typeof value === 'string' && value.trim() !== '';
}
