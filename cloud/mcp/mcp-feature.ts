import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { DeviceId, MessagePayloads, MIXTAPE_MAX_TRACKS, ProtocolError, type CrewMessageBody } from '../../protocol/index.js';
import { QueueItemId, QueueTrack, VoteValue } from '../../protocol/queue.js';
import { requireAdminToken } from '../admin-auth.js';
import type { Feature, RelayContext } from '../feature.js';
import { sendError } from '../http-errors.js';
import type { Logger } from '../log.js';
import type { CrewMixtapes, HistoryReads, MemberSpotify, QueueCommand, QueueCommands } from '../ports.js';
import { crewMessageEvent } from '../crew-messages.js';
import { recapRange } from '../time-zones.js';
import { visibleFromSeq } from '../crew-visibility.js';
import { listensLikeMe, queueNow, shareAt, sharesWithReactions, tasteSummary } from './crew-reads.js';
import { createMcpToken, hashToken, noteTokenUse } from './mcp-tokens.js';
import { SEARCH_LIMIT_MAX } from '../../spotify/web-api.js';
import { KeyedBuckets } from '../token-bucket.js';

/** What the MCP tools read and write through (cloud/ports.ts), handed in by cloud/compose.ts. */
export interface McpPorts {
  /** The history feature's queries. */
  readonly history: HistoryReads;
  /** The queue feature's one command path (the gadget's and the crew page's) and the queue now; none: the queue tools answer unavailable. */
  readonly queue?: Pick<QueueCommands, 'run' | 'snapshot'>;
  /** The member's own Spotify (search, playlists); absent on a relay without Spotify. */
  readonly spotify?: MemberSpotify;
  /** The weekly crew mixtape (history's), in the member's own Spotify; absent on a relay without Spotify. */
  readonly mixtapes?: CrewMixtapes;
}

const DAY_MS = 86_400_000;

/** The SDK is loaded on the first /mcp call, so relays nobody asks stay as quick to start. */
type Sdk = typeof import('@modelcontextprotocol/sdk/server/mcp.js') & typeof import('@modelcontextprotocol/sdk/server/streamableHttp.js');
let sdk: Promise<Sdk> | null = null;
const loadSdk = (): Promise<Sdk> =>
  (sdk ??= Promise.all([import('@modelcontextprotocol/sdk/server/mcp.js'), import('@modelcontextprotocol/sdk/server/streamableHttp.js')]).then(
    ([mcp, http]) => ({ ...mcp, ...http }),
  ));

/** The member a request's token speaks for. */
interface McpCaller {
  readonly deviceId: string;
  readonly displayName: string;
  readonly crewId: string;
  /** The first crew seq the member may read (cloud/crew-visibility.ts), as of this request. */
  readonly fromSeq: number;
}

const Range = {
  days: z.number().int().min(1).max(3660).default(30).describe('How many days back from now (default 30).'),
};
const Who = { who: z.enum(['me', 'crew']).default('me').describe('"me" for your own listening, "crew" for the whole crew.') };
const Limit = { limit: z.number().int().min(1).max(50).default(10) };
/** A tool's arguments: an argument the tool does not have is refused by name, not silently ignored. */
const args = <S extends z.ZodRawShape>(shape: S) => z.object(shape).strict();

/**
 * The relay's MCP endpoint (`/mcp`, Streamable HTTP, one stateless server per request):
 * a member's AI assistant reads the crew's history and writes to the crew as that member.
 * Authorised by a personal token (stored hashed), rate limited per token, every call logged
 * without the token. Members make and revoke their tokens on the crew page (mcp-tokens.ts);
 * operators issue and revoke them under /admin/devices/ID/mcp-token.
 */
export class McpFeature implements Feature {
  readonly name = 'mcp';
  readonly router: express.Router;
  private readonly log: Logger;
  private readonly buckets: KeyedBuckets;

