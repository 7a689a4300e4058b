import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { BusHandlers, RelayBus } from '../../bus.js';
import type { Logger } from '../../log.js';
import { announcedBy, type Appended, appendedChannel, parseAppended } from './redis-crews.js';

/** A process that has not renewed its liveness key for this long is dead: its devices are offline. */
const PROCESS_TTL_MS = 6_000;
const RENEW_EVERY_MS = 2_000;

/** What goes over the presence channel: a device online/offline on a process. */
type Wire = { readonly t: 'on'; readonly p: string; readonly d: string; readonly v: number } | { readonly t: 'off'; readonly p: string; readonly d: string };

// KEYS: presence hash, this process's device set, the presence counter. ARGV: device, process, presence-set prefix.
// Returns the count of this coming online: of two sockets of one device, the later count is the newer one.
const ONLINE = `
local previous = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
if previous and previous ~= ARGV[2] then redis.call('SREM', ARGV[3] .. previous, ARGV[1]) end
return redis.call('INCR', KEYS[3])`;

// KEYS: presence hash, this process's device set. ARGV: device, process.
const OFFLINE = `
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0`;

// KEYS: presence hash, the dead process's device set, the process list, its liveness key. ARGV: the process.
// Nil while the process lives. Only the caller that finds its set still there gets its devices: one process announces them.
const REAP = `
if redis.call('EXISTS', KEYS[4]) == 1 then return false end
local devices = redis.call('SMEMBERS', KEYS[2])
local orphaned = {}
for _, device in ipairs(devices) do
  if redis.call('HGET', KEYS[1], device) == ARGV[1] then
    redis.call('HDEL', KEYS[1], device)
    table.insert(orphaned, device)
  end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return orphaned`;

/**
 * The bus between relay processes on one Redis, over Pub/Sub: each committed event is published
 * once, by the append script that stores it (RedisCrewStore.announceAppends, on the log's channel),
 * and every other process fans it out to its own sockets. Published with the write, it reaches the
 * others as soon as the committing process hears its seq, so their own later commits seldom
 * overtake it; published after the committing process's reply and fan-out, it arrived tens of
 * milliseconds late under load, and every commit of the same crew meanwhile made a gap. Pub/Sub
 * loses what is sent while a subscriber is away, and that is all right here: the log in Redis has
 * every event, so a process puts a gap right from the log (cloud/crew-sequencer.ts) and, after its
 * subscription dropped, reads what it missed. (Streams would keep messages for late readers, which
 * the log already does, at a write per event more.)
 *
 * Presence: a hash device → process, a set of devices per process, and a liveness key per process
 * with a TTL. A process that dies without a goodbye (SIGKILL) stops renewing it; the first other
 * process to notice takes its devices (one Lua script: one taker) and their crews hear member_offline.
 */
