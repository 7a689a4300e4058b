import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LastSeqStore } from '../../device/last-seq.js';
import { RelayClient, type RelayClientEvent } from '../../device/relay-client.js';
import { ManualClock } from '../fakes/manual-clock.js';
import { waitUntil } from '../helpers/wait-until.js';

const log = pino({ level: 'silent' });

function nextEvent<K extends RelayClientEvent['kind']>(
  client: RelayClient,
  kind: K,
  test: (event: Extract<RelayClientEvent, { kind: K }>) => boolean = () => true,
  timeoutMs = 5000,
): Promise<Extract<RelayClientEvent, { kind: K }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${kind} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.onEvent((event) => {
      if (event.kind !== kind) return;
      const typed = event as Extract<RelayClientEvent, { kind: K }>;
      if (!test(typed)) return;
      clearTimeout(timer);
      off();
      resolve(typed);
    });
  });
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('RelayClient reconnect', () => {
  let dir: string;
  let client: RelayClient | null = null;
  let server: WebSocketServer | null = null;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'leeloo-client-'));
  });
  afterEach(async () => {
    await client?.stop();
    client = null;
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = null;
    await rm(dir, { recursive: true, force: true });
  });

  it('retries an unreachable relay with exponential backoff, full jitter and a 60 s cap', async () => {
    const clock = new ManualClock();
    const port = await closedPort();
    client = new RelayClient({ url: `ws://127.0.0.1:${port}/ws`, deviceName: 'Desk', crewCode: null, dataDir: dir, log, clock, random: () => 0.5 });
    const delays: number[] = [];
    for (let attempt = 0; attempt < 9; attempt++) {
      const offline = nextEvent(client, 'connection', (e) => e.connection.status === 'offline');
      if (attempt === 0) await client.start();
      else clock.advance(delays[delays.length - 1]!);
      const event = await offline;
      delays.push(event.connection.retryAt! - clock.now());
      expect(event.connection.detail).toBe('Cannot reach the relay.');
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(clock.pending()).toEqual([30000]);
  });

  it('drops a relay that goes silent and reconnects', async () => {
    const clock = new ManualClock();
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server!.once('listening', () => resolve()));
    const port = (server.address() as net.AddressInfo).port;
    const hellos: unknown[] = [];
    const connected = new Promise<WebSocket>((resolve) => {
      server!.on('connection', (socket) => {
        socket.on('message', (data) => hellos.push(JSON.parse(String(data))));
        resolve(socket);
      });
    });
    client = new RelayClient({
      url: `ws://127.0.0.1:${port}/ws`,
      deviceName: 'Desk',
      crewCode: null,
      dataDir: dir,
      log,
      clock,
      random: () => 0.5,
      pingIntervalMs: 10_000,
      deadAfterMs: 30_000,
    });
    await client.start();
    const socket = await connected;
    await waitUntil(() => hellos.length === 1, 'the hello', 5000);
    expect(hellos[0]).toMatchObject({ type: 'hello', protocol_version: 3, device_name: 'Desk' });
    expect(hellos[0]).not.toHaveProperty('device_secret');

    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const offline = nextEvent(client, 'connection', (e) => e.connection.status === 'offline');
    clock.advance(10_000);
    await waitUntil(() => hellos.some((m) => (m as { type: string }).type === 'ping'), 'a ping', 5000);
    clock.advance(20_000);
    await closed;
    const event = await offline;
    expect(event.connection.retryAt).toBe(clock.now() + 500);
  });

  async function fakeRelay(
    onMessage: (socket: WebSocket, message: { type: string; [key: string]: unknown }) => void,
  ): Promise<{ port: number; received: { type: string; [key: string]: unknown }[] }> {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server!.once('listening', () => resolve()));
    const received: { type: string; [key: string]: unknown }[] = [];
    server.on('connection', (socket) => {
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string };
        received.push(message);
        onMessage(socket, message);
      });
    });
    return { port: (server.address() as net.AddressInfo).port, received };
  }

  it('stays offline with the reason on screen when identity.json is damaged, and still queues', async () => {
    const relay = await fakeRelay(() => undefined);
    let connections = 0;
    server!.on('connection', () => connections++);
    await writeFile(path.join(dir, 'identity.json'), '{"device_id": "dev-');
    client = new RelayClient({ url: `ws://127.0.0.1:${relay.port}/ws`, deviceName: 'Desk', crewCode: null, dataDir: dir, log, clock: new ManualClock() });
    await client.start();
    expect(client.connection.status).toBe('error');
    expect(client.connection.detail).toContain('identity.json is damaged');
    await client.send({ type: 'message', msg_type: 'nudge', payload: {} });
    expect(client.outbox.size).toBe(1);
    expect(connections).toBe(0);
  });

  it('reads identity.json again after the relay refused the credential, so a restored file works', async () => {
    const good = { device_id: 'dev-restored0001', device_secret: 'g'.repeat(43) };
    const relay = await fakeRelay((socket, message) => {
      if (message.type !== 'hello') return;
      if (message.device_secret === good.device_secret) {
        socket.send(JSON.stringify({ type: 'welcome', device_id: good.device_id, protocol_version: 3, crew: null, server_time: clock.now() }));
      } else {
        socket.send(JSON.stringify({ type: 'error', code: 'unauthorized', error: 'unauthorized', message: 'Wrong secret.' }));
        socket.close(4001);
      }
    });
    await writeFile(path.join(dir, 'identity.json'), JSON.stringify({ ...good, device_secret: 'b'.repeat(43) }));
    const clock = new ManualClock();
    client = new RelayClient({ url: `ws://127.0.0.1:${relay.port}/ws`, deviceName: 'Desk', crewCode: null, dataDir: dir, log, clock, random: () => 0.5 });
    const refused = nextEvent(client, 'connection', (e) => e.connection.status === 'error' && e.connection.retryAt !== null);
    await client.start();
    expect((await refused).connection.detail).toContain('refused this device’s credential');
    await writeFile(path.join(dir, 'identity.json'), JSON.stringify(good));
    clock.advance(clock.pending()[0]!);
    await waitUntil(() => relay.received.filter((m) => m.type === 'hello').length === 2, 'a second hello', 5000);
    expect(relay.received.filter((m) => m.type === 'hello')[1]).toMatchObject({ device_id: good.device_id, device_secret: good.device_secret });
    await waitUntil(() => relay.received.some((m) => m.type === 'create_crew'), 'create_crew after the welcome', 5000);
  });

  it('resumes with the epoch of the log its seq came from, so a restored relay can tell it to resync', async () => {
    const identity = { device_id: 'dev-epoch000001', device_secret: 'e'.repeat(43) };
    await writeFile(path.join(dir, 'identity.json'), JSON.stringify(identity));
    const epochs = ['aaaa1111', 'bbbb2222', 'bbbb2222'];
    let welcomes = 0;
    const crew = (epoch: string) => ({
      crew_id: 'crew-1',
      crew_code: 'LEELOO-AB2C',
      crew_name: 'Crew',
      owner_device_id: identity.device_id,
      members: [{ device_id: identity.device_id, display_name: 'Desk', online: true, is_owner: true }],
      latest_seq: 7,
      epoch,
    });
    const relay = await fakeRelay((socket, message) => {
      if (message.type === 'hello') {
        socket.send(JSON.stringify({ type: 'welcome', device_id: identity.device_id, protocol_version: 3, crew: crew(epochs[welcomes++]!), server_time: 1 }));
      } else if (message.type === 'resume' && message.epoch === 'aaaa1111') {
        // What a relay restored from a backup answers: another log, take its state.
        socket.send(JSON.stringify({ type: 'resync', crew_code: 'LEELOO-AB2C', reason: 'epoch_changed', crew: crew('bbbb2222') }));
      } else if (message.type === 'resume') {
        socket.send(JSON.stringify({ type: 'resumed', crew_code: 'LEELOO-AB2C', after_seq: message.after_seq, latest_seq: 7, replayed: 0, epoch: 'bbbb2222' }));
      }
    });
    const clock = new ManualClock();
    client = new RelayClient({ url: `ws://127.0.0.1:${relay.port}/ws`, deviceName: 'Desk', crewCode: null, dataDir: dir, log, clock, random: () => 0.5 });
    const resumes = () => relay.received.filter((m) => m.type === 'resume');
    await client.start();
    await waitUntil(() => resumes().length === 1, 'the first resume', 5000);
    // A process that just started knows no epoch yet.
    expect(resumes()[0]).not.toHaveProperty('epoch');
    for (const expected of ['aaaa1111', 'bbbb2222']) {
      const count = resumes().length;
      const offline = nextEvent(client, 'connection', (e) => e.connection.status === 'offline' && e.connection.retryAt !== null);
      for (const socket of server!.clients) socket.terminate();
      clock.advance((await offline).connection.retryAt! - clock.now());
      await waitUntil(() => resumes().length === count + 1, 'a resume after reconnecting', 5000);
      expect(resumes()[count]).toMatchObject({ crew_code: 'LEELOO-AB2C', epoch: expected });
    }
  });

  it('drops a relay that answers only frames it cannot read, and says so', async () => {
    const relay = await fakeRelay((socket) => socket.send('<html>not a relay</html>'));
    const clock = new ManualClock();
    client = new RelayClient({
      url: `ws://127.0.0.1:${relay.port}/ws`,
      deviceName: 'Desk',
      crewCode: null,
      dataDir: dir,
      log,
      clock,
      random: () => 0.5,
      pingIntervalMs: 10_000,
      deadAfterMs: 30_000,
    });
    await client.start();
    await waitUntil(() => relay.received.length === 1, 'the hello', 5000);
    for (let i = 0; i < 3; i++) {
      clock.advance(10_000);
      await waitUntil(() => relay.received.length >= i + 2 || client!.connection.status === 'offline', 'a ping or the drop', 5000);
    }
    const offline =
      client.connection.status === 'offline' ? client.connection : (await nextEvent(client, 'connection', (e) => e.connection.status === 'offline')).connection;
    expect(offline.detail).toContain('cannot read');
  });
});

describe('LastSeqStore', () => {
  it('keeps writing after one write failed', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'leeloo-seq-'));
    try {
      const store = new LastSeqStore(dir);
      await store.load();
      // A directory in the way makes the rename fail, as a full or broken disk would.
      await mkdir(path.join(dir, 'last-seq.json'));
      await expect(store.set('LEELOO-AAAA', 1)).rejects.toThrow();
      await rm(path.join(dir, 'last-seq.json'), { recursive: true });
      await store.set('LEELOO-AAAA', 2);
      await store.flush();
      expect(JSON.parse(await readFile(path.join(dir, 'last-seq.json'), 'utf8'))).toEqual({ 'LEELOO-AAAA': 2 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
