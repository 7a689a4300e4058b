import { Redis } from 'ioredis';
import type { Logger } from '../../log.js';

/** Reconnect waits: doubling from 100 ms up to this, for as long as Redis is away. */
const MAX_RECONNECT_WAIT_MS = 2_000;

/**
 * A connection to the relay's Redis. Commands fail at once while it is down (no offline queue:
 * a client is told `unavailable` and retries, instead of the relay holding its frames for an
 * unknown time), and the connection retries with back-off until Redis is back.
 */
export function connectRedis(url: string, log: Logger, name: string): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectionName: name,
    retryStrategy: (attempt) => Math.min(MAX_RECONNECT_WAIT_MS, 100 * 2 ** Math.min(attempt, 10)),
  });
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    log.warn({ err: error, connection: name }, 'the Redis connection failed; retrying with back-off');
  });
  redis.on('ready', () => {
    if (down) log.info({ connection: name }, 'the Redis connection is back');
    down = false;
  });
  return redis;
}

/** Connects, waiting for the first connection (the relay does not start without its store). */
export async function openRedisConnection(url: string, log: Logger, name: string): Promise<Redis> {
  const redis = connectRedis(url, log, name);
  // The first connection is awaited with the offline queue's help: fail rather than wait forever.
  await redis.connect();
  return redis;
}

/** Whether an error means Redis could not be reached or cannot write now (a client retries), not a bug. */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH)$/.test(code)) return true;
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue|^(OOM|READONLY|LOADING|MASTERDOWN|MISCONF|BUSY)\b/.test(error.message);
}
