import { z } from 'zod';
import type { AddressBudgetSettings } from './address-budget.js';
import { parseAddressEntry } from './admin-auth.js';
import { loadSpotifyConfig, type SpotifyConfig } from './spotify/spotify-config.js';
import type { SqliteSync } from './store/sqlite.js';

/**
 * Relay settings come from the environment (see .env.example). Each variable has a
 * default here, in one place; a bad value stops the relay with a sentence per problem.
 */
const port = z.coerce.number().int().min(0, 'must be 0–65535').max(65535, 'must be 0–65535');
const positiveInt = (max: number) => z.coerce.number().int().positive().max(max);

/** express `trust proxy`: false, true, a hop count, or a list of addresses/subnets. */
const trustProxy = z
  .string()
  .trim()
  .transform((value): boolean | number | string => {
    if (value === '' || value === 'false' || value === '0') return false;
    if (value === 'true') return true;
    if (/^\d+$/.test(value)) return Number(value);
    return value;
  });

const EnvSchema = z.object({
  PORT: port.default(8080),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  LEELOO_DATA_DIR: z.string().trim().min(1).default('./data'),
  /** SQLite's synchronous setting for the embedded store: full (the default) or normal (see README). */
  LEELOO_SQLITE_SYNC: z.enum(['full', 'normal']).default('full'),
  REDIS_URL: z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .pipe(z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional())
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: trustProxy.default(false),
  HEARTBEAT_INTERVAL_MS: positiveInt(3_600_000).default(30_000),
  MAX_PAYLOAD_BYTES: positiveInt(16 * 1024 * 1024).default(64 * 1024),
  RATE_LIMIT_PER_SECOND: positiveInt(10_000).default(20),
  RATE_LIMIT_BURST: positiveInt(100_000).default(40),
  /** Frames refused in a row for rate before the socket is closed with 1008. */
  RATE_LIMIT_CLOSE_AFTER: positiveInt(100_000).default(60),
  /** A socket that has not said hello/register/create_crew/join_crew by then is closed (1008). */
  IDENTIFY_TIMEOUT_MS: positiveInt(3_600_000).default(10_000),
  /** Open WebSocket connections per client address (IPv6 by /64); more are refused with HTTP 429. */
  MAX_CONNECTIONS_PER_ADDRESS: positiveInt(1_000_000).default(64),
  /** Per client address (IPv6 by /64), shared by all its connections: failed joins and new crews, then a doubling back-off. */
  JOIN_FAILURES_PER_HOUR: positiveInt(100_000).default(60),
  JOIN_FAILURES_BURST: positiveInt(100_000).default(10),
  NEW_CREWS_PER_HOUR: positiveInt(100_000).default(3),
  NEW_CREWS_BURST: positiveInt(100_000).default(5),
  ADDRESS_BACKOFF_MAX_MINUTES: positiveInt(10_080).default(60),
  /** 0 keeps crew history forever (the default); otherwise events older than this are pruned. */
  EVENT_RETENTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(0),
  /** Bearer token of the admin API; unset turns the admin API off. */
  ADMIN_TOKEN: z.string().trim().transform((v) => (v === '' ? undefined : v))
    .pipe(z.string().min(24, 'must be at least 24 characters (e.g. openssl rand -hex 24)').optional()).optional(),
  /** Bearer token that opens /metrics from anywhere; METRICS_ALLOW lists addresses that need none. */
  METRICS_TOKEN: z.string().trim().transform((v) => (v === '' ? undefined : v))
    .pipe(z.string().min(24, 'must be at least 24 characters (e.g. openssl rand -hex 24)').optional()).optional(),
  METRICS_ALLOW: z
    .string()
    .default('loopback')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .refine((list) => list.every((entry) => parseAddressEntry(entry) !== null), 'must be a comma-separated list of loopback, addresses and subnets (e.g. loopback,10.0.0.0/8)'),
  /** History import: plays heard for less than this are skipped; the largest upload accepted. */
  HISTORY_MIN_PLAY_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  HISTORY_MAX_UPLOAD_MB: positiveInt(4096).default(512),
  /** One import's records at most: a bigger export is refused with a sentence, nothing imported. */
  HISTORY_MAX_IMPORT_RECORDS: positiveInt(50_000_000).default(1_000_000),
  /** Plays per commit slice of an import: each slice is one short transaction, the relay answers between them. */
  HISTORY_IMPORT_SLICE_ROWS: z.coerce.number().int().min(100).max(100_000).default(2000),
  /** How often the listening history of each member signed in with Spotify is collected. */
  HISTORY_COLLECT_MINUTES: positiveInt(1440).default(30),
  /** Shared with the Telegram bot (its X-Api-Secret header); unset leaves /api/telegram/* open, as the fleet's relay did. */
  TELEGRAM_API_SECRET: z.string().trim().transform((v) => (v === '' ? undefined : v)).optional(),
});
/** Every variable this schema reads (.env.example documents each; a test holds it to that). */
export const RELAY_ENV_NAMES = Object.keys(EnvSchema.shape);


