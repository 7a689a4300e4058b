import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BusEvent } from '../../cloud/bus.js';
import { createLogger } from '../../cloud/log.js';
import { RedisBus } from '../../cloud/store/redis/redis-bus.js';
import type { CrewEvent } from '../../protocol/index.js';
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

const text = (seq: number): CrewEvent =>
  ({
    type: 'message',
    from_device: 'dev-a',
    from_name: 'A',
    timestamp: seq,
    msg_type: 'text',
    payload: { text: `t${seq}` },
    seq,
    crew_code: 'LEELOO-1',
  }) as CrewEvent;

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

  async function process(processId: string): Promise<{ bus: RedisBus; heard: Heard; connection: TestRedis }> {
    const connection = await testRedis();
    extra.push(connection);
    const bus = new RedisBus(connection.redis, redis.prefix, createLogger('silent'), { processId });
    buses.push(bus);
    const heard = new Heard();
    await bus.start({ event: heard.event, takenOver: heard.takenOverBy, resubscribed: heard.resubscribed, orphaned: heard.orphaned });
    return { bus, heard, connection };
  }

  it('carries a committed event to the other processes, not back to its own', async () => {
    const a = await process('a');
    const b = await process('b');
    a.bus.publishEvent({ crewId: 'crew-1', event: text(7), senderDeviceId: 'dev-a' });
    await waitUntil(() => b.heard.events.length === 1, 'the event on process b');
    expect(b.heard.events[0]).toEqual({ crewId: 'crew-1', event: text(7), senderDeviceId: 'dev-a' });
    b.bus.publishEvent({ crewId: 'crew-1', event: text(8), senderDeviceId: null });
    await waitUntil(() => a.heard.events.length === 1, 'the event on process a');
    expect(a.heard.events.map((e) => e.event.seq)).toEqual([8]);
    expect(b.heard.events.map((e) => e.event.seq)).toEqual([7]);
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
    const a = await process('a');
    const subscriber = (a.bus as unknown as { subscriber: { disconnect(reconnect: boolean): void } }).subscriber;
    subscriber.disconnect(true);
    await waitUntil(() => a.heard.resubscribes === 1, 'the resubscription');
    const b = await process('b');
    b.bus.publishEvent({ crewId: 'crew-1', event: text(1), senderDeviceId: null });
    await waitUntil(() => a.heard.events.length === 1, 'an event after the resubscription');
  });

  it('ignores a bus message that is not JSON', async () => {
    const a = await process('a');
    await redis.redis.publish(`${redis.prefix}bus`, '{not json');
    const b = await process('b');
    b.bus.publishEvent({ crewId: 'crew-1', event: text(2), senderDeviceId: null });
    await waitUntil(() => a.heard.events.length === 1, 'the next good message');
    expect(a.heard.events[0]!.event.seq).toBe(2);
  });
});
