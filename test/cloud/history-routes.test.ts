import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImportJobs } from '../../cloud/history/import-jobs.js';
import { playInput } from '../../cloud/store/areas/history.js';
import { HistoryQueries } from '../../cloud/history/queries.js';
import { adminHistoryRouter, memberHistoryRouter } from '../../cloud/history/routes.js';
import { openSqliteStore } from '../../cloud/store/sqlite-store.js';
import { extendedRecord, writeZip } from '../helpers/spotify-export-zips.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
let dir: string;
let store: ReturnType<typeof openSqliteStore>;
let jobs: ImportJobs;
let server: Server;
let base: string;

/** What the import jobs logged, as parsed pino lines. */
let logged: Record<string, unknown>[] = [];

async function startApp(adminToken: string | undefined, maxUploadBytes = 5 * 1024 ** 2) {
  logged = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  jobs = new ImportJobs({ store: store.history, log, maxUploadBytes, minPlayMs: 30_000, uploadDir: path.join(dir, 'uploads') });
  await jobs.start();
  const deps = { store, queries: new HistoryQueries(store), jobs, log };
  const app = express();
  // Stands in for the crew pages' signed member link.
  app.use(
    '/crew/api',
    (req, res, next) => {
      const device = req.headers['x-test-member'];
      if (typeof device === 'string') res.locals.historyViewer = { deviceId: device, crewId: device === 'cy' ? null : 'crew-1' };
      next();
    },
    memberHistoryRouter(deps),
  );
  app.use(adminHistoryRouter({ ...deps, adminToken }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leeloo-history-http-'));
  store = openSqliteStore(path.join(dir, 'leeloo.db'));
  for (const id of ['ana', 'bo', 'cy']) await store.crews.saveDevice({ deviceId: id, displayName: id });
  await store.crews.createCrew({ crewId: 'crew-1', crewCode: 'LEELOO-ABCD', crewName: 'Crew', ownerDeviceId: 'ana' });
  await store.crews.addMember('crew-1', 'bo');
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await jobs.stop();
  await store.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const as = (member: string, extra: Record<string, string> = {}) => ({ 'x-test-member': member, ...extra });

async function upload(member: string, file: string, query = '') {
  return fetch(`${base}/crew/api/history/import${query}`, {
    method: 'POST',
    headers: as(member, { 'content-type': 'application/zip' }),
    body: await fs.readFile(file),
  });
}

/** Reads the SSE stream until it ends; the timeout fails the test rather than hanging it. */
async function followEvents(
  url: string,
  member: string,
): Promise<{ event: string; data: { state: string; counts: Record<string, number> | null; error?: { code: string } } }[]> {
  const res = await fetch(`${base}${url}`, { headers: as(member), signal: AbortSignal.timeout(10_000) });
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  const text = await res.text();
  return text
    .trim()
    .split('\n\n')
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      return { event: eventLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) };
    });
}

describe('import over HTTP', () => {
  beforeEach(() => startApp(ADMIN_TOKEN));

  it('accepts a ZIP, reports progress until done, and the plays show in the stats', async () => {
    const records = Array.from({ length: 40 }, (_, i) => extendedRecord({ ts: `2023-05-04T1${i % 10}:${10 + i}:00Z`, ms_played: i < 5 ? 1_000 : 200_000 }));
    const file = await writeZip(dir, 'export.zip', [{ name: 'Streaming_History_Audio_2023.json', content: JSON.stringify(records) }]);
    const res = await upload('ana', file);
    expect(res.status).toBe(202);
    const body = await res.json();
    expect(body.events_url).toBe(`/crew/api/history/import/${body.job_id}/events`);
    const events = await followEvents(body.events_url, 'ana');
    const last = events[events.length - 1]!;
    expect(last.event).toBe('done');
    expect(last.data.counts).toMatchObject({ imported: 35, too_short: 5 });
    const status = await (await fetch(`${base}${body.status_url}`, { headers: as('ana') })).json();
    expect(status).toMatchObject({ state: 'done', member_id: 'ana' });
    const top = await (await fetch(`${base}/crew/api/history/top?kind=artists`, { headers: as('bo') })).json();
    expect(top.items).toEqual([{ artist: 'Daft Punk', plays: 35, ms_played: 35 * 200_000 }]);
    expect(await (await fetch(`${base}${body.status_url}`, { headers: as('bo') })).json()).toMatchObject({ code: 'not_found' });
  });

  it('reports a bad ZIP as a failed job with its code, and writes nothing', async () => {
    const file = path.join(dir, 'bad.zip');
    await fs.writeFile(file, 'PK but not really a zip file at all');
    const body = await (await upload('ana', file)).json();
    const events = await followEvents(body.events_url, 'ana');
    expect(events[events.length - 1]).toMatchObject({ event: 'failed', data: { state: 'failed', error: { code: 'invalid_zip' } } });
    expect(await store.history.countPlays('ana')).toBe(0);
  });

  it('refuses a wrong content type, a bad query and a missing viewer', async () => {
    const form = await fetch(`${base}/crew/api/history/import`, { method: 'POST', headers: as('ana', { 'content-type': 'text/plain' }), body: 'x' });
    expect(form.status).toBe(400);
    expect((await form.json()).message).toMatch(/application\/zip/);
    const badMin = await fetch(`${base}/crew/api/history/import?min_play_ms=-1`, {
      method: 'POST',
      headers: as('ana', { 'content-type': 'application/zip' }),
      body: 'x',
    });
    expect(badMin.status).toBe(400);
    const nobody = await fetch(`${base}/crew/api/history/top`);
    expect(nobody.status).toBe(401);
    expect(await nobody.json()).toMatchObject({ code: 'unauthorized', error: 'unauthorized' });
  });
});

