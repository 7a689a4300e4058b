import { EventEmitter } from 'node:events';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { Heartbeat } from '../../cloud/heartbeat.js';
import { IdentifySweep } from '../../cloud/identify-sweep.js';
import { CLOSE_POLICY } from '../../cloud/inbound.js';
import { createLogger } from '../../cloud/log.js';
import { createRelayMetrics } from '../../cloud/metrics.js';
import { Retention, RETENTION_SWEEP_MS } from '../../cloud/retention.js';
import { Session, SessionRegistry } from '../../cloud/sessions.js';
import { openSqliteStore } from '../../cloud/store/sqlite-store.js';
import type { Store } from '../../cloud/store/store.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

/** The relay's side of a socket, as far as the timers reach it: pings, terminate and close. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readonly CONNECTING = 0;
  readyState = 1;
  bufferedAmount = 0;
  pings = 0;
  terminated = false;
  closedWith: number | null = null;
  ping(): void {
    this.pings += 1;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }
  close(code: number): void {
    this.closedWith = code;
    this.readyState = 2;
  }
}

const metrics = createRelayMetrics({ connections: () => 0, devicesOnline: () => 0 });

function registryOf(count: number): { registry: SessionRegistry; sockets: FakeSocket[]; sessions: Session[] } {
  const registry = new SessionRegistry();
  const sockets = Array.from({ length: count }, () => new FakeSocket());
  const sessions = sockets.map((ws) => new Session(ws as unknown as WebSocket, { rateLimit: { perSecond: 1, burst: 1 }, metrics, remoteAddress: undefined }));
  for (const session of sessions) registry.add(session);
  return { registry, sockets, sessions };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('heartbeat', () => {
  it('pings every socket each beat and terminates one that did not answer the previous ping; stop() ends the beats', () => {
    vi.useFakeTimers();
    const { registry, sockets, sessions } = registryOf(2);
    const [answering, silent] = sockets as [FakeSocket, FakeSocket];
    const heartbeat = new Heartbeat({ registry, intervalMs: 1000 });
    expect(vi.getTimerCount()).toBe(0);
    heartbeat.start();

    vi.advanceTimersByTime(999);
    expect([answering.pings, silent.pings]).toEqual([0, 0]);
    vi.advanceTimersByTime(1);
    expect([answering.pings, silent.pings]).toEqual([1, 1]);

    heartbeat.answered(sessions[0]!);
    vi.advanceTimersByTime(1000);
    expect(answering).toMatchObject({ pings: 2, terminated: false });
    expect(silent).toMatchObject({ pings: 1, terminated: true });

    heartbeat.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(answering).toMatchObject({ pings: 2, terminated: false });
  });
});

describe('identify sweep', () => {
  it('closes a socket still anonymous past the timeout with 1008, within a quarter of it, and keeps one that identified', () => {
    vi.useFakeTimers();
    const { registry, sockets, sessions } = registryOf(2);
    const [anonymous, identified] = sockets as [FakeSocket, FakeSocket];
    sessions[1]!.deviceId = 'dev-a';
    sessions[1]!.gen = 3;
    const sweep = new IdentifySweep({ registry, timeoutMs: 1000, heartbeatIntervalMs: 30_000 });
    sweep.start();

    vi.advanceTimersByTime(999);
    expect(anonymous.closedWith).toBeNull();
    vi.advanceTimersByTime(250);
    expect(anonymous.closedWith).toBe(CLOSE_POLICY);
    expect(identified.closedWith).toBeNull();

    sweep.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sweeps every quarter of the timeout, or every heartbeat when that is sooner, and at most every 50 ms', () => {
    vi.useFakeTimers();
    const closedAt = (timeoutMs: number, heartbeatIntervalMs: number) => {
      const registry = new SessionRegistry();
      const sweep = new IdentifySweep({ registry, timeoutMs, heartbeatIntervalMs });
      sweep.start();
      // Opened 10 ms after the sweep started: it is closed at the first sweep past its timeout.
      const opened = Date.now();
      vi.advanceTimersByTime(10);
      const ws = new FakeSocket();
      registry.add(new Session(ws as unknown as WebSocket, { rateLimit: { perSecond: 1, burst: 1 }, metrics, remoteAddress: undefined }));
      for (let ms = 0; ws.closedWith === null && ms < 60_000; ms += 1) vi.advanceTimersByTime(1);
      sweep.stop();
      return Date.now() - opened;
    };
    expect(closedAt(1000, 30_000)).toBe(1250);
    expect(closedAt(1000, 100)).toBe(1100);
    expect(closedAt(0, 30_000)).toBe(50);
  });
});

describe('event retention', () => {
  let dir: string | undefined;
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close().catch(() => undefined);
    if (dir) await removeTempDir(dir);
    dir = store = undefined;
  });

  /** A store with one crew and two events written now; `lines` collects the log. */
  async function crewWithEvents(): Promise<{ store: Store; crewId: string; lines: string[] }> {
    dir = await makeTempDir('leeloo-retention-');
    store = await openSqliteStore(path.join(dir, 'leeloo.db'));
    await store.crews.saveDevice({ deviceId: 'dev-a', displayName: 'A' });
    const crew = await store.crews.createCrew({ crewId: 'crew-a', crewCode: 'LEELOO-AAAA', crewName: 'Crew', ownerDeviceId: 'dev-a' });
    const text = (n: number) =>
      ({ type: 'message', from_device: 'dev-a', from_name: 'A', timestamp: n, msg_type: 'text', payload: { text: `hi ${n}` } }) as const;
    await store.log.appendEvents([
      { crewId: crew.crewId, event: text(1) },
      { crewId: crew.crewId, event: text(2) },
    ]);
    const lines: string[] = [];
    return { store, crewId: crew.crewId, lines };
  }

  it('prunes at start, then every RETENTION_SWEEP_MS what is older than the retention; a failed sweep is logged; stop() ends the sweeps', async () => {
    const { store, crewId, lines } = await crewWithEvents();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let now = Date.now();
    const log = createLogger('info', { write: (line: string) => void lines.push(line) });
    const retention = new Retention({ events: store.log, log, retentionDays: 1, now: () => now });

    await retention.start();
    expect(await store.log.readEvents(crewId, 0)).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(1);

    now += 2 * 86_400_000;
    vi.advanceTimersByTime(RETENTION_SWEEP_MS - 1);
    expect(await store.log.readEvents(crewId, 0)).toHaveLength(2);
    vi.advanceTimersByTime(1);
    await waitUntil(async () => (await store.log.readEvents(crewId, 0)).length === 0, 'the sweep to prune both events');
    await waitUntil(() => lines.some((l) => l.includes('pruned crew events past retention') && l.includes('"removed":2')), 'the prune to be logged');

    await store.close();
    vi.advanceTimersByTime(RETENTION_SWEEP_MS);
    await waitUntil(() => lines.some((l) => l.includes('retention sweep failed')), 'the failed sweep to be logged');

    retention.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps events for ever with 0 days: no prune and no timer', async () => {
    const { store, crewId } = await crewWithEvents();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const retention = new Retention({ events: store.log, log: createLogger('silent'), retentionDays: 0, now: () => Date.now() + 1e12 });
    await retention.start();
    expect(vi.getTimerCount()).toBe(0);
    expect(await store.log.readEvents(crewId, 0)).toHaveLength(2);
  });

  it('a first prune that fails fails the start, with no timer left', async () => {
    const { store } = await crewWithEvents();
    await store.close();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const retention = new Retention({ events: store.log, log: createLogger('silent'), retentionDays: 1 });
    await expect(retention.start()).rejects.toThrow();
    expect(vi.getTimerCount()).toBe(0);
  });
});
