import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { composeFeatures } from '../../cloud/compose.js';
import { loadConfig } from '../../cloud/config.js';
import { createLogger } from '../../cloud/log.js';
import { createRelay, type Relay } from '../../cloud/server.js';
import { openStore } from '../../cloud/store/open-store.js';
import { RedisLeases } from '../../cloud/store/redis/redis-leases.js';
import type { Store } from '../../cloud/store/store.js';
import { TEST_RELAY_LIMITS } from '../helpers/relay-in-process.js';
import { TEST_REDIS_URL, testRedis, type TestRedis } from '../helpers/redis.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

/*
 * createRelay with the leases it is given (as cloud/main.ts gives RedisLeases): retention, history
 * collection and the queue clock are each taken under the relay's prefix, by this relay's owner,
 * and given back when the relay stops.
 */

const ONCE_PER_RELAY = ['history-collection', 'queue-clock', 'retention'];

let shared: TestRedis;
let redis: Redis;
let dataDir: string;
let store: Store | undefined;
let relay: Relay | undefined;

beforeEach(async () => {
  shared = await testRedis();
  redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await redis.connect();
  dataDir = await makeTempDir('leeloo-relay-leases-');
});

afterEach(async () => {
  await relay?.stop();
  await store?.close().catch(() => undefined);
  relay = store = undefined;
  redis.disconnect();
  await removeTempDir(dataDir);
  await shared.cleanup();
});

async function start(owner: string): Promise<void> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LEELOO_DATA_DIR: dataDir, EVENT_RETENTION_DAYS: '30', ...TEST_RELAY_LIMITS });
  store = await openStore(config);
  relay = createRelay({ config, store, log: createLogger('silent'), features: [composeFeatures], leases: new RedisLeases(redis, shared.prefix, owner) });
  await relay.start();
}

const holders = async () => Promise.all(ONCE_PER_RELAY.map(async (name) => (await shared.redis.get(`${shared.prefix}lease:${name}`))?.split(':')[1] ?? null));

describe('a relay on shared leases', () => {
  it('holds retention, history collection and the queue clock as its own owner, and releases them on stop', async () => {
    await start('relay-a');
    await waitUntil(async () => (await holders()).every((owner) => owner === 'relay-a'), 'the relay to hold its three leases', 5_000);
    await relay!.stop();
    relay = undefined;
    expect(await holders()).toEqual([null, null, null]);
  });

  it('starts without the leases another process holds, and takes them once it gives them up', async () => {
    const other = new RedisLeases(redis, shared.prefix, 'relay-b');
    const tokens = await Promise.all(ONCE_PER_RELAY.map((name) => other.acquire(name, 60_000)));
    await start('relay-a');
    expect(await holders()).toEqual(['relay-b', 'relay-b', 'relay-b']);
    await Promise.all(ONCE_PER_RELAY.map((name, i) => other.release(name, tokens[i]!)));
    await waitUntil(async () => (await holders()).every((owner) => owner === 'relay-a'), 'the relay to take the released leases', 5_000);
  });
});