describe('upload limit', () => {
  beforeEach(() => startApp(ADMIN_TOKEN, 64 * 1024));

  it('answers 413 too_large and keeps no file', async () => {
    const res = await fetch(`${base}/crew/api/history/import`, {
      method: 'POST',
      headers: as('ana', { 'content-type': 'application/zip' }),
      body: Buffer.alloc(256 * 1024, 7),
    });
    expect(res.status).toBe(413);
    expect((await res.json()).code).toBe('too_large');
    expect(await fs.readdir(path.join(dir, 'uploads'))).toEqual([]);
  });
});

describe('one import per member at a time', () => {
  beforeEach(() => startApp(ADMIN_TOKEN));

  it("refuses a second upload while the member's first is still arriving, and takes it afterwards", async () => {
    const zip = await writeZip(dir, 'one.zip', [{ name: 'Streaming_History_Audio_2023.json', content: JSON.stringify([extendedRecord()]) }]);
    const bytes = await fs.readFile(zip);
    let sendRest!: () => void;
    const slow = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.subarray(0, 10));
        sendRest = () => {
          controller.enqueue(bytes.subarray(10));
          controller.close();
        };
      },
    });
    const first = fetch(`${base}/crew/api/history/import`, {
      method: 'POST',
      headers: as('ana', { 'content-type': 'application/zip' }),
      body: slow,
      duplex: 'half',
    } as RequestInit);
    await expect.poll(() => fs.readdir(path.join(dir, 'uploads'))).toHaveLength(1);
    const second = await upload('ana', zip);
    expect(second.status).toBe(409);
    expect((await second.json()).code).toBe('conflict');
    const other = await upload('bo', zip);
    expect(other.status).toBe(202);
    sendRest();
    const accepted = await first;
    expect(accepted.status).toBe(202);
    const events = await followEvents((await accepted.json()).events_url, 'ana');
    expect(events.at(-1)!.event).toBe('done');
    expect((await upload('ana', zip)).status).toBe(202);
  });
});

describe('queries over HTTP', () => {
  beforeEach(() => startApp(ADMIN_TOKEN));

  it('validates parameters and keeps members to their crew', async () => {
    const tz = await fetch(`${base}/crew/api/history/heatmap?tz=Nowhere/Land`, { headers: as('ana') });
    expect(tz.status).toBe(400);
    expect((await tz.json()).message).toMatch(/time zone/);
    const range = await fetch(`${base}/crew/api/history/top?from=2024-02-01&to=2024-01-01`, { headers: as('ana') });
    expect((await range.json()).message).toMatch(/"from" must be before "to"/);
    const outsider = await fetch(`${base}/crew/api/history/top?member=cy`, { headers: as('ana') });
    expect(outsider.status).toBe(404);
    const heat = await (await fetch(`${base}/crew/api/history/heatmap?tz=Europe/Paris&member=bo`, { headers: as('ana') })).json();
    expect(heat.cells).toHaveLength(7);
    const noCrew = await fetch(`${base}/crew/api/history/throwback`, { headers: as('cy') });
    expect(noCrew.status).toBe(409);
  });

  it("streams the viewer's own CSV export", async () => {
    await store.history.addPlays([
      {
        memberId: 'ana',
        source: 'import_extended',
        endMs: Date.UTC(2022, 0, 1),
        trackUri: null,
        track: 'A, "B"',
        artist: 'C',
        album: null,
        msPlayed: 60_000,
        durationMs: null,
        skipped: null,
        shuffle: null,
        offline: null,
        reasonStart: null,
        reasonEnd: null,
      },
    ]);
    const res = await fetch(`${base}/crew/api/history/export.csv`, { headers: as('ana') });
    expect(res.headers.get('content-type')).toMatch(/text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/leeloo-ana\.csv/);
    expect((await res.text()).split('\r\n')[1]).toBe('2022-01-01T00:00:00.000Z,import_extended,"A, ""B""",C,,,60000,,,,,,');
    const bo = await (await fetch(`${base}/crew/api/history/export.json`, { headers: as('bo') })).json();
    expect(bo.plays).toEqual([]);
  });
});

