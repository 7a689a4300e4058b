import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, RELAY_ENV_NAMES } from '../../cloud/config.js';
import { relayRefusal } from '../helpers/relay-process.js';

/** A value each variable refuses, and how its sentence starts after the variable's name. */
const BAD: Record<string, readonly [string, string]> = {
  PORT: ['99999', 'must be a whole number from 0 to 65535'],
  HOST: [' ', 'must not be empty'],
  LEELOO_DATA_DIR: ['', 'must not be empty'],
  LEELOO_SQLITE_SYNC: ['off', 'must be one of "full", "normal"'],
  REDIS_URL: ['http://x', 'must be a redis:// or rediss:// URL'],
  LEELOO_REDIS_PREFIX: ['a b', 'must be 1 to 64 letters, digits or : _ . -'],
  LOG_LEVEL: ['loud', 'must be one of "fatal", "error"'],
  TRUST_PROXY: ['nonsense', 'must be false, true, a hop count, or a comma-separated list'],
  EVENT_RETENTION_DAYS: ['-1', 'must be a whole number from 0 to 36500'],
  HEAP_GROWING_PERCENT: ['-5', 'must be a whole number from 0 to 1000'],
  HEARTBEAT_INTERVAL_MS: ['abc', 'must be a whole number from 1 to 3600000'],
  MAX_PAYLOAD_BYTES: ['0', 'must be a whole number from 1 to 16777216'],
  RATE_LIMIT_PER_SECOND: ['2.5', 'must be a whole number from 1 to 10000'],
  RATE_LIMIT_BURST: ['many', 'must be a whole number from 1 to 100000'],
  RATE_LIMIT_CLOSE_AFTER: ['0', 'must be a whole number from 1 to 100000'],
  IDENTIFY_TIMEOUT_MS: ['-1', 'must be a whole number from 1 to 3600000'],
  MAX_CONNECTIONS_PER_ADDRESS: ['1e9', 'must be a whole number from 1 to 1000000'],
  SEND_BUFFER_LIMIT_BYTES: ['1000', 'must be a whole number from 65536 to 268435456'],
  MAX_HELD_EVENTS: ['0', 'must be a whole number from 1 to 1000000'],
  OVERLOAD_LAG_MS: ['-1', 'must be a whole number from 0 to 60000'],
  JOIN_FAILURES_PER_HOUR: ['x', 'must be a whole number from 1 to 100000'],
  JOIN_FAILURES_BURST: ['0', 'must be a whole number from 1 to 100000'],
  NEW_CREWS_PER_HOUR: ['x', 'must be a whole number from 1 to 100000'],
  NEW_CREWS_BURST: ['0', 'must be a whole number from 1 to 100000'],
  ADDRESS_BACKOFF_MAX_MINUTES: ['99999', 'must be a whole number from 1 to 10080'],
  MCP_RATE_LIMIT_PER_SECOND: ['0', 'must be a whole number from 1 to 10000'],
  MCP_RATE_LIMIT_BURST: ['1.5', 'must be a whole number from 1 to 100000'],
  ADMIN_TOKEN: ['short', 'must be at least 24 characters'],
  METRICS_TOKEN: ['short', 'must be at least 24 characters'],
  METRICS_ALLOW: ['example.org', 'must be a comma-separated list of loopback, addresses and subnets'],
  PUBLIC_URL: ['http://localhost:8080', 'must not name "localhost"'],
  SPOTIFY_CLIENT_ID: ['x', 'must be a Spotify client id'],
  SPOTIFY_CLIENT_SECRET: ['!', 'must be a Spotify client secret'],
  SPOTIFY_ACCOUNTS_URL: ['nope', 'must be an http(s) URL'],
  SPOTIFY_API_URL: ['ftp://x', 'must be an http(s) URL'],
  LEELOO_ENCRYPTION_KEY: ['c2hvcnQ=', 'must be 32 bytes encoded in base64'],
  LEELOO_ENCRYPTION_KEY_PREVIOUS: ['c2hvcnQ=,', 'must be 32 bytes encoded in base64'],
  HISTORY_MIN_PLAY_MS: ['-1', 'must be a whole number from 0 to 3600000'],
  HISTORY_MAX_UPLOAD_MB: ['0', 'must be a whole number from 1 to 4096'],
  HISTORY_MAX_IMPORT_RECORDS: ['lots', 'must be a whole number from 1 to 50000000'],
  HISTORY_IMPORT_SLICE_ROWS: ['50', 'must be a whole number from 100 to 100000'],
  HISTORY_COLLECT_MINUTES: ['0', 'must be a whole number from 1 to 1440'],
  LEELOO_QUEUE_DEFAULT_DURATION_MS: ['999', 'must be a whole number from 1000 to 21600000'],
  LEELOO_QUEUE_MAX_LENGTH: ['abc', 'must be a whole number from 1 to 1000'],
  LEELOO_QUEUE_MAX_PER_MEMBER: ['0', 'must be a whole number from 1 to 1000'],
  LEELOO_AIRHORN_MEMBER_GAP_MS: ['-1', 'must be a whole number from 0 to 3600000'],
  LEELOO_AIRHORN_CREW_PER_MINUTE: ['0', 'must be a whole number from 1 to 1000'],
  LEELOO_QUEUE_STATE_INTERVAL_MS: ['-1', 'must be a whole number from 0 to 60000'],
  LEELOO_SKIP_VOTE_PERCENT: ['100', 'must be a whole number from 1 to 99'],
  LEELOO_LINK_SECRET: ['short', 'must be at least 32 characters'],
  LEELOO_LINK_TTL_HOURS: ['0', 'must be a whole number from 1 to 8760'],
  LEELOO_INVITE_TTL_HOURS: ['721', 'must be a whole number from 1 to 720'],
  LEELOO_INVITES_PER_HOUR: ['0', 'must be a whole number from 1 to 100'],
  LEELOO_TIME_ZONE: ['Mars/Olympus', 'must be an IANA time zone'],
};
/** Variables for which no value is wrong: the bot's shared secret is whatever the operator chose. */
const ANY_VALUE = ['TELEGRAM_API_SECRET'];

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`the relay accepted ${JSON.stringify(env)}`);
}