  constructor(
    private readonly context: RelayContext,
    private readonly ports: McpPorts,
  ) {
    this.log = context.log.child({ feature: 'mcp' });
    this.buckets = new KeyedBuckets(context.config.mcpRateLimit.perSecond, context.config.mcpRateLimit.burst);
    this.router = express.Router();
    const admin = requireAdminToken(context.config.adminToken, this.log);
    this.router.post('/admin/devices/:deviceId/mcp-token', admin, (req, res) => void this.issue(req, res));
    this.router.delete('/admin/devices/:deviceId/mcp-token', admin, (req, res) => void this.revoke(req, res));
    this.router.all('/mcp', express.json({ limit: '256kb' }), (req, res, next) => void this.serve(req, res, next));
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  private async member(raw: unknown): Promise<string> {
    const parsed = DeviceId.safeParse(raw);
    if (!parsed.success) throw new ProtocolError('invalid_message', 'The device id is not valid.');
    if (!(await this.context.store.crews.getMembership(parsed.data))) {
      throw new ProtocolError('not_found', `The device ${parsed.data} is in no crew; an MCP token speaks for a crew member.`);
    }
    return parsed.data;
  }

  private async issue(req: Request, res: Response): Promise<void> {
    try {
      const deviceId = await this.member(req.params.deviceId);
      const { token, record } = await createMcpToken(this.context.store, deviceId, 'issued by the operator', Date.now());
      this.log.info({ deviceId, tokenId: record.tokenId, by: 'operator' }, 'mcp token issued');
      res.status(201).json({ token });
    } catch (error) {
      sendError(res, error, this.log);
    }
  }

  private async revoke(req: Request, res: Response): Promise<void> {
    try {
      const parsed = DeviceId.safeParse(req.params.deviceId);
      if (!parsed.success) throw new ProtocolError('invalid_message', 'The device id is not valid.');
      const revoked = await this.context.store.mcp.revokeTokens(parsed.data);
      this.log.info({ deviceId: parsed.data, revoked, by: 'operator' }, 'mcp tokens revoked');
      res.json({ revoked });
    } catch (error) {
      sendError(res, error, this.log);
    }
  }

  /** Bearer check, rate limit, then the SDK's transport answers the request. */
  private async serve(req: Request, res: Response, next: NextFunction): Promise<void> {
    try {
      res.setHeader('cache-control', 'no-store');
      const header = req.headers.authorization ?? '';
      const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
      const record = token ? await this.context.store.mcp.findToken(hashToken(token)) : null;
      const membership = record ? await this.context.store.crews.getMembership(record.deviceId) : null;
      if (!record || !membership) {
        this.log.warn({ remote: req.ip }, 'mcp request refused: missing, unknown or revoked token');
        res.setHeader('www-authenticate', 'Bearer realm="leeloo-mcp"');
        throw new ProtocolError('unauthorized', 'Send your personal MCP token as "Authorization: Bearer …" (make one on your crew page).');
      }
      const taken = this.buckets.take(record.tokenHash);
      if (!taken.ok) {
        res.setHeader('retry-after', String(Math.ceil(taken.retryAfterMs / 1000)));
        throw new ProtocolError('rate_limited', 'Too many MCP calls with this token; wait a moment.');
      }
      await noteTokenUse(this.context.store, record, Date.now());
      const device = await this.context.store.crews.getDevice(record.deviceId);
      const fromSeq = await visibleFromSeq(this.context.store.crews, record.deviceId, membership.crewId);
      const caller: McpCaller = { deviceId: record.deviceId, displayName: device?.displayName ?? 'LEELOO', crewId: membership.crewId, fromSeq };
      const body = req.body as { method?: string; params?: { name?: string } } | undefined;
      this.log.info({ deviceId: caller.deviceId, crewId: caller.crewId, method: body?.method, tool: body?.params?.name }, 'mcp call');
      const { McpServer, ResourceTemplate, StreamableHTTPServerTransport } = await loadSdk();
      const server = this.buildServer(caller, McpServer, ResourceTemplate);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (error) {
      if (res.headersSent) next(error);
      else sendError(res, error, this.log);
    }
  }

  private queue(): Pick<QueueCommands, 'run' | 'snapshot'> {
    if (!this.ports.queue) throw new ProtocolError('unavailable', 'The crew queue is not running on this relay.');
    return this.ports.queue;
  }

  /** The tools, scoped to one member and its crew. */
  private buildServer(caller: McpCaller, McpServer: Sdk['McpServer'], ResourceTemplate: Sdk['ResourceTemplate']): McpServer {
    const server = new McpServer({ name: 'leeloo', version: this.context.config.version });
    const scope = (who: 'me' | 'crew') => ({ ...(who === 'crew' ? { crewId: caller.crewId } : { memberId: caller.deviceId }), fromSeq: caller.fromSeq });
    const range = (days: number) => {
      const now = Date.now();
      return { fromMs: now - days * DAY_MS, toMs: now + 1 };
    };
    const json = (value: unknown) => ({
      content: [{ type: 'text' as const, text: JSON.stringify(value) }],
      structuredContent: { result: value } as Record<string, unknown>,
    });
    const safely =
      <A>(fn: (args: A) => Promise<unknown>) =>
      async (args: A) => {
        try {
          return json(await fn(args));
        } catch (error) {
          const message = error instanceof ProtocolError ? `${error.code}: ${error.message}` : 'internal: the relay could not answer this call.';
          if (!(error instanceof ProtocolError)) this.log.error({ err: error, deviceId: caller.deviceId }, 'mcp tool failed');
          return { isError: true, content: [{ type: 'text' as const, text: message }] };
        }
      };

    server.registerTool(
      'top_tracks',
      {
        description: 'Most played tracks for you or your crew over the last N days: [{track, artist, track_uri, plays, ms_played}].',
        inputSchema: args({ ...Who, ...Range, ...Limit, by: z.enum(['plays', 'time']).default('plays') }),
      },
      safely(async (a) => this.ports.history.topTracks(scope(a.who), range(a.days), { by: a.by, limit: a.limit })),
    );

    server.registerTool(
      'top_artists',
      {
        description: 'Most played artists for you or your crew over the last N days: [{artist, plays, ms_played}].',
        inputSchema: args({ ...Who, ...Range, ...Limit, by: z.enum(['plays', 'time']).default('plays') }),
      },
      safely(async (a) => this.ports.history.topArtists(scope(a.who), range(a.days), { by: a.by, limit: a.limit })),
    );

    server.registerTool(
      'listening_heatmap',
      {
        description: 'Plays by weekday (0 = Monday) and hour in a time zone: {time_zone, measure, cells[7][24]}.',
        inputSchema: args({ ...Who, ...Range, time_zone: z.string().max(64).default('UTC'), measure: z.enum(['plays', 'time']).default('plays') }),
      },
      safely(async (a) => this.ports.history.heatmap(scope(a.who), range(a.days), { timeZone: a.time_zone, measure: a.measure })),
    );

    server.registerTool(
      'on_this_day',
      {
        description: 'What was played and shared on this calendar day in past years: [{date, plays, shares}].',
        inputSchema: args({
          ...Who,
          date: z
            .string()
            .regex(/^\d{4}-\d{2}-\d{2}$/)
            .optional()
            .describe('YYYY-MM-DD, default today.'),
          time_zone: z.string().max(64).default('UTC'),
        }),
      },
      safely(async (a) => this.ports.history.onThisDay(scope(a.who), { date: a.date, timeZone: a.time_zone })),
    );

    server.registerTool(
      'taste_summary',
      {
        description:
          'Your listening over the last N days: {plays, listening_hours, distinct_tracks, repeat_rate, top_tracks, top_artists, peak_weekday, peak_hour, coverage: {plays_stored, imports}}.',
        inputSchema: args({ ...Range, time_zone: z.string().max(64).default('UTC') }),
      },
      safely(async (a) => tasteSummary(this.ports.history, caller.deviceId, range(a.days), a.time_zone)),
    );

    server.registerTool(
      'crew_shares',
      {
        description:
          'What the crew shared lately, newest first, with the reactions each drew: [{seq, shared_by, track, artist, spotify_uri, note, shared_at, reactions: [{from, reaction}]}].',
        inputSchema: args({ ...Range, ...Limit }),
      },
      safely(async (a) => sharesWithReactions(this.context.store, caller.crewId, range(a.days), a.limit, caller.fromSeq)),
    );

    server.registerTool(
      'listens_like_me',
      {
        description: 'Crew members ranked by overlap of their top artists with yours: [{member, device_id, overlap (0–1), shared_artists}].',
        inputSchema: args({ ...Range }),
      },
      safely(async (a) => listensLikeMe(this.context.store, this.ports.history, caller.crewId, caller.deviceId, range(a.days))),
    );

    server.registerTool(
      'crew_queue',
      {
        description: 'The crew queue now: {now_playing, next: [{item_id, uri, track, artist, added_by, score}]} in play order.',
        inputSchema: args({}),
      },
      safely(async () => queueNow(await this.queue().snapshot(caller.crewId))),
    );

    server.registerTool(
      'react_to_share',
      {
        description: 'Reacts to a crew share (its seq from crew_shares) as you: {seq}.',
        inputSchema: args({ share_seq: z.number().int().positive(), reaction: z.enum(['love', 'fire']) }),
      },
      safely(async (a) => {
        const share = await shareAt(this.context.store, caller.crewId, a.share_seq, caller.fromSeq);
        if (share?.event.type !== 'message') throw new ProtocolError('not_found', `Your crew has no share with seq ${a.share_seq}.`);
        return this.sendAs(caller, { msg_type: 'reaction', payload: { reaction: a.reaction, to_device: share.event.from_device } });
      }),
    );

    server.registerTool(
      'queue_add',
      {
        description: 'Adds a track to the crew queue as you: {seq, duplicate}. Needs a spotify:track: URI, its title and artist.',
        inputSchema: args(QueueTrack.shape),
      },
      safely(async (a) => this.runQueue(caller, { type: 'queue_add', ...a })),
    );

    server.registerTool(
      'queue_vote',
      {
        description: 'Votes on a track in the crew queue (item_id from crew_queue): up, down or none: {seq, duplicate}.',
        inputSchema: args({ item_id: QueueItemId, vote: VoteValue }),
      },
      safely(async (a) => this.runQueue(caller, { type: 'queue_vote', ...a })),
    );

    server.registerTool(
      'send_crew_text',
      {
        description: 'Sends your crew a text message as you (it appears on every gadget): {seq}.',
        inputSchema: args({ text: MessagePayloads.text.shape.text }),
      },
      safely(async (a) => this.sendAs(caller, { msg_type: 'text', payload: { text: a.text } })),
    );

    server.registerTool(
      'search_spotify',
      {
        description: `Searches Spotify's catalog with your own Spotify sign-in: [{spotify_uri, track, artist, album, duration_ms, album_art_url}], at most ${SEARCH_LIMIT_MAX}. Pass a result to queue_add to queue it.`,
        inputSchema: args({
          query: z.string().trim().min(1).max(200).describe('What to look for: a title, an artist, or both.'),
          limit: z.number().int().min(1).max(SEARCH_LIMIT_MAX).default(5),
        }),
      },
      safely(async (a) => {
        if (!this.ports.spotify) throw new ProtocolError('spotify_not_configured');
        return this.ports.spotify.searchTracks(caller.deviceId, a.query, a.limit);
      }),
    );

    server.registerTool(
      'create_weekly_mixtape',
      {
        description:
          'Makes the crew mixtape of a week (Monday to Sunday) as a private playlist in your own Spotify: the crew’s shares of the week in the order they were shared, then its most played tracks. Once per week: asking again answers the same playlist, and finishes it if Spotify stopped part-way. {name, playlist_uri, url, week_of, track_count, created, tracks?: [{uri, track, artist, why, shared_by | plays}]}.',
        inputSchema: args({
          week_of: z
            .string()
            .regex(/^\d{4}-\d{2}-\d{2}$/)
            .optional()
            .describe('Any day of the week, YYYY-MM-DD (default today: the week so far).'),
          time_zone: z.string().max(64).default('UTC').describe('Where the week starts on Monday 00:00, an IANA name.'),
          limit: z.number().int().min(1).max(MIXTAPE_MAX_TRACKS).default(50).describe('Tracks at most.'),
        }),
      },
      safely(async (a) => {
        if (!this.ports.mixtapes) throw new ProtocolError('spotify_not_configured');
        return this.ports.mixtapes.make(caller, { weekOf: a.week_of, timeZone: a.time_zone, limit: a.limit });
      }),
    );

    server.registerResource(
      'crew_recap',
      new ResourceTemplate('leeloo://crew/recap/{period}', { list: undefined }),
      {
        description: 'The crew’s recap for a month (YYYY-MM) or a year (YYYY), UTC: top tracks and artists, shares with reactions.',
        mimeType: 'application/json',
      },
      async (uri, variables) => {
        const period = recapRange(String(variables.period ?? ''), 'UTC');
        const queries = this.ports.history;
        const crew = { crewId: caller.crewId, fromSeq: caller.fromSeq };
        const recap = {
          period: variables.period,
          top_tracks: await queries.topTracks(crew, period, { limit: 10 }),
          top_artists: await queries.topArtists(crew, period, { limit: 10 }),
          shares: await sharesWithReactions(this.context.store, caller.crewId, period, 100, caller.fromSeq),
        };
        return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(recap) }] };
      },
    );

