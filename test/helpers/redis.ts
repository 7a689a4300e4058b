import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The shared Redis on loopback (.ci/run starts it); a test never flushes it, it removes its own prefix. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestRedis {
  readonly redis: Redis;
  /** A prefix of this test's own (`leeloo-test:<random>:`): every key the test makes starts with it. */
  readonly prefix: string;
  /** Deletes every key under the prefix (SCAN + UNLINK, never FLUSHALL) and closes the connection. */
  cleanup(): Promise<void>;
}

/** A connection to the shared test Redis with a fresh key prefix. */
export async function testRedis(url = TEST_REDIS_URL): Promise<TestRedis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  const prefix = `leeloo-test:${randomBytes(6).toString('hex')}:`;
  return {
    redis,
    prefix,
    async cleanup() {
      await deleteKeys(redis, prefix);
      redis.disconnect();
    },
  };
}

/** The keys under `prefix`, a SCAN page at a time (never KEYS, which blocks Redis). */
async function* keysUnder(redis: Redis, prefix: string): AsyncGenerator<string[]> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== '0');
}

/** Deletes every key under `prefix`; returns how many. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  for await (const keys of keysUnder(redis, prefix)) deleted += await redis.unlink(...keys);
  return deleted;
}

/** How many keys the prefix holds (a test checks it cleaned up, or what a store wrote). */
export async function countKeys(redis: Redis, prefix: string): Promise<number> {
  let count = 0;
  for await (const keys of keysUnder(redis, prefix)) count += keys.length;
  return count;
}