describe('import records and logs', () => {
  it('keeps the uploaded file name, and logs refused imports with reason, size and member like done ones', async () => {
    await startApp(undefined, 4096);
    const good = await writeZip(dir, 'good.zip', [{ name: 'Streaming_History_Audio_2023.json', content: JSON.stringify([extendedRecord()]) }]);
    const done = await (await upload('ana', good, '?name=my_spotify_data.zip')).json();
    await followEvents(done.events_url.replace(base, ''), 'ana');
    expect((await store.history.listImports('ana')).map((i) => i.fileName)).toEqual(['my_spotify_data.zip']);
    expect(logged.find((l) => l.msg === 'history import done')).toMatchObject({
      member: 'ana',
      fileName: 'my_spotify_data.zip',
      bytes: (await fs.stat(good)).size,
    });

    const notZip = path.join(dir, 'notes.zip');
    await fs.writeFile(notZip, 'these are not the plays you are looking for');
    const refused = await (await upload('bo', notZip, '?name=notes.zip')).json();
    await followEvents(refused.events_url.replace(base, ''), 'bo');
    expect(logged.find((l) => l.msg === 'history import refused' && l.member === 'bo')).toMatchObject({
      reason: 'invalid_zip',
      fileName: 'notes.zip',
      bytes: 43,
    });

    const big = path.join(dir, 'big.zip');
    await fs.writeFile(big, Buffer.alloc(10_000, 1));
    expect((await upload('cy', big, '?name=big.zip')).status).toBe(413);
    const tooLarge = logged.find((l) => l.msg === 'history import refused' && l.member === 'cy');
    expect(tooLarge).toMatchObject({ reason: 'too_large', fileName: 'big.zip' });
    expect(tooLarge!.bytes as number).toBeGreaterThan(4096);
  });
});

describe('admin API', () => {
  it('needs the bearer token', async () => {
    await startApp(ADMIN_TOKEN);
    const url = `${base}/admin/history/members/ana/history/top`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ kind: 'tracks', items: [] });
    expect((await fetch(`${base}/admin/history/members/nobody/history`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(404);
  });

  it("is member-scoped: a member's figures are that member's alone, not the crew's", async () => {
    await startApp(ADMIN_TOKEN);
    const play = (memberId: string, track: string, minute: number) =>
      playInput({ memberId, source: 'import_extended', endMs: Date.UTC(2024, 0, 1, 10, minute), track, artist: 'A', msPlayed: 120_000 });
    await store.history.addPlays([
      play('ana', 'Ana song', 1),
      play('ana', 'Ana song', 2),
      play('bo', 'Bo song', 3),
      play('bo', 'Bo song', 4),
      play('bo', 'Bo song', 5),
    ]);
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const get = async (path: string) => (await fetch(`${base}/admin/history/members/ana/history${path}`, { headers: auth })).json();
    expect((await get('/top')).items.map((i: { track: string }) => i.track)).toEqual(['Ana song']);
    expect((await get('?from=0')).items).toHaveLength(2);
    expect((await get('/top?kind=artists')).items).toMatchObject([{ artist: 'A', plays: 2 }]);
    // The member API of the crew pages still shows the crew by default.
    const crew = await (await fetch(`${base}/crew/api/history/top`, { headers: as('ana') })).json();
    expect(crew.items.map((i: { track: string }) => i.track)).toEqual(['Bo song', 'Ana song']);
    const other = await fetch(`${base}/admin/history/members/ana/history/top?member=bo`, { headers: auth });
    expect(other.status).toBe(400);
    expect((await other.json()).message).toContain('/admin/history/members/bo/');
  });

  it('is off without ADMIN_TOKEN', async () => {
    await startApp(undefined);
    const res = await fetch(`${base}/admin/history/members/ana/history`, { headers: { authorization: 'Bearer anything' } });
    expect(res.status).toBe(503);
    expect((await res.json()).message).toMatch(/ADMIN_TOKEN/);
  });
});
