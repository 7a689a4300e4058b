import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeasedWork, LocalLeases, type Leases, type LeaseTimings } from '../../cloud/leases.js';
import { createLogger } from '../../cloud/log.js';
import { RedisLeases } from '../../cloud/store/redis/redis-leases.js';
import { TEST_REDIS_URL, testRedis, type TestRedis } from '../helpers/redis.js';
import { SilentProxy } from '../helpers/silent-proxy.js';
import { waitUntil } from '../helpers/wait-until.js';

const log = createLogger('silent');
const TIMINGS = { ttlMs: 1_500, retryMs: 200 } satisfies LeaseTimings;
const HOLDER = path.resolve(import.meta.dirname, '../helpers/lease-holder.ts');

type Change = { readonly kind: 'start'; readonly token: number; readonly at: number } | { readonly kind: 'stop'; readonly at: number };

/** A LeasedWork whose work records when it starts (with its token) and stops, on the monotonic clock. */
function watched(leases: Leases, name = 'clock', timings: LeaseTimings = TIMINGS) {
  const changes: Change[] = [];
  const lease = new LeasedWork({
    leases,
    name,
    log,
    timings,
    work: {
      start: async (token) => void changes.push({ kind: 'start', token, at: performance.now() }),
      stop: async () => void changes.push({ kind: 'stop', at: performance.now() }),
    },
  });
  const running = () => changes.at(-1)?.kind === 'start';
  const tokens = () => changes.flatMap((c) => (c.kind === 'start' ? [c.token] : []));
  return { lease, changes, running, tokens };
}

describe('LocalLeases (one process on the embedded store)', () => {
  afterEach(() => vi.useRealTimers());

  it('starts the work inside start() with its token and runs no timer, as the relay did before leases', async () => {
    vi.useFakeTimers();
    const { lease, changes, running } = watched(new LocalLeases());
    await lease.start();
    expect(changes).toEqual([{ kind: 'start', token: 1, at: expect.any(Number) }]);
    expect(lease.token).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    await lease.stop();
    expect(running()).toBe(false);
    expect(lease.token).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails start() when the work fails to start, holding nothing, and starts again when asked', async () => {
    let fail = true;
    const started: number[] = [];
    const lease = new LeasedWork({
      leases: new LocalLeases(),
      name: 'retention',
      log,
      work: {
        start: async (token) => {
          if (fail) throw new Error('disk full');
          started.push(token);
        },
        stop: async () => undefined,
      },
    });
    await expect(lease.start()).rejects.toThrow('disk full');
    expect(lease.token).toBeNull();
    fail = false;
    await lease.start();
    expect(started).toEqual([2]);
    await lease.stop();
  });

  it('refuses a retry interval that cannot be right', () => {
    expect(() => watched(new LocalLeases(), 'clock', { ttlMs: 1_000, retryMs: 0 })).toThrow(/retry interval/);
    expect(() => watched(new LocalLeases(), 'clock', { ttlMs: 1_000, retryMs: 2.5 })).toThrow(/retry interval/);
  });
});

/** What every Leases keeps, one owner on its own: LocalLeases, and RedisLeases on a prefix of its own. */
describe.each([
  ['LocalLeases', async () => ({ leases: new LocalLeases() as Leases, close: async () => undefined })],
  [
    'RedisLeases',
    async () => {
      const redis = await testRedis();
      return { leases: new RedisLeases(redis.redis, redis.prefix, 'relay-a') as Leases, close: () => redis.cleanup() };
    },
  ],
] as const)('the Leases contract on %s', (_name, open) => {
  let leases: Leases;
  let close: () => Promise<unknown>;
  beforeEach(async () => ({ leases, close } = await open()));
  afterEach(() => close());

  it('grants every acquire of its owner with a growing token; only the newest grant renews; a stale release leaves it; a release frees it', async () => {
    const first = (await leases.acquire('retention', 1_000))!;
    const second = (await leases.acquire('retention', 1_000))!;
    expect(first).toBeGreaterThan(0);
    expect(second).toBeGreaterThan(first);
    expect(await leases.renew('retention', first, 1_000)).toBe(false);
    expect(await leases.renew('retention', second, 1_000)).toBe(true);
    await leases.release('retention', first);
    expect(await leases.renew('retention', second, 1_000)).toBe(true);
    await leases.release('retention', second);
    expect(await leases.renew('retention', second, 1_000)).toBe(false);
    expect(await leases.acquire('retention', 1_000)).toBeGreaterThan(second);
  });

  it('keeps each name apart', async () => {
    const clock = (await leases.acquire('queue-clock', 1_000))!;
    const retention = (await leases.acquire('retention', 1_000))!;
    await leases.release('retention', retention);
    expect(await leases.renew('queue-clock', clock, 1_000)).toBe(true);
    expect(await leases.renew('retention', retention, 1_000)).toBe(false);
  });

  it('refuses lease names and TTLs that cannot be right, with a sentence', async () => {
    await expect(leases.acquire('Queue Clock', 1_000)).rejects.toThrow(/lower-case letters/);
    await expect(leases.acquire('queue:clock', 1_000)).rejects.toThrow(/lower-case letters/);
    await expect(leases.acquire('', 1_000)).rejects.toThrow(/lower-case letters/);
    await expect(leases.acquire('clock', 50)).rejects.toThrow(/at least 100/);
    await expect(leases.acquire('clock', 1.5e3 + 0.5)).rejects.toThrow(/whole number/);
    await expect(leases.renew('clock', 1, Number.NaN)).rejects.toThrow(/whole number/);
  });
});

