import { RedisMcpStore } from '../../../cloud/store/redis/redis-mcp.js';
import { openSqliteStore } from '../../../cloud/store/sqlite-store.js';
import { expect } from 'vitest';
import { countKeys, testRedis, type TestRedis } from '../../helpers/redis.js';
import { mcpContract } from './mcp-contract.js';

let sqlite: ReturnType<typeof openSqliteStore> | undefined;
mcpContract({
  name: 'sqlite',
  async open() {
    sqlite = openSqliteStore(':memory:');
    return sqlite.mcp;
  },
  async addDevice(deviceId) {
    await sqlite!.crews.saveDevice({ deviceId, displayName: deviceId });
  },
  async cleanup() {
    await sqlite?.close();
  },
});

let redis: TestRedis | undefined;
mcpContract({
  name: 'redis',
  async open() {
    redis = await testRedis();
    return new RedisMcpStore(redis.redis, redis.prefix);
  },
  // The directory (redis-crews.ts) keeps each device as this hash; the area asks only whether it exists.
  async addDevice(deviceId) {
    await redis!.redis.hset(`${redis!.prefix}dir:device:${deviceId}`, 'deviceId', deviceId);
  },
  async cleanup() {
    // Every key the area wrote is under its own name (beside the directory entries the test made).
    const all = await countKeys(redis!.redis, redis!.prefix);
    const own = (await countKeys(redis!.redis, `${redis!.prefix}mcp:`)) + (await countKeys(redis!.redis, `${redis!.prefix}dir:`));
    await redis!.cleanup();
    expect(all).toBe(own);
  },
});
