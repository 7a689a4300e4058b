import express from 'express';
import { z } from 'zod';
import { MAX_TRACK_DURATION_MS } from '../protocol/queue.js';
import { ConfigError, parseSettings } from '../protocol/settings.js';
import { SpotifyClientId, SpotifyClientSecret } from '../protocol/spotify.js';
import { parseAddressEntry } from './admin-auth.js';
import { DEFAULT_MIN_PLAY_MS } from './history/spotify-export.js';
import { DEFAULT_QUEUE_LIMITS } from './queue/crew-queue.js';
import { DEFAULT_HEAP_GROWING_PERCENT } from './heap-growth.js';
import { SEND_BUFFER_LIMIT_BYTES } from './sessions.js';
import { decodeKey, KEY_HOWTO } from './spotify/token-cipher.js';

export { ConfigError };

/**
 * The relay's settings: one schema over the environment (documented in .env.example and
 * README's table), grouped per feature, parsed once at start (cloud/main.ts).
 * Each variable's default is written here once; features get the typed result through
 * `RelayContext.config` and read no environment of their own. A bad value stops the relay
 * (exit 78) with one sentence per variable, naming it.
 */

/** A whole number in a range; every way of missing it gets the same sentence. */
const int = (min: number, max: number) => {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const blankIsUnset = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
/** An optional variable: unset and blank (`NAME=` in .env) are the same. */
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankIsUnset, schema.optional());
const secret = (min: number) => optional(z.string().trim().min(min, `must be at least ${min} characters (e.g. openssl rand -hex ${min})`));
const baseUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).transform((v) => v.replace(/\/+$/, ''));

/** express `trust proxy`: false, true, a hop count, or addresses/subnets express accepts (else it throws at start). */
const trustProxy = z
  .string()
  .trim()
  .transform((value): boolean | number | string => {
    if (value === '' || value === 'false' || value === '0') return false;
    if (value === 'true') return true;
    if (/^\d+$/.test(value)) return Number(value);
    return value;
  })
  .refine(
    (value) => typeof value !== 'string' || expressAccepts(value),
    'must be false, true, a hop count, or a comma-separated list of loopback, linklocal, uniquelocal, addresses and subnets (e.g. loopback,10.0.0.0/8)',
  );

function expressAccepts(trust: string): boolean {
  try {
    express().set('trust proxy', trust);
    return true;
  } catch {
    return false;
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Spotify accepts a redirect URI only on https, or on http at a loopback IP literal
 * (127.0.0.1, [::1]); since 2025 never at `localhost`. PUBLIC_URL/spotify/callback is that URI.
 */
export function publicUrlProblem(url: string): string | null {
  const { protocol, hostname } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return 'must not name "localhost": Spotify no longer accepts it in a redirect URI; use http://127.0.0.1:PORT for a relay on this machine, or its https:// address';
  }
  const loopback = /^127(\.\d{1,3}){3}$/.test(host) || host === '::1';
  if (protocol === 'https:' || loopback) return null;
  return 'must be an https:// URL (or http://127.0.0.1:PORT for a relay used only on this machine): Spotify accepts no other redirect URI, and phones are sent to PUBLIC_URL/s/…';
}

const publicUrl = baseUrl.superRefine((url, ctx) => {
  const problem = publicUrlProblem(url);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const KEY_SHAPE = `must be 32 bytes encoded in base64 (44 characters). ${KEY_HOWTO}`;
const encryptionKey = z.string().transform((value, ctx) => decodeKey(value) ?? (ctx.addIssue({ code: 'custom', message: KEY_SHAPE }), z.NEVER));
const encryptionKeys = z
  .string()
  .transform((list) => list.split(',').filter((v) => v.trim()))
  .pipe(z.array(encryptionKey));

/** The listener, the store and logging. */
const ServerEnv = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  LEELOO_DATA_DIR: z.string().trim().min(1).default('./data'),
  /** SQLite's synchronous setting for the embedded store: full (the default) or normal (see README). */
  LEELOO_SQLITE_SYNC: z.enum(['full', 'normal']).default('full'),
  REDIS_URL: optional(z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })),
  /** Every key the relay keeps in Redis starts with this (several relays, or tests, can share one Redis). */
  LEELOO_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'must be 1 to 64 letters, digits or : _ . -')
    .default('leeloo:'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: trustProxy.default(false),
  /** 0 keeps crew history forever (the default); otherwise events older than this are pruned. */
  EVENT_RETENTION_DAYS: int(0, 36_500).default(0),
  /** V8's old generation grows at most this percent past its live size between full GCs (cloud/heap-growth.ts); 0: V8 decides (up to 300). */
  HEAP_GROWING_PERCENT: int(0, 1000).default(DEFAULT_HEAP_GROWING_PERCENT),
});