/** Shared leases whose store can stop answering: calls made meanwhile never settle, as on a silent link. */
class StallingLeases implements Leases {
  readonly shared = true;
  answering = true;
  /** Renewals still to go unanswered, however the store answers the rest. */
  renewalsToDrop = 0;
  renewals = 0;
  private holder: number | null = null;
  private counter = 0;

  async acquire(): Promise<number | null> {
    await this.answer();
    if (this.holder !== null) return null;
    this.counter += 1;
    this.holder = this.counter;
    return this.counter;
  }

  async renew(_name: string, token: number): Promise<boolean> {
    this.renewals += 1;
    if (this.renewalsToDrop > 0) {
      this.renewalsToDrop -= 1;
      return new Promise(() => undefined);
    }
    await this.answer();
    return this.holder === token;
  }

  async release(_name: string, token: number): Promise<void> {
    await this.answer();
    if (this.holder === token) this.holder = null;
  }

  /** The grant runs out in the store (its holder stopped renewing). */
  expire(): void {
    this.holder = null;
  }

  private answer(): Promise<void> {
    return this.answering ? Promise.resolve() : new Promise(() => undefined);
  }
}

describe('LeasedWork on a store that stops answering', () => {
  it('stops the work by its own deadline and, once the store answers again, takes the lease back: an unanswered call does not stall it', async () => {
    const leases = new StallingLeases();
    const { lease, changes, running, tokens } = watched(leases, 'clock', { ttlMs: 300, retryMs: 20 });
    await lease.start();
    expect(tokens()).toEqual([1]);
    const silentAt = performance.now();
    leases.answering = false;
    await waitUntil(() => !running(), 'the work to stop for want of a renewal', 3_000);
    // Stopped before the grant (300 ms from the last renewal's ask) could run out in the store.
    expect(changes.at(-1)!.at - silentAt).toBeLessThan(300);
    expect(lease.token).toBeNull();
    leases.expire();
    leases.answering = true;
    await waitUntil(() => running(), 'the work to start again once the store answers', 3_000);
    expect(tokens()).toEqual([1, 2]);
    await lease.stop();
    expect(running()).toBe(false);
  });

  it('keeps the work through one unanswered renewal: it is tried again before the deadline', async () => {
    const leases = new StallingLeases();
    const { lease, changes, tokens } = watched(leases, 'clock', { ttlMs: 600, retryMs: 20 });
    await lease.start();
    leases.renewalsToDrop = 1;
    const before = leases.renewals;
    await waitUntil(() => leases.renewals >= before + 4, 'renewals after the unanswered one', 5_000);
    expect(changes.map((c) => c.kind)).toEqual(['start']);
    expect(tokens()).toEqual([1]);
    expect(lease.token).toBe(1);
    await lease.stop();
  });

  it('keeps renewing while the work is still starting, so a slow start does not lose the grant', async () => {
    const leases = new StallingLeases();
    let finishStart!: () => void;
    const lease = new LeasedWork({
      leases,
      name: 'retention',
      log,
      timings: { ttlMs: 300, retryMs: 20 },
      work: { start: () => new Promise<void>((resolve) => (finishStart = resolve)), stop: async () => undefined },
    });
    const started = lease.start();
    await waitUntil(() => leases.renewals >= 3, 'renewals during the slow start', 3_000);
    expect(lease.token).toBe(1);
    finishStart();
    await started;
    await lease.stop();
  });
});

