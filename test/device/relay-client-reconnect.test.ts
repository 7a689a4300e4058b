import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RelayClient, type RelayClientEvent } from '../../device/relay-client.js';
import { ManualClock } from '../fakes/manual-clock.js';

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
      url: `ws://127.0.0.1:${port}/ws`, deviceName: 'Desk', crewCode: null, dataDir: dir, log, clock,
      random: () => 0.5, pingIntervalMs: 10_000, deadAfterMs: 30_000,
    });
    await client.start();
    const socket = await connected;
    await waitUntil(() => hellos.length === 1);
    expect(hellos[0]).toMatchObject({ type: 'hello', protocol_version: 3, device_name: 'Desk' });
    expect(hellos[0]).not.toHaveProperty('device_secret');

    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const offline = nextEvent(client, 'connection', (e) => e.connection.status === 'offline');
    clock.advance(10_000);
    await waitUntil(() => hellos.some((m) => (m as { type: string }).type === 'ping'));
    clock.advance(20_000);
    await closed;
    const event = await offline;
    expect(event.connection.retryAt).toBe(clock.now() + 500);
  });
});

/** Polls a condition on the event loop (no fixed sleep): fails after timeoutMs. */
async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