/** The socket: heartbeat, frame size, and the budgets that hold under abuse. */
const SocketEnv = z.object({
  HEARTBEAT_INTERVAL_MS: int(1, 3_600_000).default(30_000),
  MAX_PAYLOAD_BYTES: int(1, 16 * 1024 * 1024).default(64 * 1024),
  RATE_LIMIT_PER_SECOND: int(1, 10_000).default(20),
  RATE_LIMIT_BURST: int(1, 100_000).default(40),
  /** Frames refused in a row for rate before the socket is closed with 1008. */
  RATE_LIMIT_CLOSE_AFTER: int(1, 100_000).default(60),
  /** A socket that has not said hello/register/create_crew/join_crew by then is closed (1008). */
  IDENTIFY_TIMEOUT_MS: int(1, 3_600_000).default(10_000),
  /** Open WebSocket connections per client address (IPv6 by /64); more are refused with HTTP 429. */
  MAX_CONNECTIONS_PER_ADDRESS: int(1, 1_000_000).default(64),
  /** Bytes a socket or a crew-page event stream may have waiting in this process before it counts as not reading and is cut off. */
  SEND_BUFFER_LIMIT_BYTES: int(64 * 1024, 256 * 1024 * 1024).default(SEND_BUFFER_LIMIT_BYTES),
  /** Live events held for one socket (after welcome, until its resume; during a replay); past it: resync too_far_behind. */
  MAX_HELD_EVENTS: int(1, 1_000_000).default(1000),
  /** While the event loop runs this late, current gadgets' crew messages are refused rate_limited with a retry_after_ms (cloud/loop-lag.ts); 0: never. */
  OVERLOAD_LAG_MS: int(0, 60_000).default(100),
  /** Per client address (IPv6 by /64), shared by all its connections: failed joins and new crews, then a doubling back-off. */
  JOIN_FAILURES_PER_HOUR: int(1, 100_000).default(60),
  JOIN_FAILURES_BURST: int(1, 100_000).default(10),
  NEW_CREWS_PER_HOUR: int(1, 100_000).default(3),
  NEW_CREWS_BURST: int(1, 100_000).default(5),
  ADDRESS_BACKOFF_MAX_MINUTES: int(1, 10_080).default(60),
  /** Calls per MCP token (/mcp): a token bucket, then 429 rate_limited with Retry-After. */
  MCP_RATE_LIMIT_PER_SECOND: int(1, 10_000).default(5),
  MCP_RATE_LIMIT_BURST: int(1, 100_000).default(30),
});

/** Who may use the admin API, /metrics and the Telegram bot's API. */
const AccessEnv = z.object({
  /** Bearer token of the admin API; unset turns the admin API off. */
  ADMIN_TOKEN: secret(24),
  /** Bearer token that opens /metrics from anywhere; METRICS_ALLOW lists addresses that need none. */
  METRICS_TOKEN: secret(24),
  METRICS_ALLOW: z
    .string()
    .default('loopback')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine(
      (list) => list.every((entry) => parseAddressEntry(entry) !== null),
      'must be a comma-separated list of loopback, addresses and subnets (e.g. loopback,10.0.0.0/8)',
    ),
  /** Shared with the Telegram bot (its X-Api-Secret header); unset leaves /api/telegram/* open, as the fleet's relay did. */
  TELEGRAM_API_SECRET: optional(z.string().trim()),
});

/** Spotify sign-in and the token broker (cloud/spotify); PUBLIC_URL is also where crew-page links point. */
const SpotifyEnv = z.object({
  PUBLIC_URL: optional(publicUrl),
  SPOTIFY_CLIENT_ID: optional(SpotifyClientId),
  SPOTIFY_CLIENT_SECRET: optional(SpotifyClientSecret),
  SPOTIFY_ACCOUNTS_URL: z.preprocess(blankIsUnset, baseUrl.default('https://accounts.spotify.com')),
  SPOTIFY_API_URL: z.preprocess(blankIsUnset, baseUrl.default('https://api.spotify.com/v1')),
  /** AES-256-GCM key for refresh tokens and client secrets at rest. */
  LEELOO_ENCRYPTION_KEY: optional(encryptionKey),
  /** Older keys (comma-separated), for decrypting rows written before a key rotation. */
  LEELOO_ENCRYPTION_KEY_PREVIOUS: z.preprocess(blankIsUnset, encryptionKeys.default([])),
});

/** History import and collection (cloud/history). */
const HistoryEnv = z.object({
  /** History import: plays heard for less than this are skipped; the largest upload accepted. */
  HISTORY_MIN_PLAY_MS: int(0, 3_600_000).default(DEFAULT_MIN_PLAY_MS),
  HISTORY_MAX_UPLOAD_MB: int(1, 4096).default(512),
  /** One import's records at most: a bigger export is refused with a sentence, nothing imported. */
  HISTORY_MAX_IMPORT_RECORDS: int(1, 50_000_000).default(1_000_000),
  /** Plays per commit slice of an import: each slice is one short transaction, the relay answers between them. */
  HISTORY_IMPORT_SLICE_ROWS: int(100, 100_000).default(2000),
  /** How often the listening history of each member signed in with Spotify is collected. */
  HISTORY_COLLECT_MINUTES: int(1, 1440).default(30),
});