describe('RedisLeases (several processes on one Redis)', () => {
  let shared: TestRedis;
  const connections: Redis[] = [];
  const works: LeasedWork[] = [];
  const children: ChildProcess[] = [];
  const proxies: SilentProxy[] = [];

  /** A connection of its own, as each relay process has, set up as cloud/store/redis/redis-connection.ts does. */
  async function connection(port = 6379): Promise<Redis> {
    const url = new URL(TEST_REDIS_URL);
    const redis = new Redis({ host: url.hostname, port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    connections.push(redis);
    await redis.connect();
    return redis;
  }

  async function owner(name: string, port?: number): Promise<{ redis: Redis; leases: RedisLeases }> {
    const redis = await connection(port);
    return { redis, leases: new RedisLeases(redis, shared.prefix, name) };
  }

  function track<T extends { lease: LeasedWork }>(made: T): T {
    works.push(made.lease);
    return made;
  }

  beforeEach(async () => {
    shared = await testRedis();
  });

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const proxy of proxies.splice(0)) await proxy.close();
    await Promise.all(works.splice(0).map((work) => work.stop()));
    for (const redis of connections.splice(0)) redis.disconnect();
    await shared.cleanup();
  });

  it('grants a lease to exactly one of two owners racing for it, under the prefix, and to nobody else until released', async () => {
    const a = await owner('relay-a');
    const b = await owner('relay-b');
    const names = Array.from({ length: 20 }, (_, i) => `race-${i}`);
    const results = await Promise.all(names.map((name) => Promise.all([a.leases.acquire(name, 5_000), b.leases.acquire(name, 5_000)])));
    for (const [fromA, fromB] of results) expect([fromA, fromB].filter((token) => token !== null)).toHaveLength(1);
    const [tokenA] = results[0]!;
    const holder = tokenA === null ? b : a;
    const other = tokenA === null ? a : b;
    const token = (tokenA ?? results[0]![1])!;
    expect(await shared.redis.get(`${shared.prefix}lease:race-0`)).toMatch(/^\d+:relay-[ab]$/);
    expect(await shared.redis.pttl(`${shared.prefix}lease:race-0`)).toBeGreaterThan(4_000);
    // The other owner can neither renew nor release it, even with the right token.
    expect(await other.leases.renew('race-0', token, 5_000)).toBe(false);
    await other.leases.release('race-0', token);
    expect(await other.leases.acquire('race-0', 5_000)).toBeNull();
    // Its holder is granted it again (a new token) and cannot renew the old grant any more.
    const again = await holder.leases.acquire('race-0', 5_000);
    expect(again).toBeGreaterThan(token);
    expect(await holder.leases.renew('race-0', token, 5_000)).toBe(false);
    expect(await holder.leases.renew('race-0', again!, 5_000)).toBe(true);
  });

  it('hands out a greater token every time the lease changes hands: on release and on expiry', async () => {
    const a = await owner('relay-a');
    const b = await owner('relay-b');
    const first = await a.leases.acquire('clock', 5_000);
    expect(first).not.toBeNull();
    expect(await b.leases.acquire('clock', 5_000)).toBeNull();
    await a.leases.release('clock', first!);
    const second = await b.leases.acquire('clock', 100);
    expect(second).toBeGreaterThan(first!);
    // Not renewed: it expires after 100 ms and A takes it.
    let third: number | null = null;
    await waitUntil(async () => (third = await a.leases.acquire('clock', 5_000)) !== null, 'the unrenewed lease to expire', 3_000);
    expect(third).toBeGreaterThan(second!);
    expect(await b.leases.renew('clock', second!, 5_000)).toBe(false);
  });

  it('refuses a bad owner, name or TTL before asking Redis', async () => {
    const redis = await connection();
    expect(() => new RedisLeases(redis, shared.prefix, 'relay:a')).toThrow(/lease owner/);
    expect(() => new RedisLeases(redis, shared.prefix, '')).toThrow(/lease owner/);
    const leases = new RedisLeases(redis, shared.prefix, 'relay-a');
    await expect(leases.acquire('clock:token', 1_000)).rejects.toThrow(/lower-case letters/);
    await expect(leases.renew('clock', 1, 10)).rejects.toThrow(/at least 100/);
    expect(await shared.redis.keys(`${shared.prefix}*`)).toEqual([]);
  });

  it('runs the work in one of two processes; stopping its holder releases the lease and the other takes over with a greater token', async () => {
    const a = track(watched((await owner('relay-a')).leases));
    const b = track(watched((await owner('relay-b')).leases));
    await Promise.all([a.lease.start(), b.lease.start()]);
    const [holder, other] = a.running() ? [a, b] : [b, a];
    expect(holder.running()).toBe(true);
    expect(other.changes).toEqual([]);
    // Renewals keep it over several TTLs: the other never starts meanwhile.
    await waitUntil(
      async () => (await shared.redis.pttl(`${shared.prefix}lease:clock`)) > 0 && performance.now() - holder.changes[0]!.at > 2 * TIMINGS.ttlMs,
      'two TTLs to pass',
      10_000,
    );
    expect(other.changes).toEqual([]);
    const stoppedAt = performance.now();
    await holder.lease.stop();
    expect(holder.running()).toBe(false);
    await waitUntil(() => other.running(), 'the other process to take the released lease', 5_000);
    // Released, not expired: the other took it at its next retry.
    expect(other.changes[0]!.at - stoppedAt).toBeLessThan(TIMINGS.retryMs + 500);
    expect(other.tokens()[0]).toBeGreaterThan(holder.tokens()[0]!);
  });

  it.each([
    ['its Redis link goes silent (a paused connection)', 'silent'],
    ['its Redis connection is destroyed', 'destroyed'],
  ] as const)('stops the work of a holder whose renewals stop because %s, before the other process can take it', async (_what, fault) => {
    const proxy = await SilentProxy.start(Number(new URL(TEST_REDIS_URL).port || 6379));
    proxies.push(proxy);
    const a = await owner('relay-a', fault === 'silent' ? proxy.port : undefined);
    const holder = track(watched(a.leases));
    await holder.lease.start();
    expect(holder.running()).toBe(true);
    const other = track(watched((await owner('relay-b')).leases));
    await other.lease.start();
    expect(other.changes).toEqual([]);
    const faultAt = performance.now();
    if (fault === 'silent') proxy.silence();
    else a.redis.disconnect();
    await waitUntil(() => other.running(), 'the other process to take the lease', TIMINGS.ttlMs + TIMINGS.retryMs + 3_000);
    const stopped = holder.changes.find((c) => c.kind === 'stop');
    expect(stopped).toBeDefined();
    expect(stopped!.at).toBeLessThan(other.changes[0]!.at);
    // Taken once the unrenewed grant expired: within a TTL and a retry of the fault (plus scheduling slack).
    expect(other.changes[0]!.at - faultAt).toBeLessThan(TIMINGS.ttlMs + TIMINGS.retryMs + 750);
    expect(other.tokens()[0]).toBeGreaterThan(holder.tokens()[0]!);
  });

  it('moves the work to this process within a TTL and a retry when its holder, another process, is killed with SIGKILL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, TEST_REDIS_URL, shared.prefix, 'clock', String(TIMINGS.ttlMs), String(TIMINGS.retryMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const lines: Array<{ gained?: number; lost?: boolean }> = [];
    readline.createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line)));
    await waitUntil(() => lines.some((l) => l.gained !== undefined), 'the child to gain the lease', 30_000);
    const here = track(watched((await owner('relay-here')).leases));
    await here.lease.start();
    expect(here.changes).toEqual([]);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const killedAt = performance.now();
    child.kill('SIGKILL');
    await exited;
    await waitUntil(() => here.running(), 'this process to take the dead holder’s lease', TIMINGS.ttlMs + TIMINGS.retryMs + 3_000);
    expect(here.changes[0]!.at - killedAt).toBeLessThan(TIMINGS.ttlMs + TIMINGS.retryMs + 750);
    expect(here.tokens()[0]).toBeGreaterThan(lines.find((l) => l.gained !== undefined)!.gained!);
    expect(lines.some((l) => l.lost)).toBe(false);
  });
});
