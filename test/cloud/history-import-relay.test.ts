import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { HistoryFeature } from '../../cloud/history/history-feature.js';
import { SQLITE_FILE_NAME } from '../../cloud/store/store.js';
import { buildQueueWithCrewPages } from '../helpers/queue-features.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { extendedRecord, writeZip } from '../helpers/spotify-export-zips.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';
import { isType, type TestClient } from '../helpers/ws-client.js';

/* A large history import, seen from the rest of the relay: sockets answered throughout, nothing visible until it is all in. */

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

/** An extended-history export of `plays` plays, 3 minutes apart, in files of 2,000. */
async function exportZip(plays: number): Promise<string> {
  const dir = await makeTempDir('leeloo-import-zip-');
  open.push({ close: () => removeTempDir(dir) });
  const all = Array.from({ length: plays }, (_, i) =>
    extendedRecord({
      ts: new Date(Date.UTC(2020, 0, 1) + i * 3 * 60_000).toISOString().replace('.000', ''),
      master_metadata_track_name: `Track ${i % 97}`,
      spotify_track_uri: `spotify:track:${String(i % 97).padStart(22, 'x')}`,
    }),
  );
  const files = [];
  for (let from = 0; from < plays; from += 2000) {
    files.push({
      name: `Spotify Extended Streaming History/Streaming_History_Audio_2020_${from / 2000}.json`,
      content: JSON.stringify(all.slice(from, from + 2000)),
    });
  }
  return writeZip(dir, 'my_spotify_data.zip', files);
}

/** A gadget that said hello and owns a crew; its member link traded for the crew pages' cookie. */
async function member(connect: () => Promise<TestClient>, httpUrl: string) {
  const client = await connect();
  open.push(client);
  const welcome = await client.request({ type: 'hello', protocol_version: 3, device_name: 'Ana' }, isType('welcome'));
  await client.request({ type: 'create_crew', display_name: 'Ana' }, isType('crew_created'));
  return { client, welcome, cookie: await cookieOf(client, httpUrl) };
}

async function cookieOf(client: TestClient, httpUrl: string): Promise<string> {
  const issued = await client.request({ type: 'crew_link' }, isType('crew_link_issued'));
  const opened = await fetch(httpUrl + new URL(String(issued.url)).pathname, { redirect: 'manual' });
  return opened.headers.get('set-cookie')!.split(';')[0]!;
}

async function upload(httpUrl: string, cookie: string, zip: string): Promise<{ job_id: string; events_url: string; status_url: string }> {
  const res = await fetch(`${httpUrl}/crew/api/history/import?name=my_spotify_data.zip`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/zip' },
    body: await readFile(zip),
  });
  expect(res.status).toBe(202);
  return (await res.json()) as { job_id: string; events_url: string; status_url: string };
}

/** The job's state as the member API reports it. */
async function jobState(httpUrl: string, cookie: string, statusUrl: string): Promise<{ state: string; counts: Record<string, number> | null }> {
  return (await (await fetch(`${httpUrl}${statusUrl}`, { headers: { cookie } })).json()) as { state: string; counts: Record<string, number> | null };
}

async function visiblePlays(httpUrl: string, deviceId: string): Promise<number> {
  const res = await fetch(`${httpUrl}/admin/history/members/${deviceId}/history/top?kind=artists&by=plays`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: { plays: number }[] }).items.reduce((sum, item) => sum + item.plays, 0);
}

const noAccess = { signedInMembers: async () => [], accessToken: async () => 'unused', refreshedToken: async () => 'unused' };