/** The crew queue and the crew pages (cloud/queue, cloud/web); the queue core's limits are its defaults. */
const QueueEnv = z.object({
  LEELOO_QUEUE_DEFAULT_DURATION_MS: int(1000, MAX_TRACK_DURATION_MS).default(DEFAULT_QUEUE_LIMITS.defaultDurationMs),
  LEELOO_QUEUE_MAX_LENGTH: int(1, 1000).default(DEFAULT_QUEUE_LIMITS.maxPending),
  LEELOO_QUEUE_MAX_PER_MEMBER: int(1, 1000).default(DEFAULT_QUEUE_LIMITS.maxPendingPerMember),
  LEELOO_AIRHORN_MEMBER_GAP_MS: int(0, 3_600_000).default(15_000),
  LEELOO_AIRHORN_CREW_PER_MINUTE: int(1, 1000).default(4),
  /** queue_state fan-out: at most one per crew per this many ms, carrying the newest queue (0: one per change). */
  LEELOO_QUEUE_STATE_INTERVAL_MS: int(0, 60_000).default(250),
  /** Vote to skip: more than this % of the crew's members online (the voter included) skips the playing track. */
  LEELOO_SKIP_VOTE_PERCENT: int(1, 99).default(50),
  /** Signs members' crew-page links; unset: generated once and kept in the data dir. */
  LEELOO_LINK_SECRET: optional(z.string().min(32, 'must be at least 32 characters')),
  LEELOO_LINK_TTL_HOURS: int(1, 24 * 365).default(24 * 7),
  /** How long an owner's invite link for a person without a gadget works (cloud/web/crew-invites.ts). */
  LEELOO_INVITE_TTL_HOURS: int(1, 24 * 30).default(48),
  /** Invite links an owner may make per hour (per crew). */
  LEELOO_INVITES_PER_HOUR: int(1, 100).default(5),
  /** The zone "same weekday" means for throwback. */
  LEELOO_TIME_ZONE: z.string().default('UTC').refine(isTimeZone, 'must be an IANA time zone such as Europe/Paris'),
});

/** The variables themselves (before they are grouped for the features); tests read their defaults. */
export const RelayVariables = z
  .object({ ...ServerEnv.shape, ...SocketEnv.shape, ...AccessEnv.shape, ...SpotifyEnv.shape, ...HistoryEnv.shape, ...QueueEnv.shape })
  .superRefine(
    (e, ctx) => {
      // Rules across variables; checked once each variable is valid on its own.
      if (e.SPOTIFY_CLIENT_ID && !e.LEELOO_ENCRYPTION_KEY) {
        ctx.addIssue({
          code: 'custom',
          path: ['LEELOO_ENCRYPTION_KEY'],
          message: `must be set when SPOTIFY_CLIENT_ID is set: the relay keeps Spotify refresh tokens encrypted with it. ${KEY_HOWTO}`,
        });
      }
      if (e.SPOTIFY_CLIENT_ID && !e.PUBLIC_URL) {
        ctx.addIssue({
          code: 'custom',
          path: ['PUBLIC_URL'],
          message: 'must be set when SPOTIFY_CLIENT_ID is set: phones are sent to PUBLIC_URL/s/… and Spotify back to PUBLIC_URL/spotify/callback.',
        });
      }
    },
    { when: (payload) => payload.issues.length === 0 },
  );
const RelayEnv = RelayVariables.transform(toConfig);

/** Every variable the relay reads (.env.example and README's table document each; a test holds them to that). */
export const RELAY_ENV_NAMES: readonly string[] = Object.keys(RelayVariables.shape);

export const RELAY_VERSION = '0.1.0';

const MINUTE = 60_000;

