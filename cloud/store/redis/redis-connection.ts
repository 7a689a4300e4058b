import { Redis } from 'ioredis';
import { ProtocolError } from '../../../protocol/index.js';
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

/** Connects, waiting for the first connection: the relay does not start without its store. */
export async function openRedisConnection(url: string, log: Logger, name: string): Promise<Redis> {
  const redis = connectRedis(url, log, name);
  let cause: Error | null = null;
  const noteCause = (error: Error) => (cause ??= error);
  redis.on('error', noteCause);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    const first = (cause ?? error) as NodeJS.ErrnoException;
    const reason = first.code ?? first.message;
    throw new ProtocolError(
      'unavailable',
      `The relay cannot reach its Redis at ${withoutPassword(url)} (${reason}); check REDIS_URL and that Redis is running.`,
    );
  } finally {
    redis.off('error', noteCause);
  }
  return redis;
}

/** The URL as a log or an error may show it: no password. */
export function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
