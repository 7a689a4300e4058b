import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { openSqliteStore } from '../../../cloud/store/sqlite-store.js';
import { countKeys, testRedis, type TestRedis } from '../../helpers/redis.js';

type SqliteStore = ReturnType<typeof openSqliteStore>;

/** What an area's contract is given: a fresh area of one store, a device row to make (for areas that refer to devices), its cleanup. */
export interface AreaFactory<A> {
  readonly name: string;
  open(): Promise<A>;
  addDevice(deviceId: string): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * Runs an area's contract on the embedded store and on Redis (the test's own key prefix). On
 * Redis, every key left after a test must be under the area's own names (`keys`, after the prefix).
 */
export function onBothStores<A>(
  contract: (factory: AreaFactory<A>) => void,
  area: { sqlite(store: SqliteStore): A; redis(redis: Redis, prefix: string): A; keys: readonly string[] },
): void {
  let sqlite: SqliteStore | undefined;
  contract({
    name: 'sqlite',
    async open() {
      sqlite = openSqliteStore(':memory:');
      return area.sqlite(sqlite);
    },
    async addDevice(deviceId) {
      await sqlite!.crews.saveDevice({ deviceId, displayName: deviceId });
    },
    async cleanup() {
      await sqlite?.close();
    },
  });

  let redis: TestRedis | undefined;
  contract({
    name: 'redis',
    async open() {
      redis = await testRedis();
      return area.redis(redis.redis, redis.prefix);
    },
    // The directory (redis-crews.ts) keeps each device as this hash; the areas ask only whether it exists.
    async addDevice(deviceId) {
      await redis!.redis.hset(`${redis!.prefix}dir:device:${deviceId}`, 'deviceId', deviceId);
    },
    async cleanup() {
      const all = await countKeys(redis!.redis, redis!.prefix);
      let own = 0;
      for (const key of area.keys) own += await countKeys(redis!.redis, `${redis!.prefix}${key}`);
      await redis!.cleanup();
      expect(all).toBe(own);
    },
  });
}