export class RedisBus implements RelayBus {
  readonly shared = true;
  readonly processId: string;
  private readonly channel: string;
  /** The log's channel of new events (appendedChannel), and how this process's own announcements start. */
  private readonly appended: string;
  private readonly ownAnnouncements: string;
  private readonly keys;
  private subscriber: Redis | null = null;
  private handlers: BusHandlers | null = null;
  /** Devices online on other processes, as this process last heard. */
  private readonly elsewhere = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private subscribedOnce = false;
  /** The presence count of each device's socket here (ONLINE): an older socket elsewhere does not replace it. */
  private readonly onlineHere = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly log: Logger,
    options: { processId?: string } = {},
  ) {
    this.processId = options.processId ?? `${process.pid}-${randomBytes(4).toString('hex')}`;
    this.channel = `${prefix}bus`;
    this.appended = appendedChannel(prefix);
    this.ownAnnouncements = announcedBy(this.processId);
    this.keys = {
      presence: `${prefix}presence`,
      counter: `${prefix}presence:count`,
      devicesOf: (processId: string) => `${prefix}presence:process:${processId}`,
      processes: `${prefix}processes`,
      alive: (processId: string) => `${prefix}process:${processId}`,
    };
    redis.defineCommand('busOnline', { numberOfKeys: 3, lua: ONLINE });
    redis.defineCommand('busOffline', { numberOfKeys: 2, lua: OFFLINE });
    redis.defineCommand('busReap', { numberOfKeys: 4, lua: REAP });
  }

  private get scripts() {
    return this.redis as unknown as {
      busOnline(presence: string, set: string, counter: string, device: string, processId: string, setPrefix: string): Promise<number>;
      busOffline(presence: string, set: string, device: string, processId: string): Promise<number>;
      busReap(presence: string, set: string, processes: string, alive: string, processId: string): Promise<string[] | null>;
    };
  }

  async start(handlers: BusHandlers): Promise<void> {
    this.handlers = handlers;
    await this.beAlive();
    const subscriber = this.redis.duplicate({ enableOfflineQueue: true, lazyConnect: true });
    this.subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, text: string) => (channel === this.appended ? this.receiveEvent(text) : this.receive(text)));
    subscriber.on('ready', () => {
      // ioredis subscribes again by itself after a reconnect; what was published meanwhile is in the log.
      if (!this.subscribedOnce) return;
      void this.loadPresence().catch((error: unknown) => this.log.warn({ err: error }, 'reloading presence failed'));
      this.handlers?.resubscribed();
    });
    await subscriber.connect();
    await subscriber.subscribe(this.channel, this.appended);
    this.subscribedOnce = true;
    await this.loadPresence();
    this.timer = setInterval(() => void this.tick(), RENEW_EVERY_MS);
    this.timer.unref();
  }

  deviceOnline(deviceId: string): void {
    this.elsewhere.delete(deviceId);
    this.onlineHere.set(deviceId, Number.MAX_SAFE_INTEGER);
    this.scripts
      .busOnline(this.keys.presence, this.keys.devicesOf(this.processId), this.keys.counter, deviceId, this.processId, this.keys.devicesOf(''))
      .then((count) => {
        this.onlineHere.set(deviceId, count);
        this.send({ t: 'on', p: this.processId, d: deviceId, v: count });
      })
      .catch((error: unknown) => this.log.warn({ err: error, deviceId }, 'recording presence in Redis failed'));
  }

  async deviceOffline(deviceId: string): Promise<boolean> {
    this.onlineHere.delete(deviceId);
    if (this.elsewhere.has(deviceId)) return false;
    try {
      const wasHere = (await this.scripts.busOffline(this.keys.presence, this.keys.devicesOf(this.processId), deviceId, this.processId)) === 1;
      if (wasHere) this.send({ t: 'off', p: this.processId, d: deviceId });
      return wasHere;
    } catch (error) {
      // Redis is away: this process still answers for its own sockets.
      this.log.warn({ err: error, deviceId }, 'clearing presence in Redis failed');
      return true;
    }
  }

  onlineElsewhere(deviceId: string): boolean {
    return this.elsewhere.has(deviceId);
  }

  async ping(): Promise<void> {
    if (this.subscriber && this.subscriber.status !== 'ready') throw new Error('The relay is not subscribed to its Redis bus.');
    await this.redis.ping();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.subscriber?.disconnect();
    this.subscriber = null;
    // A clean stop: its sockets' crews heard member_offline from their own closes; the rest goes.
    await this.redis
      .multi()
      .del(this.keys.alive(this.processId))
      .srem(this.keys.processes, this.processId)
      .exec()
      .catch(() => undefined);
  }

  private send(wire: Wire): void {
    this.redis.publish(this.channel, JSON.stringify(wire)).catch((error: unknown) => this.log.warn({ err: error }, 'publishing on the Redis bus failed'));
  }

  /** A new event the log announced: another process's goes to this process's sockets, its own is passed over. */
  private receiveEvent(text: string): void {
    if (text.startsWith(this.ownAnnouncements) || !this.handlers) return;
    let appended: Appended;
    try {
      appended = parseAppended(text);
    } catch (error) {
      this.log.warn({ err: error, bytes: text.length }, 'an event announcement that could not be read was ignored; the log has the event');
      return;
    }
    this.handlers.event({ crewId: appended.crewId, event: appended.event, senderDeviceId: appended.senderDeviceId });
  }

  private receive(text: string): void {
    let wire: Wire;
    try {
      wire = JSON.parse(text) as Wire;
    } catch {
      this.log.warn({ bytes: text.length }, 'a bus message that is not JSON was ignored');
      return;
    }
    if (wire.p === this.processId || !this.handlers) return;
    if (wire.t === 'on') {
      const here = this.onlineHere.get(wire.d);
      // A socket here that came online after that one stays; its own message replaces the other.
      if (here !== undefined && here > wire.v) return;
      this.elsewhere.set(wire.d, wire.p);
      if (here === undefined) return;
      this.onlineHere.delete(wire.d);
      this.handlers.takenOver(wire.d);
    } else if (wire.t === 'off' && this.elsewhere.get(wire.d) === wire.p) {
      this.elsewhere.delete(wire.d);
    }
  }

  private async beAlive(): Promise<void> {
    await this.redis.multi().set(this.keys.alive(this.processId), String(Date.now()), 'PX', PROCESS_TTL_MS).sadd(this.keys.processes, this.processId).exec();
  }

  private async loadPresence(): Promise<void> {
    const all = await this.redis.hgetall(this.keys.presence);
    this.elsewhere.clear();
    for (const [deviceId, processId] of Object.entries(all)) if (processId !== this.processId) this.elsewhere.set(deviceId, processId);
  }

  /** Renews this process's liveness and takes the devices of processes that died. */
  private async tick(): Promise<void> {
    try {
      await this.beAlive();
      for (const processId of await this.redis.smembers(this.keys.processes)) {
        if (processId === this.processId) continue;
        const orphaned = await this.scripts.busReap(
          this.keys.presence,
          this.keys.devicesOf(processId),
          this.keys.processes,
          this.keys.alive(processId),
          processId,
        );
        if (orphaned === null) continue;
        for (const [deviceId, holder] of this.elsewhere) if (holder === processId) this.elsewhere.delete(deviceId);
        if (orphaned.length === 0) continue;
        this.log.info({ processId, devices: orphaned.length }, 'a relay process stopped without a goodbye; its devices are offline');
        for (const deviceId of orphaned) this.send({ t: 'off', p: processId, d: deviceId });
        this.handlers?.orphaned(orphaned);
      }
    } catch (error) {
      this.log.warn({ err: error }, 'renewing presence in Redis failed');
    }
  }
}