    server.registerPrompt(
      'plan_tonight',
      {
        description: 'Plan tonight’s crew queue from what the crew plays, shares and has queued.',
        argsSchema: { mood: z.string().max(200).optional() },
      },
      ({ mood }) => ({
        messages: [
          {
            role: 'user',
            content: {
              type: 'text',
              text: [
                'Plan tonight’s LEELOO crew queue.',
                mood ? `The mood: ${mood}.` : '',
                'First read crew_queue (what is queued), top_artists with who="crew" and days=30, listens_like_me and crew_shares.',
                'Propose 5–8 tracks that suit the whole crew, mixing recent shares the crew loved with their shared favourites, not repeating what is queued.',
                'Show the list with one line each on why, and add a track with queue_add only after I say yes.',
              ]
                .filter(Boolean)
                .join(' '),
            },
          },
        ],
      }),
    );
    return server;
  }

  /** A queue command as the member, through the queue feature's own path, once by its client id. */
  private async runQueue(caller: McpCaller, command: QueueCommand): Promise<{ seq: number | null; duplicate: boolean }> {
    const queue = this.queue();
    const membership = await this.context.store.crews.getMembership(caller.deviceId);
    const actor = { deviceId: caller.deviceId, name: caller.displayName, isOwner: membership?.isOwner ?? false };
    const result = await queue.run(caller.crewId, actor, { ...command, client_msg_id: `mcp-${randomUUID()}` });
    return { seq: result.seq ?? null, duplicate: result.duplicate };
  }

  /** A crew message as the member, stored and sequenced, exactly once by the tool's own client id. */
  private async sendAs(caller: McpCaller, body: CrewMessageBody): Promise<{ seq: number }> {
    const clientMsgId = `mcp-${randomUUID()}`;
    const { seq } = await this.context.publish(
      caller.crewId,
      crewMessageEvent({ deviceId: caller.deviceId, name: caller.displayName }, body, clientMsgId, Date.now()),
      { deviceId: caller.deviceId, clientMsgId },
    );
    return { seq };
  }
}
