import { RedisQueueStore } from '../../../cloud/store/redis/redis-queue.js';
import { openSqliteStore } from '../../../cloud/store/sqlite-store.js';
import { expect } from 'vitest';
import { countKeys, testRedis, type TestRedis } from '../../helpers/redis.js';
import { queueContract } from './queue-contract.js';

let sqlite: ReturnType<typeof openSqliteStore> | undefined;
queueContract({
  name: 'sqlite',
  async open() {
    sqlite = openSqliteStore(':memory:');
    return sqlite.queue;
  },
  async cleanup() {
    await sqlite?.close();
  },
});

let redis: TestRedis | undefined;
queueContract({
  name: 'redis',
  async open() {
    redis = await testRedis();
    return new RedisQueueStore(redis.redis, redis.prefix);
  },
  async cleanup() {
    // Every key the area wrote is under its own name.
    const all = await countKeys(redis!.redis, redis!.prefix);
    const own = await countKeys(redis!.redis, `${redis!.prefix}queue:`);
    await redis!.cleanup();
    expect(all).toBe(own);
  },
});
