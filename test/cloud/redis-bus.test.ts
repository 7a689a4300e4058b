import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BusEvent } from '../../cloud/bus.js';
import { createLogger } from '../../cloud/log.js';
import { RedisBus } from '../../cloud/store/redis/redis-bus.js';
import { appendedChannel, RedisCrewStore } from '../../cloud/store/redis/redis-crews.js';
import type { CrewEventInput } from '../../cloud/store/store.js';
import { testRedis, type TestRedis } from '../helpers/redis.js';
import { waitUntil } from '../helpers/wait-until.js';

/** What one relay process heard from the bus. */
class Heard {
  readonly events: BusEvent[] = [];
  readonly takenOver: string[] = [];
  readonly orphans: string[] = [];
  resubscribes = 0;
  event = (message: BusEvent) => void this.events.push(message);
  takenOverBy = (deviceId: string) => void this.takenOver.push(deviceId);
  resubscribed = () => void (this.resubscribes += 1);
  orphaned = (deviceIds: readonly string[]) => void this.orphans.push(...deviceIds);
}

const text = (n: number): CrewEventInput =>
  ({ type: 'message', from_device: 'dev-a', from_name: 'A', timestamp: n, msg_type: 'text', payload: { text: `t${n}` } }) as CrewEventInput;

/** Two (or three) relay processes' buses on one Redis, under the test's own key prefix. */
describe('the Redis bus between relay processes', () => {
  let redis: TestRedis;
  const buses: RedisBus[] = [];
  const extra: TestRedis[] = [];

  beforeEach(async () => {
    redis = await testRedis();
  });
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
    for (const r of extra.splice(0)) r.redis.disconnect();
    await redis.cleanup();
  });

  /** A relay process: its bus, and its event log announcing what it appends (as sharedParts sets them up). */
  async function process(processId: string): Promise<{ bus: RedisBus; log: RedisCrewStore; heard: Heard; connection: TestRedis }> {
    const connection = await testRedis();
    extra.push(connection);
    const bus = new RedisBus(connection.redis, redis.prefix, createLogger('silent'), { processId });
    buses.push(bus);
    const log = new RedisCrewStore(connection.redis, redis.prefix);
    log.announceAppends(processId);
    const heard = new Heard();
    await bus.start({ event: heard.event, takenOver: heard.takenOverBy, resubscribed: heard.resubscribed, orphaned: heard.orphaned });
    return { bus, log, heard, connection };
  }

  async function crew(): Promise<void> {
    const log = new RedisCrewStore(redis.redis, redis.prefix);
    await log.saveDevice({ deviceId: 'dev-a', displayName: 'A' });
    await log.createCrew({ crewId: 'crew-1', crewCode: 'LEELOO-1', crewName: 'Crew', ownerDeviceId: 'dev-a' });
  }

  it('carries a committed event to the other processes as it is stored, not back to its own', async () => {
    await crew();
    const a = await process('a');
    const b = await process('b');
    const [first] = await a.log.appendEvents([{ crewId: 'crew-1', event: text(7), from: { deviceId: 'dev-a', clientMsgId: 'm7' } }]);
    await waitUntil(() => b.heard.events.length === 1, 'the event on process b');
    expect(b.heard.events[0]).toEqual({ crewId: 'crew-1', event: { ...text(7), seq: first!.seq, crew_code: 'LEELOO-1' }, senderDeviceId: 'dev-a' });
    // Heard of, it is stored: another process may read it from the log at once.
    expect((await b.log.readEvents('crew-1', 0)).map((e) => e.event)).toEqual([b.heard.events[0]!.event]);
    await b.log.appendEvents([{ crewId: 'crew-1', event: text(8) }]);
    await waitUntil(() => a.heard.events.length === 1, 'the event on process a');
    expect(a.heard.events.map((e) => [e.event.seq, e.senderDeviceId])).toEqual([[2, null]]);
    expect(b.heard.events.map((e) => e.event.seq)).toEqual([1]);
  });

  it('announces each new event once, in seq order, and a duplicate not at all', async () => {
    await crew();
    const a = await process('a');
    const b = await process('b');
    const from = (n: number) => ({ deviceId: 'dev-a', clientMsgId: `m${n}` });
    await Promise.all([
      a.log.appendEvents([1, 2, 3].map((n) => ({ crewId: 'crew-1', event: text(n), from: from(n) }))),
      a.log.appendEvents([{ crewId: 'crew-1', event: text(4), from: from(4) }]),
    ]);
    const [again] = await a.log.appendEvents([{ crewId: 'crew-1', event: text(2), from: from(2) }]);
    expect(again!.duplicate).toBe(true);
    await a.log.appendEvents([{ crewId: 'crew-1', event: text(5) }]);
    await waitUntil(() => b.heard.events.length === 5, 'five events on process b');
    expect(b.heard.events.map((e) => e.event.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('an event log that was not asked to announce its appends publishes nothing', async () => {
    await crew();
    const listener = await testRedis();
    extra.push(listener);
    const heard: string[] = [];
    listener.redis.on('message', (_channel: string, message: string) => void heard.push(message));
    await listener.redis.subscribe(appendedChannel(redis.prefix));
    const quiet = new RedisCrewStore(redis.redis, redis.prefix);
    await quiet.appendEvents([{ crewId: 'crew-1', event: text(1) }]);
    const loud = await process('a');
    await loud.log.appendEvents([{ crewId: 'crew-1', event: text(2) }]);
    await waitUntil(() => heard.length > 0, 'the announced event');
    expect(heard.map((message) => (JSON.parse(message) as unknown[])[2])).toEqual([2]);
  });

  it('a device online on one process is online on the others; coming online elsewhere replaces its older socket', async () => {
    const a = await process('a');
    const b = await process('b');
    a.bus.deviceOnline('dev-1');
    await waitUntil(() => b.bus.onlineElsewhere('dev-1'), 'dev-1 online as b sees it');
    expect(a.bus.onlineElsewhere('dev-1')).toBe(false);
    expect(b.heard.takenOver).toEqual([]);

    b.bus.deviceOnline('dev-1');
    await waitUntil(() => a.heard.takenOver.length === 1, 'a told its socket of dev-1 is replaced');
    expect(a.heard.takenOver).toEqual(['dev-1']);
    expect(a.bus.onlineElsewhere('dev-1')).toBe(true);
    // a's old socket closes: dev-1 is not offline, b has it.
    expect(await a.bus.deviceOffline('dev-1')).toBe(false);
    expect(b.bus.onlineElsewhere('dev-1')).toBe(false);
    // b's socket closes: now it is.
    expect(await b.bus.deviceOffline('dev-1')).toBe(true);
    await waitUntil(() => !a.bus.onlineElsewhere('dev-1'), 'dev-1 offline as a sees it');
  });

  it('a process that joins later learns who is online from Redis', async () => {
    const a = await process('a');
    a.bus.deviceOnline('dev-1');
    await waitUntil(async () => (await redis.redis.hget(`${redis.prefix}presence`, 'dev-1')) === 'a', 'presence stored');
    const c = await process('c');
    expect(c.bus.onlineElsewhere('dev-1')).toBe(true);
  });

  it('the devices of a process that died without a goodbye are announced offline once, by one other process', async () => {
    const a = await process('a');
    const b = await process('b');
    const dead = await process('dead');
    dead.bus.deviceOnline('dev-1');
    dead.bus.deviceOnline('dev-2');
    await waitUntil(() => a.bus.onlineElsewhere('dev-2') && b.bus.onlineElsewhere('dev-2'), 'the devices online on the other processes');
    // SIGKILL: no goodbye; its liveness key is left to expire (here: removed as the TTL would).
    (dead.bus as unknown as { timer: NodeJS.Timeout }).timer.close();
    dead.connection.redis.disconnect();
    await redis.redis.del(`${redis.prefix}process:dead`);
    await waitUntil(() => a.heard.orphans.length + b.heard.orphans.length === 2, 'the orphaned devices announced', 15_000);
    expect([...a.heard.orphans, ...b.heard.orphans].sort()).toEqual(['dev-1', 'dev-2']);
    expect(a.heard.orphans.length === 0 || b.heard.orphans.length === 0).toBe(true);
    await waitUntil(() => !a.bus.onlineElsewhere('dev-1') && !b.bus.onlineElsewhere('dev-1'), 'dev-1 offline everywhere');
    expect(await redis.redis.hlen(`${redis.prefix}presence`)).toBe(0);
  });

  it('tells its process when the subscription came back after Redis dropped it', async () => {
    await crew();
    const a = await process('a');
    const subscriber = (a.bus as unknown as { subscriber: { disconnect(reconnect: boolean): void } }).subscriber;
    subscriber.disconnect(true);
    await waitUntil(() => a.heard.resubscribes === 1, 'the resubscription');
    const b = await process('b');
    await b.log.appendEvents([{ crewId: 'crew-1', event: text(1) }]);
    await waitUntil(() => a.heard.events.length === 1, 'an event after the resubscription');
  });

  it('ignores a bus message or an event announcement it cannot read', async () => {
    await crew();
    const a = await process('a');
    await redis.redis.publish(`${redis.prefix}bus`, '{not json');
    await redis.redis.publish(appendedChannel(redis.prefix), '{not json');
    await redis.redis.publish(appendedChannel(redis.prefix), '{"an":"object"}');
    const b = await process('b');
    await b.log.appendEvents([{ crewId: 'crew-1', event: text(2) }]);
    await waitUntil(() => a.heard.events.length === 1, 'the next good message');
    expect(a.heard.events[0]!.event).toMatchObject({ payload: { text: 't2' } });
  });
});
