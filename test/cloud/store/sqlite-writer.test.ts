import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../cloud/store/sqlite-store.js';
import { storeUnavailable, type AppendRequest } from '../../../cloud/store/store.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';
import { holdWriteLock } from '../../helpers/write-lock.js';

/*
 * The embedded store's writer thread: a store in a file commits the crew log on its own
 * connection in a worker thread. Another connection holding the write lock (as a backup or a
 * second process would) shows where the commit waits: on the thread, never on the event loop.
 */

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await makeTempDir('leeloo-writer-');
  file = path.join(dir, 'leeloo.db');
});
afterEach(async () => {
  await removeTempDir(dir);
});

const text = (n: number, clientMsgId?: string): AppendRequest => ({
  crewId: 'c1',
  event: { type: 'message', from_device: 'dev-a', from_name: 'A', msg_type: 'text', payload: { text: `t${n}` }, timestamp: n } as AppendRequest['event'],
  ...(clientMsgId ? { from: { deviceId: 'dev-a', clientMsgId } } : {}),
});

async function storeWithCrew(options: Parameters<typeof openSqliteStore>[1] = {}) {
  const store = openSqliteStore(file, options);
  await store.crews.saveDevice({ deviceId: 'dev-a', displayName: 'A' });
  await store.crews.createCrew({ crewId: 'c1', crewCode: 'LEELOO-AAAA', crewName: 'One', ownerDeviceId: 'dev-a' });
  return store;
}

describe('the writer thread', () => {
  it('keeps the event loop running while a commit waits for the write lock, and commits once it is free', async () => {
    const store = await storeWithCrew();
    await store.log.appendEvents([text(1)]);
    const release = holdWriteLock(file);
    let settled = false;
    const appended = store.log.appendEvents([text(2), text(3)]).finally(() => (settled = true));
    // On the event loop, this append would hold the loop in SQLite's busy wait: nothing else would run.
    for (let turn = 0; turn < 20; turn += 1) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    release();
    expect((await appended).map((r) => r.seq)).toEqual([2, 3]);
    expect((await store.log.readEvents('c1', 0)).map((e) => e.seq)).toEqual([1, 2, 3]);
    await store.close();
  });

  it('stamps events with the relay clock and keeps their seq and dedupe across a reopen', async () => {
    const store = await storeWithCrew();
    const before = Date.now();
    const [first] = await store.log.appendEvents([text(1, 'k1')]);
    expect(first!.at).toBeGreaterThanOrEqual(before);
    expect(first!.at).toBeLessThanOrEqual(Date.now());
    await store.close();
    const reopened = openSqliteStore(file);
    expect(await reopened.log.appendEvents([text(2, 'k1'), text(3, 'k2')])).toMatchObject([
      { seq: 1, duplicate: true, at: first!.at },
      { seq: 2, duplicate: false },
    ]);
    await reopened.close();
  });

  it('answers a refusal with its code across the thread: an unknown crew is not_found', async () => {
    const store = await storeWithCrew();
    await expect(store.log.appendEvents([{ ...text(1), crewId: 'no-such-crew' }])).rejects.toMatchObject({ code: 'not_found' });
    // The batch was all or nothing, and the thread goes on.
    expect(await store.log.appendEvents([text(2)])).toMatchObject([{ seq: 1 }]);
    await store.close();
  });

  it('answers a failed batch one by one before the batch handed over after it: its seqs stay lower', async () => {
    const store = await storeWithCrew();
    const release = holdWriteLock(file);
    const failing = store.log.appendEach([text(1), { ...text(2), crewId: 'no-such-crew' }, text(3)]);
    const next = store.log.appendEach([text(4), text(5)]);
    release();
    const [first, second] = await Promise.all([failing, next]);
    expect(first.map((r) => (r instanceof Error ? (r as Error & { code?: string }).code : r.seq))).toEqual([1, 'not_found', 2]);
    expect(second.map((r) => (r instanceof Error ? r.message : r.seq))).toEqual([3, 4]);
    await store.close();
  });

  it('commits what it was handed before the store closes', async () => {
    const store = await storeWithCrew();
    const appends = [1, 2, 3].map((n) => store.log.appendEvents([text(n, `k${n}`)]));
    await store.close();
    expect((await Promise.all(appends)).map(([r]) => r!.seq)).toEqual([1, 2, 3]);
    await expect(store.log.appendEvents([text(4)])).rejects.toMatchObject({ code: 'unavailable' });
    const reopened = openSqliteStore(file);
    expect(await reopened.log.countEvents()).toBe(3);
    await reopened.close();
  });

  it('writes delivery marks and the readiness probe on the thread too', async () => {
    const store = await storeWithCrew();
    await store.log.appendEvents([text(1), text(2)]);
    await store.crews.markDelivered([{ crewId: 'c1', deviceId: 'dev-a', seq: 2 }]);
    expect((await store.crews.getMembership('dev-a'))!.deliveredSeq).toBe(2);
    await store.ping();
    const release = holdWriteLock(file);
    let pinged = false;
    const ping = store.ping().finally(() => (pinged = true));
    for (let turn = 0; turn < 20; turn += 1) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(pinged).toBe(false);
    release();
    await ping;
    await store.close();
  });

  it('falls back to the store connection when the thread cannot open the file, and writes what it was handed', async () => {
    const failures: Error[] = [];
    const store = await storeWithCrew({ onWriterFailure: (error) => failures.push(error) });
    // The store's connection keeps the file it opened; the thread, opening the name, finds none.
    await fs.rename(file, `${file}.moved`);
    const results = await Promise.all([store.log.appendEvents([text(1)]), store.log.appendEvents([text(2)])]);
    expect(results.map(([r]) => r!.seq)).toEqual([1, 2]);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toMatch(/unable to open|no such file|SQLITE_CANTOPEN/i);
    expect(await store.log.appendEvents([text(3)])).toMatchObject([{ seq: 3 }]);
    expect((await store.log.readEvents('c1', 0)).map((e) => e.seq)).toEqual([1, 2, 3]);
    await store.close();
  });
});

describe('a store busy past busy_timeout', () => {
  it('is answered unavailable, a refusal the gadget sends again', () => {
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    expect(storeUnavailable(busy)).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/busy/) });
  });
});
