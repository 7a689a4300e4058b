import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CrewState, OutboundMessage } from '../../protocol/index.js';
import { RelayClient, type RelayClientEvent } from '../../device/relay-client.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { ManualClock } from '../fakes/manual-clock.js';

const log = pino({ level: 'silent' });

/** Collects a client's crew events and resolves waits on them, failing after a timeout. */
class Recorder {
  readonly events: OutboundMessage[] = [];
  readonly all: RelayClientEvent[] = [];
  private waiters: { test: () => boolean; resolve: () => void }[] = [];

  constructor(client: RelayClient) {
    client.onEvent((event) => {
      this.all.push(event);
      if (event.kind === 'event') this.events.push(event.message);
      this.waiters = this.waiters.filter((w) => (w.test() ? (w.resolve(), false) : true));
    });
  }

  until(test: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({ test, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  texts(): string[] {
    return this.events.flatMap((e) => (e.type === 'message' && e.msg_type === 'text' ? [e.payload.text] : []));
  }

  online(): boolean {
    const last = [...this.all].reverse().find((e) => e.kind === 'connection');
    return last?.kind === 'connection' && last.connection.status === 'online';
  }

  crew(): CrewState | null {
    const last = [...this.all].reverse().find((e) => e.kind === 'crew');
    return last?.kind === 'crew' ? last.crew : null;
  }
}

async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `ws://127.0.0.1:${port}/ws`;
}

describe('relay client against a real relay', () => {
  let relay: RelayProcess;
  let root: string;
  const clients: RelayClient[] = [];

  beforeAll(async () => {
    relay = await RelayProcess.start();
    root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-devices-'));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  });
  afterAll(async () => {
    await relay?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  async function device(name: string, crewCode: string | null, url = relay.wsUrl): Promise<{ client: RelayClient; rec: Recorder }> {
    const client = new RelayClient({ url, deviceName: name, crewCode, dataDir: path.join(root, name), log, baseDelayMs: 50, capDelayMs: 200 });
    const rec = new Recorder(client);
    clients.push(client);
    await client.start();
    return { client, rec };
  }

  async function crewOfTwo(prefix: string): Promise<{ a: Awaited<ReturnType<typeof device>>; code: string }> {
    const a = await device(`${prefix}-a`, null);
    await a.rec.until(() => a.rec.online(), 'A online');
    const code = a.rec.crew()!.crew_code;
    const b = await device(`${prefix}-b`, code);
    await b.rec.until(() => b.rec.online(), 'B online');
    await b.client.stop();
    return { a, code };
  }

  it('creates a crew, stores its credential with mode 0600, and joins by code', async () => {
    const a = await device('join-a', null);
    await a.rec.until(() => a.rec.online(), 'A online');
    const code = a.rec.crew()!.crew_code;
    expect(code).toMatch(/^LEELOO-[A-HJ-NP-Z2-9]{4}$/);
    const identityFile = path.join(root, 'join-a', 'identity.json');
    expect((await stat(identityFile)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(identityFile, 'utf8')).device_id).toBe(a.client.deviceId);

    const b = await device('join-b', code);
    await b.rec.until(() => b.rec.online(), 'B online');
    expect(
      b.rec
        .crew()!
        .members.map((m) => m.display_name)
        .sort(),
    ).toEqual(['join-a', 'join-b']);
    await a.rec.until(() => a.rec.events.some((e) => e.type === 'member_joined' && e.display_name === 'join-b'), 'member_joined');
  });

  it('a device that was offline receives what it missed, in order, exactly once', async () => {
    const { a, code } = await crewOfTwo('missed');
    for (const text of ['one', 'two', 'three']) await a.client.send({ type: 'message', msg_type: 'text', payload: { text } });
    await a.rec.until(() => a.client.outbox.size === 0, 'A outbox acked');

    const b = await device('missed-b', code);
    await b.rec.until(() => b.rec.texts().length >= 3, 'three texts');
    // A barrier: once B's own message is acked, every earlier replay frame has been handled.
    await b.client.send({ type: 'message', msg_type: 'nudge', payload: {} });
    await b.rec.until(() => b.client.outbox.size === 0, 'B nudge acked');
    expect(b.rec.texts()).toEqual(['one', 'two', 'three']);
    const seqs = b.rec.events.flatMap((e) => ('seq' in e && typeof e.seq === 'number' ? [e.seq] : []));
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);

    // Restarting again replays nothing already seen.
    await b.client.stop();
    const again = await device('missed-b', code);
    await again.rec.until(() => again.rec.online(), 'B online again');
    await again.client.send({ type: 'message', msg_type: 'nudge', payload: {} });
    await again.rec.until(() => again.client.outbox.size === 0, 'B second nudge acked');
    expect(again.rec.texts()).toEqual([]);
  });

  it("150 shares queued offline are all acknowledged after reconnecting, paced to the relay's rate, with no flood close", async () => {
    const { code } = await crewOfTwo('burst');
    const offline = await device('burst-b', code, await closedPortUrl());
    for (let i = 0; i < 150; i += 1) {
      await offline.client.send({
        type: 'share_music',
        spotify_uri: `spotify:track:${String(i).padStart(22, '0')}`,
        artist: 'Artist',
        track: `Track ${i}`,
        album: 'Album',
      });
    }
    await offline.client.stop();

    const back = await device('burst-b', code);
    await back.rec.until(() => back.rec.online(), 'B online');
    const onlineAt = back.rec.all.length;
    await back.rec.until(() => back.client.outbox.size === 0, 'all 150 acked', 15_000);
    expect(back.rec.all.filter((e) => e.kind === 'acked')).toHaveLength(150);
    expect(back.rec.all.slice(onlineAt).filter((e) => e.kind === 'connection')).toEqual([]);
    expect(relay.logs.join('\n')).not.toContain('closing a flooding connection');
  }, 30_000);

  it('what is queued while offline survives a restart and reaches the crew exactly once', async () => {
    const { a, code } = await crewOfTwo('outbox');
    const offline = await device('outbox-b', code, await closedPortUrl());
    await offline.client.send({ type: 'message', msg_type: 'text', payload: { text: 'sent while offline' } });
    await offline.client.send({ type: 'message', msg_type: 'text', payload: { text: 'second while offline' } });
    expect(offline.client.outbox.size).toBe(2);
    await offline.client.stop();

    const outboxDir = path.join(root, 'outbox-b', 'outbox');
    const saved = path.join(root, 'outbox-b-saved');
    await mkdir(saved);
    for (const file of await readdir(outboxDir)) if (file.endsWith('.json')) await copyFile(path.join(outboxDir, file), path.join(saved, file));

    const back = await device('outbox-b', code);
    await back.rec.until(() => back.client.outbox.size === 0, 'outbox delivered');
    await a.rec.until(() => a.rec.texts().length >= 2, 'A receives both');

    // A crash after sending but before the ack was recorded: the same messages go again.
    await back.client.stop();
    for (const file of await readdir(saved)) await copyFile(path.join(saved, file), path.join(outboxDir, file));
    const replay = await device('outbox-b', code);
    await replay.rec.until(() => replay.client.outbox.size === 0, 'duplicates acked');
    expect(replay.rec.all.filter((e) => e.kind === 'acked')).toHaveLength(2);

    await a.client.send({ type: 'message', msg_type: 'nudge', payload: {} });
    await a.rec.until(() => a.client.outbox.size === 0, 'A barrier acked');
    expect(a.rec.texts()).toEqual(['sent while offline', 'second while offline']);
  });

  it('backs off on repeated drops and starts from the base again after a stable connection', async () => {
    const clock = new ManualClock();
    const dataDir = path.join(root, 'stable');
    const client = new RelayClient({ url: relay.wsUrl, deviceName: 'stable', crewCode: null, dataDir, log, clock, random: () => 0.5, stableAfterMs: 30_000 });
    const rec = new Recorder(client);
    clients.push(client);
    await client.start();
    await rec.until(() => rec.online(), 'online');

    /** Another process with the same identity replaces this connection (close 4002). */
    const drop = async (): Promise<number> => {
      const offline = rec.until(() => rec.all.at(-1)?.kind === 'connection' && client.connection.status === 'offline', 'dropped');
      const twin = new RelayClient({ url: relay.wsUrl, deviceName: 'stable', crewCode: null, dataDir, log });
      await twin.start();
      await offline;
      await twin.stop();
      return client.connection.retryAt! - clock.now();
    };
    const reconnect = async (delay: number): Promise<void> => {
      const online = rec.until(() => client.connection.status === 'online', 'back online');
      clock.advance(delay);
      await online;
    };

    const first = await drop();
    await reconnect(first);
    const second = await drop();
    expect([first, second]).toEqual([500, 1000]);
    await reconnect(second);
    clock.advance(30_000);
    expect(await drop()).toBe(500);
  });

  it('a member that lost its last-seq file resumes from the present and gets live messages at once', async () => {
    const { a, code } = await crewOfTwo('lostseq');
    await a.client.send({ type: 'message', msg_type: 'text', payload: { text: 'before' } });
    await a.rec.until(() => a.client.outbox.size === 0, 'A outbox acked');
    await rm(path.join(root, 'lostseq-b', 'last-seq.json'));

    const b = await device('lostseq-b', code);
    await b.rec.until(() => b.rec.online(), 'B online');
    await a.client.send({ type: 'message', msg_type: 'text', payload: { text: 'live' } });
    // The relay holds live events after welcome until the device says where it is; a device
    // that stayed silent would see this only at its next ping, 25 s later.
    await b.rec.until(() => b.rec.texts().includes('live'), 'the live message', 5_000);
    expect(b.rec.texts()).toEqual(['live']);
  });

  it('a gadget that slept through a code rotation resumes by crew id and gets what it missed', async () => {
    const { a, code } = await crewOfTwo('rotated');
    await a.client.send({ type: 'rotate_code' });
    await a.rec.until(() => a.rec.events.some((e) => e.type === 'crew_code_changed'), 'the new code');
    await a.client.send({ type: 'message', msg_type: 'text', payload: { text: 'after the rotation' } });
    await a.rec.until(() => a.client.outbox.size === 0, 'A outbox acked');

    const b = await device('rotated-b', code);
    await b.rec.until(() => b.rec.texts().includes('after the rotation'), 'the message sent while it slept');
    expect(b.rec.crew()!.crew_code).not.toBe(code);
  });

  it("takes the relay's crew state when told to resync, then receives new messages", async () => {
    const { a, code } = await crewOfTwo('resync');
    const seqFile = path.join(root, 'resync-b', 'last-seq.json');
    await writeFile(seqFile, JSON.stringify({ [code]: 999_999 }));
    const b = await device('resync-b', code);
    await b.rec.until(() => b.rec.all.some((e) => e.kind === 'crew' && e.reason === 'resync'), 'resync');
    await b.rec.until(() => b.rec.online(), 'online after resync');
    // The code-keyed position of an older gadget moves to the crew id, then takes the relay's seq.
    const stored = Object.values(JSON.parse(await readFile(seqFile, 'utf8')) as Record<string, number>);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toBeLessThan(999_999);
    await a.client.send({ type: 'message', msg_type: 'text', payload: { text: 'after resync' } });
    await b.rec.until(() => b.rec.texts().includes('after resync'), 'new message after resync');
  });
});