describe('relay settings', () => {
  it('has a refused value for every variable it reads', () => {
    expect(RELAY_ENV_NAMES.filter((name) => !(name in BAD) && !ANY_VALUE.includes(name))).toEqual([]);
    expect(Object.keys(BAD).filter((name) => !RELAY_ENV_NAMES.includes(name))).toEqual([]);
  });

  it.each(Object.entries(BAD))('refuses a bad %s with one sentence naming it', (name, [value, sentence]) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    const start = `${name} ${sentence}`;
    expect(problems[0]!.slice(0, start.length)).toBe(start);
  });

  it('says what one variable needs of another once each is valid on its own', () => {
    expect(problemsOf({ SPOTIFY_CLIENT_ID: 'leeloo-app-1' })).toEqual([
      expect.stringMatching(/^LEELOO_ENCRYPTION_KEY must be set when SPOTIFY_CLIENT_ID is set/),
      expect.stringMatching(/^PUBLIC_URL must be set when SPOTIFY_CLIENT_ID is set/),
    ]);
  });

  it('lists every bad variable at once, one sentence each', () => {
    const env = {
      LEELOO_QUEUE_MAX_LENGTH: 'abc',
      HEARTBEAT_INTERVAL_MS: 'abc',
      SPOTIFY_API_URL: 'ftp://x',
      LEELOO_LINK_SECRET: 'short',
      RATE_LIMIT_PER_SECOND: '-2.5',
    };
    expect(
      problemsOf(env)
        .map((problem) => problem.split(' ')[0])
        .sort(),
    ).toEqual(Object.keys(env).sort());
  });
});

/**
 * The relay process, once per settings group that used to have a loader of its own (the
 * core's, the queue's read inside the queue feature, Spotify's, the rules across variables)
 * and for TRUST_PROXY, which express used to throw on, and an env file that is not there:
 * exit 78 and the sentence, no stack.
 */
describe('the relay process with a bad setting', () => {
  const samples: [string, Record<string, string>, string][] = [
    ['the queue', { LEELOO_QUEUE_MAX_LENGTH: 'abc' }, 'LEELOO_QUEUE_MAX_LENGTH must be a whole number from 1 to 1000'],
    ['the socket', { HEARTBEAT_INTERVAL_MS: 'abc' }, 'HEARTBEAT_INTERVAL_MS must be a whole number from 1 to 3600000'],
    ['Spotify', { SPOTIFY_API_URL: 'ftp://x' }, 'SPOTIFY_API_URL must be an http(s) URL'],
    [
      'a rule across variables',
      { SPOTIFY_CLIENT_ID: 'leeloo-app-1', PUBLIC_URL: 'https://relay.example' },
      'LEELOO_ENCRYPTION_KEY must be set when SPOTIFY_CLIENT_ID is set',
    ],
    ['the HTTP server', { TRUST_PROXY: 'nonsense' }, 'TRUST_PROXY must be false, true, a hop count'],
    ['the env file', { LEELOO_ENV_FILE: '/nonexistent/relay.env' }, 'LEELOO_ENV_FILE names /nonexistent/relay.env, which cannot be read (ENOENT).'],
  ];

  it.each(samples)('exits 78 with the sentence (%s)', async (_group, env, sentence) => {
    const { code, stderr } = await relayRefusal(env);
    expect(stderr).toContain('The relay configuration is invalid:');
    expect(stderr).toContain(`  - ${sentence}`);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(code).toBe(78);
  });
});
