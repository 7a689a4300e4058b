import { RedisTokenStore } from '../../../cloud/store/redis/redis-tokens.js';
import { openSqliteStore } from '../../../cloud/store/sqlite-store.js';
import { expect } from 'vitest';
import { countKeys, testRedis, type TestRedis } from '../../helpers/redis.js';
import { tokensContract } from './tokens-contract.js';

let sqlite: ReturnType<typeof openSqliteStore> | undefined;
tokensContract({
  name: 'sqlite',
  async open() {
    sqlite = openSqliteStore(':memory:');
    return sqlite.tokens;
  },
  async cleanup() {
    await sqlite?.close();
  },
});

let redis: TestRedis | undefined;
tokensContract({
  name: 'redis',
  async open() {
    redis = await testRedis();
    return new RedisTokenStore(redis.redis, redis.prefix);
  },
  async cleanup() {
    // Every key the area wrote is under its own name.
    const all = await countKeys(redis!.redis, redis!.prefix);
    const own = await countKeys(redis!.redis, `${redis!.prefix}tokens:`);
    await redis!.cleanup();
    expect(all).toBe(own);
  },
});
