import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../cloud/config.js';
import type { CrewEventListener, RelayContext, SessionView } from '../../../cloud/feature.js';
import { createLogger } from '../../../cloud/log.js';
import { createRelayMetrics } from '../../../cloud/metrics.js';
import type { ThrowbackSource } from '../../../cloud/ports.js';
import { QueueFeature } from '../../../cloud/queue/queue-feature.js';
import { openSqliteStore } from '../../../cloud/store/sqlite-store.js';
import type { Store } from '../../../cloud/store/store.js';
import { CrewPagesFeature } from '../../../cloud/web/crew-pages-feature.js';
import type { CrewEvent, OutboundMessage } from '../../../protocol/index.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';

/*
 * The queue feature on a real SQLite store (in memory: its appends complete on the event loop,
 * where a store in a file commits on its writer thread, which fake timers cannot drive), with a small relay host that appends events
 * through the store (real seqs) and calls crew-event listeners like the relay does.
 * Timers and Date are faked: the clock is driven, never slept on.
 */

const T0 = Date.UTC(2025, 0, 6, 18, 0, 0); // a Monday
const CREW = 'crew-1';

/**
 * The queue's settings as the environment would give them: 2 airhorns per crew per minute, links
 * for an hour, and one queue_state per change (coalescing has its own test, queue-coalescing).
 */
const QUEUE_ENV = { LEELOO_AIRHORN_CREW_PER_MINUTE: '2', LEELOO_LINK_SECRET: 'x'.repeat(40), LEELOO_LINK_TTL_HOURS: '1', LEELOO_QUEUE_STATE_INTERVAL_MS: '0' };

type QueueStateEvent = Extract<CrewEvent, { type: 'queue_state' }>;

class Host {
  readonly events: CrewEvent[] = [];
  readonly listeners = new Set<CrewEventListener>();
  readonly context: RelayContext;

  constructor(store: Store, dataDir: string) {
    this.context = {
      config: loadConfig({ PORT: '0', HOST: '127.0.0.1', LEELOO_DATA_DIR: dataDir, ...QUEUE_ENV }),
      store,
      log: createLogger('silent'),
      metrics: createRelayMetrics({ connections: () => 0, devicesOnline: () => 0 }).features,
      publish: async (crewId, event, from) => {
        const [result] = await store.log.appendEvents([{ crewId, event, from }]);
        if (!result!.duplicate) {
          const stored = { ...event, seq: result!.seq, crew_code: 'LEELOO-TEST' } as CrewEvent;
          this.events.push(stored);
          for (const listener of this.listeners) listener(stored, crewId);
        }
        return { seq: result!.seq, duplicate: result!.duplicate };
      },
      sendToDevice: () => false,
      isOnline: () => false,
      onCrewEvent: (listener) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
      },
      onLiveCrewEvent: () => () => undefined,
      publicUrl: () => 'https://leeloo.example',
    };
  }

  queueEvents(): QueueStateEvent[] {
    return this.events.filter((e): e is QueueStateEvent => e.type === 'queue_state');
  }

  lastQueue() {
    return this.queueEvents().at(-1)!.queue;
  }
}

class Session implements SessionView {
  readonly frames: OutboundMessage[] = [];
  readonly generation = 3 as const;
  readonly crew;
  readonly deviceId: string;
  constructor(deviceId: string, isOwner: boolean) {
    this.deviceId = deviceId;
    this.crew = { crewId: CREW, crewCode: 'LEELOO-TEST', isOwner };
  }
  send(message: OutboundMessage) {
    this.frames.push(message);
  }
  fail(code: never, sentence?: string) {
    this.frames.push({ type: 'error', code, error: code, message: sentence ?? '' });
  }
  ack(clientMsgId: string | undefined, seq?: number) {
    if (clientMsgId) this.frames.push({ type: 'ack', client_msg_id: clientMsgId, seq });
  }
  last() {
    return this.frames.at(-1)!;
  }
}

let dataDir: string;
let store: Store;
let host: Host;
let feature: QueueFeature;
const owner = new Session('owner', true);
const ann = new Session('ann', false);

