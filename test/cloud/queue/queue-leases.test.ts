import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../cloud/config.js';
import type { CrewEventListener, RelayContext } from '../../../cloud/feature.js';
import { createLogger } from '../../../cloud/log.js';
import { createRelayMetrics } from '../../../cloud/metrics.js';
import { QueueFeature } from '../../../cloud/queue/queue-feature.js';
import { openStore } from '../../../cloud/store/open-store.js';
import { RedisLeases } from '../../../cloud/store/redis/redis-leases.js';
import type { Store } from '../../../cloud/store/store.js';
import type { CrewEvent } from '../../../protocol/index.js';
import { TEST_REDIS_URL, testRedis, type TestRedis } from '../../helpers/redis.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';
import { waitUntil } from '../../helpers/wait-until.js';

/*
 * Two relay processes' queue features on one store, their clock behind a lease in real Redis:
 * every event one publishes reaches the other's live listeners, as the bus carries it. Real
 * timers: a track lasts 1 s and the clock's lease 1.5 s.
 */

const CREW = 'crew-1';
const LEASE = { ttlMs: 1_500, retryMs: 100 };
const QUEUE_ENV = { LEELOO_LINK_SECRET: 'x'.repeat(40), LEELOO_QUEUE_STATE_INTERVAL_MS: '0' };
const ann = { deviceId: 'ann', name: 'Ann', isOwner: false };

type QueueStateEvent = Extract<CrewEvent, { type: 'queue_state' }>;

function subscribe(listeners: Set<CrewEventListener>, listener: CrewEventListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** One process: its own listeners and lease owner; `peers` are the processes its events reach. */
class Process {
  readonly listeners = new Set<CrewEventListener>();
  readonly live = new Set<CrewEventListener>();
  readonly feature: QueueFeature;
  peers: Process[] = [];

  constructor(store: Store, dataDir: string, leases: RedisLeases, published: CrewEvent[]) {
    const context: RelayContext = {
      config: loadConfig({ PORT: '0', HOST: '127.0.0.1', LEELOO_DATA_DIR: dataDir, ...QUEUE_ENV }),
      store,
      log: createLogger('silent'),
      metrics: createRelayMetrics({ connections: () => 0, devicesOnline: () => 0 }).features,
      leases,
      publish: async (crewId, event, from) => {
        const [result] = await store.log.appendEvents([{ crewId, event, from }]);
        if (!result!.duplicate) {
          const stored = { ...event, seq: result!.seq, crew_code: 'LEELOO-TEST' } as CrewEvent;
          published.push(stored);
          for (const listener of this.listeners) listener(stored, crewId);
          for (const peer of [this, ...this.peers]) for (const listener of peer.live) listener(stored, crewId);
        }
        return { seq: result!.seq, duplicate: result!.duplicate };
      },
      onCrewEvent: (listener) => subscribe(this.listeners, listener),
      onLiveCrewEvent: (listener) => subscribe(this.live, listener),
      sendToDevice: () => false,
      isOnline: () => false,
      publicUrl: () => 'https://leeloo.example',
    };
    this.feature = new QueueFeature(context, { clockLease: LEASE });
  }
}

let shared: TestRedis;
let dataDir: string;
let store: Store;
const connections: Redis[] = [];
const processes: Process[] = [];
const published: CrewEvent[] = [];
let n = 0;

async function relayProcess(owner: string): Promise<Process> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  connections.push(redis);
  await redis.connect();
  const made = new Process(store, dataDir, new RedisLeases(redis, shared.prefix, owner), published);
  processes.push(made);
  return made;
}

/** Adds a 1-s track through one process (a member's command lands on whichever process has its socket). */
async function addTrack(via: Process): Promise<string> {
  n += 1;
  const result = await via.feature.run(CREW, ann, {
    type: 'queue_add',
    spotify_uri: `spotify:track:${String(n).padStart(22, 'Z')}`,
    track: `T${n}`,
    artist: 'A',
    album: '',
    album_art_url: '',
    duration_ms: 1_000,
  });
  expect(result.duplicate).toBe(false);
  return (await via.feature.snapshot(CREW)).now_playing?.item_id ?? '';
}

const advancedOf = (itemId: string) =>
  published.filter((e): e is QueueStateEvent => e.type === 'queue_state' && e.change.kind === 'advanced' && e.change.item_id === itemId);

beforeEach(async () => {
  n = 0;
  published.length = 0;
  shared = await testRedis();
  dataDir = await makeTempDir('leeloo-queue-leases-');
  store = await openStore({ dataDir, redisUrl: undefined });
  await store.crews.saveDevice({ deviceId: 'owner', displayName: 'Olga' });
  await store.crews.saveDevice({ deviceId: 'ann', displayName: 'Ann' });
  await store.crews.createCrew({ crewId: CREW, crewCode: 'LEELOO-TEST', crewName: 'Test crew', ownerDeviceId: 'owner' });
  await store.crews.addMember(CREW, 'ann');
});

afterEach(async () => {
  for (const made of processes.splice(0)) await made.feature.stop();
  for (const redis of connections.splice(0)) redis.disconnect();
  await store.close();
  await removeTempDir(dataDir);
  await shared.cleanup();
});

describe('the queue clock across relay processes', () => {
  it('advances a track once, from whichever process holds the clock, and from the other once the holder stops', async () => {
    const a = await relayProcess('relay-a');
    const b = await relayProcess('relay-b');
    a.peers = [b];
    b.peers = [a];
    await Promise.all([a.feature.start(), b.feature.start()]);
    const holderKey = `${shared.prefix}lease:queue-clock`;
    const holderOwner = (await shared.redis.get(holderKey))?.split(':')[1];
    expect(['relay-a', 'relay-b']).toContain(holderOwner);
    const [holder, other] = holderOwner === 'relay-a' ? [a, b] : [b, a];

    // Added through the process that does not hold the clock: the holder hears of it and advances it.
    const first = await addTrack(other);
    await waitUntil(() => advancedOf(first).length > 0, 'the first track to end', 5_000);

    // The holder stops (a deploy): the other takes the clock and ends the next track, once.
    await holder.feature.stop();
    processes.splice(processes.indexOf(holder), 1);
    await waitUntil(
      async () => (await shared.redis.get(holderKey))?.endsWith(`:${holderOwner === 'relay-a' ? 'relay-b' : 'relay-a'}`) === true,
      'the other process to take the clock',
      5_000,
    );
    const second = await addTrack(other);
    await waitUntil(() => advancedOf(second).length > 0, 'the second track to end', 5_000);
    // Every track ended by exactly one queue_state, though two processes ran a clock in turn.
    await other.feature.stop();
    processes.splice(processes.indexOf(other), 1);
    expect(advancedOf(first)).toHaveLength(1);
    expect(advancedOf(second)).toHaveLength(1);
  });
});