/** The typed settings features get, grouped as they use them. */
function toConfig(e: z.output<typeof RelayVariables>) {
  const budget = (perHour: number, burst: number) => ({ perHour, burst, maxBackoffMs: e.ADDRESS_BACKOFF_MAX_MINUTES * MINUTE });
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.LEELOO_DATA_DIR,
    sqliteSync: e.LEELOO_SQLITE_SYNC,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.LEELOO_REDIS_PREFIX,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    eventRetentionDays: e.EVENT_RETENTION_DAYS,
    heapGrowingPercent: e.HEAP_GROWING_PERCENT,
    version: RELAY_VERSION,
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
    maxPayloadBytes: e.MAX_PAYLOAD_BYTES,
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST, closeAfter: e.RATE_LIMIT_CLOSE_AFTER },
    /** Unidentified sockets are closed after this; connections per client address are capped. */
    identifyTimeoutMs: e.IDENTIFY_TIMEOUT_MS,
    maxConnectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS,
    /** A socket or crew-page stream with more than this waiting for it is cut off (it stopped reading). */
    sendBufferLimitBytes: e.SEND_BUFFER_LIMIT_BYTES,
    /** Live events held for one socket at most; past it the socket is told to resync (too_far_behind). */
    maxHeldEvents: e.MAX_HELD_EVENTS,
    /** Current gadgets' crew messages are refused (rate_limited) while the event loop runs this late; 0: never. */
    overloadLagMs: e.OVERLOAD_LAG_MS,
    /** Budgets per client address (cloud/address-budget.ts). */
    addressBudgets: { joinFailures: budget(e.JOIN_FAILURES_PER_HOUR, e.JOIN_FAILURES_BURST), newCrews: budget(e.NEW_CREWS_PER_HOUR, e.NEW_CREWS_BURST) },
    /** Per MCP token: calls per second sustained, and the burst. */
    mcpRateLimit: { perSecond: e.MCP_RATE_LIMIT_PER_SECOND, burst: e.MCP_RATE_LIMIT_BURST },
    /** ADMIN_TOKEN; the admin API answers 503 without one. */
    adminToken: e.ADMIN_TOKEN,
    /** Who may read /metrics: METRICS_TOKEN as a bearer, or a client address in METRICS_ALLOW. */
    metrics: { token: e.METRICS_TOKEN, allow: e.METRICS_ALLOW as readonly string[] },
    /** TELEGRAM_API_SECRET: when set, the Telegram bot's API requires it in X-Api-Secret. */
    telegramApiSecret: e.TELEGRAM_API_SECRET,
    /** The relay's external base URL (PUBLIC_URL), for links handed to phones. */
    publicUrl: e.PUBLIC_URL,
    spotify: {
      /** The relay's own app; crews may register theirs. Unset: only crew apps can sign in. */
      clientId: e.SPOTIFY_CLIENT_ID,
      /** Only for apps that do not use PKCE alone; never leaves the relay. */
      clientSecret: e.SPOTIFY_CLIENT_SECRET,
      accountsUrl: e.SPOTIFY_ACCOUNTS_URL,
      apiUrl: e.SPOTIFY_API_URL,
      encryptionKey: e.LEELOO_ENCRYPTION_KEY,
      previousKeys: e.LEELOO_ENCRYPTION_KEY_PREVIOUS as readonly Buffer[],
    },
    history: {
      minPlayMs: e.HISTORY_MIN_PLAY_MS,
      maxUploadBytes: e.HISTORY_MAX_UPLOAD_MB * 1024 ** 2,
      maxImportRecords: e.HISTORY_MAX_IMPORT_RECORDS,
      importSliceRows: e.HISTORY_IMPORT_SLICE_ROWS,
      collectIntervalMs: e.HISTORY_COLLECT_MINUTES * MINUTE,
    },
    queue: {
      limits: {
        defaultDurationMs: e.LEELOO_QUEUE_DEFAULT_DURATION_MS,
        maxPending: e.LEELOO_QUEUE_MAX_LENGTH,
        maxPendingPerMember: e.LEELOO_QUEUE_MAX_PER_MEMBER,
        maxLateMs: DEFAULT_QUEUE_LIMITS.maxLateMs,
      },
      airhorn: { memberGapMs: e.LEELOO_AIRHORN_MEMBER_GAP_MS, crewPerMinute: e.LEELOO_AIRHORN_CREW_PER_MINUTE },
      stateIntervalMs: e.LEELOO_QUEUE_STATE_INTERVAL_MS,
      /** Votes to skip a track: more than this % of the members online skips it. */
      skipVotePercent: e.LEELOO_SKIP_VOTE_PERCENT,
      /** LEELOO_LINK_SECRET; undefined: generated once and kept in the data dir. */
      linkSecret: e.LEELOO_LINK_SECRET,
      linkTtlMs: e.LEELOO_LINK_TTL_HOURS * 3_600_000,
      inviteTtlMs: e.LEELOO_INVITE_TTL_HOURS * 3_600_000,
      invitesPerHour: e.LEELOO_INVITES_PER_HOUR,
      timeZone: e.LEELOO_TIME_ZONE,
    },
  };
}

export type RelayConfig = z.output<typeof RelayEnv>;
export type SpotifyConfig = RelayConfig['spotify'];
export type QueueConfig = RelayConfig['queue'];

/** Reads the relay's settings from an environment; throws ConfigError with one sentence per bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): RelayConfig {
  return parseSettings(RelayEnv, env, 'The relay configuration is invalid:', (path) => String(path[0] ?? 'environment'));
}
