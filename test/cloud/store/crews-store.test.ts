import { expect } from 'vitest';
import { RedisCrewStore } from '../../../cloud/store/redis/redis-crews.js';
import { openSqliteStore } from '../../../cloud/store/sqlite-store.js';
import { countKeys, testRedis, type TestRedis } from '../../helpers/redis.js';
import { crewsContract } from './crews-contract.js';

crewsContract({
  name: 'sqlite',
  async open() {
    const store = openSqliteStore(':memory:');
    return { crews: store.crews, log: store.log, close: () => store.close() };
  },
  async cleanup() {},
});

let redis: TestRedis | undefined;
let more: TestRedis[] = [];
crewsContract({
  name: 'redis',
  async open() {
    redis = await testRedis();
    const store = new RedisCrewStore(redis.redis, redis.prefix);
    return { crews: store, log: store, close: async () => {} };
  },
  // Another relay process: its own connection and its own store object on the same keys.
  async openMore() {
    const connection = await testRedis();
    more.push(connection);
    const store = new RedisCrewStore(connection.redis, redis!.prefix);
    return { crews: store, log: store, close: async () => connection.redis.disconnect() };
  },
  async loseEvents(crewId, latestSeq) {
    await redis!.redis.hset(`${redis!.prefix}dir:crew:${crewId}`, 'latestSeq', latestSeq);
  },
  async cleanup() {
    for (const connection of more) connection.redis.disconnect();
    more = [];
    // Every key the area wrote is under its own names.
    const all = await countKeys(redis!.redis, redis!.prefix);
    const dir = await countKeys(redis!.redis, `${redis!.prefix}dir:`);
    const log = await countKeys(redis!.redis, `${redis!.prefix}log:`);
    await redis!.cleanup();
    expect(all).toBe(dir + log);
  },
});
