import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Feature, FeatureFactory } from '../../cloud/feature.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';
import { isType, type TestClient } from '../helpers/ws-client.js';

/*
 * The relay's data dir on a small tmpfs that the test fills for real: the kernel answers
 * ENOSPC as it would on the operator's full disk (mounting needs root, as this machine's
 * test runs have; elsewhere the test is skipped and says why).
 */

const asRoot = process.getuid?.() === 0;
let mountPoint: string;
let relay: InProcessRelay | undefined;
let clients: TestClient[] = [];

beforeEach(async () => {
  clients = [];
  mountPoint = await makeTempDir('leeloo-full-disk-');
  if (asRoot) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0700', 'tmpfs', mountPoint]);
});

afterEach(async () => {
  for (const client of clients) client.ws.close();
  await relay?.close();
  relay = undefined;
  if (asRoot) execFileSync('umount', [mountPoint]);
  await removeTempDir(mountPoint);
});

/** Appends to a filler file until the file system refuses: the disk is then full. */
function fillDisk(file: string): void {
  const chunk = Buffer.alloc(4096, 1);
  const fd = fs.openSync(file, 'a');
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    fs.closeSync(fd);
  }
}

async function ready(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${relay!.httpUrl}/ready`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function gadget(name: string): Promise<TestClient> {
  const client = await relay!.connect();
  clients.push(client);
  await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  return client;
}

describe.skipIf(!asRoot)('a full disk', () => {
  it('/ready says the store is unwritable, writes are refused as unavailable, and both recover when space is freed', async () => {
    relay = await startInProcessRelay({ env: { LEELOO_DATA_DIR: path.join(mountPoint, 'data'), RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000' } });
    const ana = await gadget('Ana');
    await ana.request({ type: 'create_crew', display_name: 'Ana' }, isType('crew_created'));
    expect(await ready()).toMatchObject({ status: 200 });

    const filler = path.join(mountPoint, 'filler');
    fillDisk(filler);
    const full = await ready();
    expect(full).toMatchObject({ status: 503, body: { code: 'unavailable' } });
    expect(String(full.body.message)).toMatch(/disk is full/);

    // The WAL has some room left in pages it already holds: write until a commit needs more.
    let refused: Record<string, unknown> | null = null;
    for (let i = 0; i < 400 && !refused; i += 1) {
      const id = `t${i}`;
      const answer = await ana.request(
        { type: 'message', msg_type: 'text', payload: { text: `hello ${i} ${'x'.repeat(3000)}` }, client_msg_id: id },
        (f) => f.client_msg_id === id,
      );
      if (answer.type === 'error') refused = answer;
    }
    expect(refused).toMatchObject({ type: 'error', code: 'unavailable' });

    fs.rmSync(filler);
    expect(await ready()).toMatchObject({ status: 200 });
    const retried = String(refused!.client_msg_id);
    const ack = await ana.request({ type: 'message', msg_type: 'text', payload: { text: 'again' }, client_msg_id: retried }, isType('ack'));
    expect(ack).toMatchObject({ client_msg_id: retried, seq: expect.any(Number) });
    expect(ack.duplicate).toBeUndefined();
  }, 60_000);
});

describe('a feature that fails to start', () => {
  it('is tried again with back-off until it starts, while the relay runs', async () => {
    let attempts = 0;
    let started = false;
    const flaky: FeatureFactory = (): Feature => ({
      name: 'flaky',
      async start() {
        attempts += 1;
        if (attempts < 3) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
        started = true;
      },
      async stop() {
        started = false;
      },
    });
    relay = await startInProcessRelay({ features: [flaky] });
    expect(attempts).toBe(1);
    expect(await ready()).toMatchObject({ status: 200 });
    await waitUntil(() => started, 'the feature to start on its third try', 15_000);
    expect(attempts).toBe(3);
  }, 20_000);
});

describe('a member_offline refused by a full disk', () => {
  it('is tried again until it is stored, and the crew then hears it', async () => {
    relay = await startInProcessRelay({ env: { RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000' } });
    const ana = await gadget('Ana');
    const code = String((await ana.request({ type: 'create_crew', display_name: 'Ana' }, isType('crew_created'))).crew_code);
    const bo = await gadget('Bo');
    await bo.request({ type: 'join_crew', crew_code: code, display_name: 'Bo' }, isType('crew_joined'));
    await ana.next(isType('member_joined'));

    // The store's appends fail as SQLite's do on a full disk, until space is freed.
    const crews = relay.store.log;
    const append = crews.appendEach.bind(crews);
    let full = true;
    let refused = 0;
    crews.appendEach = async (batch) => {
      if (full) {
        refused += 1;
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      }
      return append(batch);
    };
    await bo.terminate();
    await waitUntil(() => refused >= 2, 'the member_offline to be refused and tried again');
    expect(ana.queue.some((f) => f.type === 'member_offline')).toBe(false);

    full = false;
    const offline = await ana.next(isType('member_offline'), 10_000);
    const boId = offline.device_id as string;
    const crewId = (await relay.store.crews.getMembership(boId))!.crewId;
    const stored = (await relay.store.log.readEvents(crewId, 0)).filter((e) => e.event.type === 'member_offline');
    expect(stored).toHaveLength(1);
  }, 20_000);
});