describe('a socket during a large import', () => {
  it('gets its answers while the import is still committing', async () => {
    const relay: InProcessRelay = await startInProcessRelay({
      env: { ADMIN_TOKEN, HISTORY_IMPORT_SLICE_ROWS: '100', RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '100000' },
      features: [
        (context) => {
          const history = new HistoryFeature(context, noAccess);
          const { queue, crewPages } = buildQueueWithCrewPages(context, { memberApi: () => history.memberRouter });
          return [queue, crewPages, history];
        },
      ],
    });
    open.push(relay);
    const zip = await exportZip(6000);
    const ana = await member(() => relay.connect(), relay.httpUrl);
    const db = (relay.store as unknown as { db: Database.Database }).db;
    const committing = () => (db.prepare('SELECT COUNT(*) FROM history_pending').pluck().get() as number) > 0;

    const job = await upload(relay.httpUrl, ana.cookie, zip);
    const finished = fetch(`${relay.httpUrl}${job.events_url}`, { headers: { cookie: ana.cookie } }).then((res) => res.text());
    let importing = true;
    void finished.then(() => (importing = false));
    const answered = { total: 0, whileCommitting: 0, playsSeen: new Set<number>() };
    while (importing) {
      await ana.client.request({ type: 'ping' }, isType('pong'));
      answered.total += 1;
      if (!committing()) continue;
      answered.whileCommitting += 1;
      const plays = await visiblePlays(relay.httpUrl, String(ana.welcome.device_id));
      // Pending before and after the answer: it was read in the middle of the commit.
      if (committing()) answered.playsSeen.add(plays);
    }
    expect((await finished).split('\n\n').at(-2)).toMatch(/^event: done/);
    // 6,000 plays in slices of 100: the socket was answered between slices, again and again.
    expect(answered.whileCommitting).toBeGreaterThanOrEqual(3);
    // …and the HTTP API too, with the data of before the import.
    expect([...answered.playsSeen]).toEqual([0]);
    expect(await visiblePlays(relay.httpUrl, String(ana.welcome.device_id))).toBe(6000);
  }, 60_000);
});

describe('a relay killed in the middle of an import', () => {
  it('shows nothing of it after the restart, drops what it wrote, and takes the same import again', async () => {
    const env = { ADMIN_TOKEN, HISTORY_IMPORT_SLICE_ROWS: '100' };
    const zip = await exportZip(20_000);
    let relay = await RelayProcess.start({ env });
    open.push({ close: () => relay.cleanup() });
    const ana = await member(() => relay.connect(), relay.httpUrl);
    const deviceId = String(ana.welcome.device_id);
    const file = new Database(path.join(relay.dataDir, SQLITE_FILE_NAME), { readonly: true, fileMustExist: true });
    open.push({ close: async () => file.close() });
    const count = (sql: string) => file.prepare(sql).pluck().get() as number;

    await upload(relay.httpUrl, ana.cookie, zip);
    // Kill it once the commit's slices are going in.
    await waitUntil(
      () => count('SELECT COUNT(*) FROM history_plays WHERE import_id IN (SELECT id FROM history_pending)') > 1000,
      'commit slices in the store',
      60_000,
    );
    await relay.kill();
    expect(count('SELECT COUNT(*) FROM history_imports')).toBe(0);
    expect(count('SELECT COUNT(*) FROM history_plays')).toBeGreaterThan(1000);

    relay = await relay.restart({ env });
    expect(await visiblePlays(relay.httpUrl, deviceId)).toBe(0);
    await waitUntil(() => relay.logs.some((line) => line.includes('dropped what imports that did not finish had written')), 'the leftovers dropped', 30_000);
    expect(count('SELECT COUNT(*) FROM history_plays')).toBe(0);
    expect(count('SELECT COUNT(*) FROM history_pending')).toBe(0);
    expect(count('SELECT COUNT(*) FROM history_staging')).toBe(0);

    const gadget = await relay.connect();
    open.push(gadget);
    await gadget.request(
      { type: 'hello', protocol_version: 3, device_name: 'Ana', device_id: deviceId, device_secret: ana.welcome.device_secret },
      isType('welcome'),
    );
    const cookie = await cookieOf(gadget, relay.httpUrl);
    const redo = await upload(relay.httpUrl, cookie, zip);
    let end = await jobState(relay.httpUrl, cookie, redo.status_url);
    await waitUntil(async () => ['done', 'failed'].includes((end = await jobState(relay.httpUrl, cookie, redo.status_url)).state), 'the import done', 60_000);
    expect(end).toMatchObject({ state: 'done', counts: { imported: 20_000, duplicate: 0 } });
    expect(await visiblePlays(relay.httpUrl, deviceId)).toBe(20_000);
  }, 120_000);
});
