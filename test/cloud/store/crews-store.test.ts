import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisCrewStore } from '../../../cloud/store/redis/redis-crews.js';
import { RedisTelegramStore } from '../../../cloud/store/redis/redis-telegram.js';
import { openSqliteStore } from '../../../cloud/store/sqlite-store.js';
import { countKeys, testRedis, type TestRedis } from '../../helpers/redis.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';
import { crewsContract } from './crews-contract.js';

crewsContract({
  name: 'sqlite',
  async open() {
    const store = openSqliteStore(':memory:');
    return { crews: store.crews, log: store.log, close: () => store.close() };
  },
  async cleanup() {},
});

// A store in a file writes the log on its writer thread: the same contract, across the thread.
let dir: string | undefined;
crewsContract({
  name: 'sqlite in a file',
  async open() {
    dir = await makeTempDir('leeloo-crews-');
    const store = openSqliteStore(path.join(dir, 'leeloo.db'));
    return { crews: store.crews, log: store.log, close: () => store.close() };
  },
  async cleanup() {
    if (dir) await removeTempDir(dir);
    dir = undefined;
  },
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

describe('RedisCrewStore keys', () => {
  let own: TestRedis;
  beforeEach(async () => {
    own = await testRedis();
  });
  afterEach(async () => {
    await own.cleanup();
  });

  it('keeps devices as hashes at dir:device:<id>, where the other areas look for them', async () => {
    const store = new RedisCrewStore(own.redis, own.prefix);
    await store.saveDevice({ deviceId: 'dev-a', displayName: 'A', secretHash: 'aa'.repeat(32) });
    expect(await own.redis.type(`${own.prefix}dir:device:dev-a`)).toBe('hash');
    expect(await own.redis.hget(`${own.prefix}dir:device:dev-a`, 'secretHash')).toBe('aa'.repeat(32));
    const telegram = new RedisTelegramStore(own.redis, own.prefix);
    expect(await telegram.saveUser('42', 'dev-a')).toMatchObject({ deviceId: 'dev-a' });
    await expect(telegram.saveUser('43', 'dev-b')).rejects.toThrow(/no device dev-b/);
  });

  it('marks the dataset once; a second store on it keeps the marker', async () => {
    const first = new RedisCrewStore(own.redis, own.prefix);
    await first.counts();
    const marker = await own.redis.get(`${own.prefix}dir:dataset`);
    expect(marker).toMatch(/^[0-9a-f]{16}$/);
    const second = new RedisCrewStore(own.redis, own.prefix);
    await second.counts();
    expect(await own.redis.get(`${own.prefix}dir:dataset`)).toBe(marker);
  });

  it('leaves no event keys of a crew behind once retention pruned them all', async () => {
    const store = new RedisCrewStore(own.redis, own.prefix);
    await store.saveDevice({ deviceId: 'dev-a', displayName: 'A' });
    await store.createCrew({ crewId: 'c1', crewCode: 'LEELOO-AAAA', crewName: 'One', ownerDeviceId: 'dev-a' });
    await store.appendEvents([
      { crewId: 'c1', event: { type: 'member_left', device_id: 'dev-b', display_name: 'B', removed: false }, from: { deviceId: 'dev-a', clientMsgId: 'm' } },
    ]);
    expect(await countKeys(own.redis, `${own.prefix}log:`)).toBe(5);
    expect(await store.pruneEventsBefore(Date.now() + 1)).toBe(1);
    expect(await countKeys(own.redis, `${own.prefix}log:`)).toBe(0);
  });
});