export interface RelayConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly sqliteSync: SqliteSync;
  readonly redisUrl: string | undefined;
  readonly logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  readonly trustProxy: boolean | number | string;
  readonly heartbeatIntervalMs: number;
  readonly maxPayloadBytes: number;
  readonly rateLimit: { readonly perSecond: number; readonly burst: number; readonly closeAfter: number };
  /** Unidentified sockets are closed after this; connections per client address are capped. */
  readonly identifyTimeoutMs?: number;
  readonly maxConnectionsPerAddress?: number;
  /** Budgets per client address (cloud/address-budget.ts); defaults apply when absent. */
  readonly addressBudgets?: { readonly joinFailures: AddressBudgetSettings; readonly newCrews: AddressBudgetSettings };
  readonly eventRetentionDays: number;
  readonly version: string;
  /** The relay's external base URL (PUBLIC_URL), for links handed to phones. */
  readonly publicUrl: string | undefined;
  /** Spotify sign-in and token broker settings (cloud/spotify/spotify-config.ts). */
  readonly spotify: SpotifyConfig;
  /** ADMIN_TOKEN; the admin API answers 503 without one. */
  readonly adminToken?: string;
  /** Who may read /metrics: METRICS_TOKEN as a bearer, or a client address in METRICS_ALLOW. */
  readonly metrics?: { readonly token?: string; readonly allow: readonly string[] };
  /** History import and collection (cloud/history); defaults apply when absent. */
  readonly history?: { readonly minPlayMs: number; readonly maxUploadBytes: number; readonly maxImportRecords: number; readonly importSliceRows: number; readonly collectIntervalMs: number };
  /** TELEGRAM_API_SECRET: when set, the Telegram bot's API requires it in X-Api-Secret. */
  readonly telegramApiSecret?: string;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`The relay configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export const RELAY_VERSION = '0.1.0';

/** Reads the relay's settings from an environment; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): RelayConfig {
  const result = EnvSchema.safeParse(env);
  const spotify = loadSpotifyConfig(env);
  if (!result.success || spotify.problems.length > 0) {
    const issues = result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`);
    throw new ConfigError([...issues, ...spotify.problems]);
  }
  const e = result.data;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.LEELOO_DATA_DIR,
    sqliteSync: e.LEELOO_SQLITE_SYNC,
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
    maxPayloadBytes: e.MAX_PAYLOAD_BYTES,
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST, closeAfter: e.RATE_LIMIT_CLOSE_AFTER },
    identifyTimeoutMs: e.IDENTIFY_TIMEOUT_MS,
    maxConnectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS,
    addressBudgets: {
      joinFailures: { perHour: e.JOIN_FAILURES_PER_HOUR, burst: e.JOIN_FAILURES_BURST, maxBackoffMs: e.ADDRESS_BACKOFF_MAX_MINUTES * 60_000 },
      newCrews: { perHour: e.NEW_CREWS_PER_HOUR, burst: e.NEW_CREWS_BURST, maxBackoffMs: e.ADDRESS_BACKOFF_MAX_MINUTES * 60_000 },
    },
    eventRetentionDays: e.EVENT_RETENTION_DAYS,
    version: RELAY_VERSION,
    publicUrl: spotify.publicUrl,
    spotify: spotify.spotify,
    adminToken: e.ADMIN_TOKEN,
    telegramApiSecret: e.TELEGRAM_API_SECRET,
    metrics: { token: e.METRICS_TOKEN, allow: e.METRICS_ALLOW },
    history: { minPlayMs: e.HISTORY_MIN_PLAY_MS, maxUploadBytes: e.HISTORY_MAX_UPLOAD_MB * 1024 ** 2, maxImportRecords: e.HISTORY_MAX_IMPORT_RECORDS, importSliceRows: e.HISTORY_IMPORT_SLICE_ROWS, collectIntervalMs: e.HISTORY_COLLECT_MINUTES * 60_000 },
  };
}
