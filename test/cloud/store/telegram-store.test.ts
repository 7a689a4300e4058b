import { RedisTelegramStore } from '../../../cloud/store/redis/redis-telegram.js';
import { openSqliteStore } from '../../../cloud/store/sqlite-store.js';
import { expect } from 'vitest';
import { countKeys, testRedis, type TestRedis } from '../../helpers/redis.js';
import { telegramContract } from './telegram-contract.js';

let sqlite: ReturnType<typeof openSqliteStore> | undefined;
telegramContract({
  name: 'sqlite',
  async open() {
    sqlite = openSqliteStore(':memory:');
    return sqlite.telegram;
  },
  async addDevice(deviceId) {
    await sqlite!.crews.saveDevice({ deviceId, displayName: deviceId });
  },
  async cleanup() {
    await sqlite?.close();
  },
});

let redis: TestRedis | undefined;
telegramContract({
  name: 'redis',
  async open() {
    redis = await testRedis();
    return new RedisTelegramStore(redis.redis, redis.prefix);
  },
  // The directory (redis-crews.ts) keeps each device as this hash; the area asks only whether it exists.
  async addDevice(deviceId) {
    await redis!.redis.hset(`${redis!.prefix}dir:device:${deviceId}`, 'deviceId', deviceId);
  },
  async cleanup() {
    // Every key the area wrote is under its own name (beside the directory entries the test made).
    const all = await countKeys(redis!.redis, redis!.prefix);
    const own = (await countKeys(redis!.redis, `${redis!.prefix}telegram:`)) + (await countKeys(redis!.redis, `${redis!.prefix}dir:`));
    await redis!.cleanup();
    expect(all).toBe(own);
  },
});