let n = 0;
const trackMsg = (duration?: number, extra: Record<string, unknown> = {}) => {
  n += 1;
  return {
    type: 'queue_add' as const,
    spotify_uri: `spotify:track:${String(n).padStart(22, 'Z')}`,
    track: `T${n}`,
    artist: 'A',
    album: '',
    album_art_url: '',
    duration_ms: duration,
    ...extra,
  };
};

async function send(session: Session, message: Record<string, unknown>) {
  // As the relay's router does: the handler's result is acked (a change still to be announced, once it is).
  const handled = await feature.handlers[message.type as 'queue_add']!(session, message as never);
  const result = handled?.later ? await handled.later : handled;
  if (result && typeof message.client_msg_id === 'string') session.ack(message.client_msg_id, result.seq);
  return session.last();
}

beforeEach(async () => {
  n = 0;
  dataDir = await makeTempDir('leeloo-queue-');
  store = openSqliteStore(':memory:');
  for (const [id, name] of [
    ['owner', 'Olga'],
    ['ann', 'Ann'],
  ])
    await store.crews.saveDevice({ deviceId: id!, displayName: name! });
  await store.crews.createCrew({ crewId: CREW, crewCode: 'LEELOO-TEST', crewName: 'Test crew', ownerDeviceId: 'owner' });
  await store.crews.addMember(CREW, 'ann');
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: T0 });
  host = new Host(store, dataDir);
  feature = new QueueFeature(host.context);
  await feature.start();
});

afterEach(async () => {
  await feature.stop();
  vi.useRealTimers();
  await store.close();
  await removeTempDir(dataDir);
});

