import type { Redis } from 'ioredis';
import { ProtocolError } from '../../../protocol/index.js';
import type { Logger } from '../../log.js';
import type { Store } from '../store.js';
import { openRedisConnection } from './redis-connection.js';
import { RedisCrewStore } from './redis-crews.js';
import { RedisHistoryStore } from './redis-history.js';
import { RedisMcpStore } from './redis-mcp.js';
import { RedisQueueStore } from './redis-queue.js';
import { RedisTelegramStore } from './redis-telegram.js';
import { RedisTokenStore } from './redis-tokens.js';

/** The Redis store with the connection it runs on (the bus and the leases share it). */
export interface RedisStore extends Store {
  readonly redis: Redis;
  readonly prefix: string;
  /** New events are announced to the other relay processes as they are stored, as `writer` (RedisCrewStore.announceAppends). */
  announceAppends(writer: string): void;
}

/**
 * The store on Redis, for several relay processes and machines: every area on one connection,
 * every key under `prefix`. Production needs a Redis that keeps what it acknowledged
 * (`appendonly yes`) and never evicts (`maxmemory-policy noeviction`): README.
 */
function redisStoreOn(redis: Redis, prefix: string): RedisStore {
  const crews = new RedisCrewStore(redis, prefix);
  return {
    kind: 'redis',
    redis,
    prefix,
    crews,
    log: crews,
    history: new RedisHistoryStore(redis, prefix),
    queue: new RedisQueueStore(redis, prefix),
    tokens: new RedisTokenStore(redis, prefix),
    telegram: new RedisTelegramStore(redis, prefix),
    mcp: new RedisMcpStore(redis, prefix),
    announceAppends: (writer) => crews.announceAppends(writer),
    async ping() {
      if (redis.status !== 'ready') throw new ProtocolError('unavailable', `The relay's Redis connection is ${redis.status}; it is reconnecting.`);
      await redis.ping();
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

export async function openRedisStore(url: string, prefix: string, log: Logger): Promise<RedisStore> {
  return redisStoreOn(await openRedisConnection(url, log, 'leeloo-store'), prefix);
}