describe('queue feature clock', () => {
  it('advances exactly at the end of a track, with every change under the next seq', async () => {
    expect(await send(ann, trackMsg(10_000, { client_msg_id: 'a1' }))).toMatchObject({ type: 'ack', client_msg_id: 'a1', seq: 1 });
    await send(owner, trackMsg(20_000));
    expect(host.lastQueue().now_playing).toMatchObject({ track: 'T1', started_at: T0, clock_duration_ms: 10_000 });
    await vi.advanceTimersByTimeAsync(9_999);
    expect(host.queueEvents()).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    const advanced = host.queueEvents().at(-1)!;
    expect(advanced.change).toMatchObject({ kind: 'advanced', by: null });
    expect(advanced.queue.now_playing).toMatchObject({ track: 'T2', started_at: T0 + 10_000, position_ms: 0 });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(host.lastQueue().now_playing).toBeNull();
    expect(host.queueEvents().map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(host.queueEvents().map((e) => e.queue.version)).toEqual([1, 2, 3, 4]);
  });

  it('does not advance while paused and carries the position over a pause', async () => {
    await send(ann, trackMsg(10_000));
    await vi.advanceTimersByTimeAsync(4_000);
    await send(owner, { type: 'queue_pause' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(host.lastQueue().now_playing).toMatchObject({ paused_at: T0 + 4_000, position_ms: 4_000 });
    await send(owner, { type: 'queue_resume' });
    expect(host.lastQueue().now_playing).toMatchObject({ started_at: T0 + 60_000, paused_at: null, position_ms: 4_000 });
    await vi.advanceTimersByTimeAsync(5_999);
    expect(host.lastQueue().now_playing).not.toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(host.lastQueue().now_playing).toBeNull();
  });

  it('picks up a crew after a restart: a track that ended meanwhile is done and the next starts now', async () => {
    await send(ann, trackMsg(10_000));
    await send(ann, trackMsg(30_000));
    await feature.stop();
    await vi.advanceTimersByTimeAsync(45_000);
    expect(host.queueEvents()).toHaveLength(2);
    feature = new QueueFeature(host.context);
    await feature.start();
    await vi.advanceTimersByTimeAsync(0);
    const after = host.queueEvents();
    expect(after).toHaveLength(3);
    expect(after[2]!.queue.now_playing).toMatchObject({ track: 'T2', started_at: T0 + 45_000 });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(host.lastQueue().now_playing).toBeNull();
    const started = host
      .queueEvents()
      .map((e) => e.queue.now_playing?.track)
      .filter(Boolean);
    expect(new Set(started)).toEqual(new Set(['T1', 'T2']));
  });

  it('fills an empty queue from throwback when the owner switches it on', async () => {
    const calls: number[] = [];
    const throwback: ThrowbackSource = async (_crew, options) => {
      calls.push(options.nowMs);
      return [{ spotify_uri: 'spotify:track:OLDOLDOLDOLDOLDOLDOLD1', track: 'Old', artist: 'B', album: '', album_art_url: '' }];
    };
    await feature.stop();
    feature = new QueueFeature(host.context, { throwback });
    await feature.start();
    expect(await send(ann, { type: 'queue_throwback', enabled: true })).toMatchObject({ type: 'error', code: 'not_owner' });
    await send(owner, { type: 'queue_throwback', enabled: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(host.lastQueue().now_playing).toMatchObject({ track: 'Old', throwback: true, added_by: null });
    expect(calls).toEqual([T0]);
    // The throwback track was played: it is not offered again when the queue runs dry.
    await vi.advanceTimersByTimeAsync(210_000);
    expect(host.lastQueue().now_playing).toBeNull();
    expect(calls).toHaveLength(2);
  });
});

describe('queue feature commands', () => {
  it('enqueues every share with who shared it', async () => {
    await host.context.publish(CREW, {
      type: 'message',
      from_device: 'ann',
      from_name: 'Ann',
      timestamp: T0,
      msg_type: 'song_push',
      payload: { artist: 'X', track: 'Shared', album: '', spotify_uri: 'spotify:track:SHAREDSHAREDSHAREDSHAR', album_art_url: '', note: '' },
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(host.lastQueue().now_playing).toMatchObject({ track: 'Shared', added_by: 'ann', added_by_name: 'Ann' });
  });

  it('applies a retried client_msg_id once', async () => {
    await send(ann, trackMsg(10_000));
    const vote = { type: 'queue_jam', item_id: host.lastQueue().now_playing!.item_id, client_msg_id: 'j1' };
    await send(ann, vote);
    expect(await send(ann, vote)).toMatchObject({ type: 'ack', client_msg_id: 'j1' });
    expect(host.lastQueue().now_playing!.jammed_by).toEqual(['ann']);
    expect(host.queueEvents()).toHaveLength(2);
  });

  it('limits airhorns per member and per crew, with the wait', async () => {
    await send(ann, { type: 'airhorn', client_msg_id: 'h1' });
    expect(ann.last()).toMatchObject({ type: 'ack', client_msg_id: 'h1' });
    expect(host.events.filter((e) => e.type === 'airhorn')).toHaveLength(1);
    const refused = await send(ann, { type: 'airhorn', client_msg_id: 'h2' });
    expect(refused).toMatchObject({ type: 'error', code: 'rate_limited', retry_after_ms: 15_000, client_msg_id: 'h2' });
    await send(owner, { type: 'airhorn' });
    await vi.advanceTimersByTimeAsync(15_000);
    expect(await send(ann, { type: 'airhorn' })).toMatchObject({ type: 'error', code: 'rate_limited' });
    expect((ann.last() as { message: string }).message).toMatch(/crew/);
    expect(host.events.filter((e) => e.type === 'airhorn').map((e) => (e as { from_device: string }).from_device)).toEqual(['ann', 'owner']);
  });

  it('answers errors with stable codes and changes nothing', async () => {
    expect(await send(ann, { type: 'queue_skip' })).toMatchObject({ type: 'error', code: 'not_owner' });
    expect(await send(owner, { type: 'queue_skip' })).toMatchObject({ type: 'error', code: 'conflict' });
    expect(await send(ann, { type: 'queue_vote', item_id: 'q_nonexistent000', vote: 'up' })).toMatchObject({
      type: 'error',
      code: 'not_found',
      ref_type: 'queue_vote',
    });
    const outsider = new Session('stranger', false);
    expect(await send(outsider, trackMsg())).toMatchObject({ type: 'error', code: 'not_in_crew' });
    expect(host.queueEvents()).toHaveLength(0);
  });

  it('issues a crew link for members (the crew pages, on this queue, answer crew_link)', async () => {
    const pages = new CrewPagesFeature(host.context, { queue: feature });
    await pages.start();
    try {
      await pages.handlers.crew_link!(ann, { type: 'crew_link' });
      expect(ann.last()).toMatchObject({ type: 'crew_link_issued', expires_at: T0 + 3_600_000 });
      expect((ann.last() as { url: string }).url).toMatch(/^https:\/\/leeloo\.example\/c\/v1\./);
    } finally {
      await pages.stop();
    }
  });
});
