import fs from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImportJobs, type ImportJobView } from '../../cloud/history/import-jobs.js';
import { importExport, type ImportProgress } from '../../cloud/history/importer.js';
import { playInput } from '../../cloud/store/areas/history.js';
import { openSqliteStore } from '../../cloud/store/sqlite-store.js';
import { ProtocolError } from '../../protocol/index.js';
import { extendedRecord, writeZip } from '../helpers/spotify-export-zips.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

/* An import commits in slices: nobody sees any of it before its last slice, all of it after. */

const MEMBER = 'dev-ana';
const ALL_TIME = { fromMs: 0, toMs: Date.UTC(2100, 0, 1) };
let dir: string;
let store: ReturnType<typeof openSqliteStore>;

beforeEach(async () => {
  dir = await makeTempDir('leeloo-slices-');
  store = openSqliteStore(path.join(dir, 'leeloo.db'));
});
afterEach(async () => {
  await store.close();
  await removeTempDir(dir);
});

/** `count` extended-history plays, 5 minutes apart from `startMs`, over 40 tracks. */
function records(count: number, startMs: number, extra: (i: number) => Record<string, unknown> = () => ({})) {
  return Array.from({ length: count }, (_, i) =>
    extendedRecord({
      ts: new Date(startMs + i * 5 * 60_000).toISOString().replace('.000', ''),
      master_metadata_track_name: `Track ${i % 40}`,
      spotify_track_uri: `spotify:track:${String(i % 40).padStart(22, 'x')}`,
      ...extra(i),
    }),
  );
}

async function exportZip(name: string, files: readonly unknown[][]) {
  return writeZip(
    dir,
    name,
    files.map((content, n) => ({ name: `Spotify Extended Streaming History/Streaming_History_Audio_2022_${n}.json`, content: JSON.stringify(content) })),
  );
}

const rows = (table: string) => store.db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;

/** Nothing left of an import that did not finish: no staging, no pending import, no play rows at all. */
function expectNoTrace(playRows = 0) {
  expect(rows('history_staging')).toBe(0);
  expect(rows('history_pending')).toBe(0);
  expect(rows('history_plays')).toBe(playRows);
}

describe('a sliced commit', () => {
  it('answers readers with the old data between its slices, and with all of the import after the last', async () => {
    await importExport(store.history, await exportZip('before.zip', [records(50, Date.UTC(2021, 0, 1))]), { memberId: MEMBER });
    const before = {
      count: 50,
      top: await store.history.topTracks([MEMBER], ALL_TIME, 'plays', 5),
      latest: await store.history.listPlays([MEMBER], ALL_TIME, 3),
    };
    const zip = await exportZip('big.zip', [records(600, Date.UTC(2022, 0, 1)), records(600, Date.UTC(2023, 0, 1))]);
    const seen: Promise<void>[] = [];
    const result = await importExport(store.history, zip, {
      memberId: MEMBER,
      sliceRows: 100,
      onProgress: (p: ImportProgress) => {
        if (p.state !== 'committing' || p.committed === 0 || p.committed >= p.staged) return;
        seen.push(
          (async () => {
            expect(await store.history.countPlays(MEMBER)).toBe(before.count);
            expect(await store.history.topTracks([MEMBER], ALL_TIME, 'plays', 5)).toEqual(before.top);
            expect(await store.history.listPlays([MEMBER], ALL_TIME, 3)).toEqual(before.latest);
            expect(await store.history.playsAfterId(MEMBER, 0, 5000)).toHaveLength(before.count);
            expect(await store.history.listImports(MEMBER)).toHaveLength(1);
          })(),
        );
      },
    });
    await Promise.all(seen);
    // 1,200 plays in slices of 100: the readers looked in between many times.
    expect(seen.length).toBeGreaterThanOrEqual(10);
    expect(result.counts.imported).toBe(1200);
    expect(await store.history.countPlays(MEMBER)).toBe(1250);
    expect(await store.history.listImports(MEMBER)).toHaveLength(2);
    expectNoTrace(1250);
  });

  it('keeps a play polled during the commit and counts the imported one as its duplicate', async () => {
    const startMs = Date.UTC(2022, 3, 1);
    const zip = await exportZip('polled.zip', [records(400, startMs)]);
    // The play the 300th record describes, seen by the collector a few seconds later than the export says.
    const polled = playInput({
      memberId: MEMBER,
      source: 'recently_played',
      endMs: startMs + 300 * 5 * 60_000 + 4_000,
      track: 'Track 20',
      artist: 'Daft Punk',
      trackUri: `spotify:track:${'20'.padStart(22, 'x')}`,
      durationMs: 215_000,
    });
    let added: Promise<unknown> | null = null;
    const result = await importExport(store.history, zip, {
      memberId: MEMBER,
      sliceRows: 50,
      onProgress: (p) => {
        if (p.state === 'committing' && p.committed > 0 && !added) added = store.history.addPlays([polled]);
      },
    });
    expect(await added).toEqual({ added: 1, duplicate: 0 });
    expect(result.counts).toMatchObject({ imported: 399, duplicate: 1 });
    const around = await store.history.listPlays([MEMBER], { fromMs: polled.endMs - 60_000, toMs: polled.endMs + 60_000 }, 10);
    expect(around.map((p) => p.source)).toEqual(['recently_played']);
    expect(await store.history.countPlays(MEMBER)).toBe(400);
  });

  it('keeps plays polled after the slice holding their twin went in, up to its last slice', async () => {
    const startMs = Date.UTC(2022, 5, 1);
    const zip = await exportZip('twins.zip', [records(400, startMs)]);
    // The collector sees record i's play a few seconds later than the export says.
    const polledPlay = (i: number) =>
      playInput({
        memberId: MEMBER,
        source: 'recently_played',
        endMs: startMs + i * 5 * 60_000 + 4_000,
        track: `Track ${i % 40}`,
        artist: 'Daft Punk',
        trackUri: `spotify:track:${String(i % 40).padStart(22, 'x')}`,
        durationMs: 215_000,
      });
    const added: Promise<unknown>[] = [];
    const result = await importExport(store.history, zip, {
      memberId: MEMBER,
      sliceRows: 50,
      onProgress: (p) => {
        if (p.state !== 'committing') return;
        // After the third slice, a twin of the first; after the last (reported once per source), a twin of the 7th slice.
        const twinOf = { 150: 10, 400: 320 }[p.committed];
        if (twinOf !== undefined && added.length === (p.committed === 150 ? 0 : 1)) added.push(store.history.addPlays([polledPlay(twinOf)]));
      },
    });
    expect(await Promise.all(added)).toEqual([
      { added: 1, duplicate: 0 },
      { added: 1, duplicate: 0 },
    ]);
    expect(result.counts).toMatchObject({ imported: 398, duplicate: 2 });
    for (const i of [10, 320]) {
      const endMs = polledPlay(i).endMs;
      const around = await store.history.listPlays([MEMBER], { fromMs: endMs - 60_000, toMs: endMs + 60_000 }, 10);
      expect(around.map((p) => p.source)).toEqual(['recently_played']);
    }
    expect(await store.history.countPlays(MEMBER)).toBe(400);
    expect(await store.history.listImports(MEMBER)).toEqual([expect.objectContaining({ counts: expect.objectContaining({ imported: 398 }) })]);
  });
});

describe('an import that does not finish leaves nothing anyone can see', () => {
  it('fails on a bad file in the middle of the ZIP without a visible play or a leftover row', async () => {
    await store.history.addPlays([playInput({ memberId: MEMBER, source: 'recently_played', endMs: Date.UTC(2020, 0, 1), track: 'Old', artist: 'Band' })]);
    const good = records(300, Date.UTC(2022, 0, 1));
    const zip = await writeZip(dir, 'bad-middle.zip', [
      { name: 'Streaming_History_Audio_2022_0.json', content: JSON.stringify(good.slice(0, 150)) },
      { name: 'Streaming_History_Audio_2022_1.json', content: '[{"ts": "2022-02-01T10:00:00Z", "ms_played": 215000, ' },
      { name: 'Streaming_History_Audio_2022_2.json', content: JSON.stringify(good.slice(150)) },
    ]);
    const error = await importExport(store.history, zip, { memberId: MEMBER, batchSize: 20, sliceRows: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('invalid_export');
    expect((error as ProtocolError).message).toMatch(/Streaming_History_Audio_2022_1\.json is not a JSON array/);
    expect(await store.history.countPlays(MEMBER)).toBe(1);
    expect(await store.history.listImports(MEMBER)).toEqual([]);
    expectNoTrace(1);
  });

  it('is cancelled between slices by stop(): invisible meanwhile, dropped by the next start, and can be redone', async () => {
    const log = pino({ level: 'silent' });
    const jobsOptions = { store: store.history, log, maxUploadBytes: 5 * 1024 ** 2, minPlayMs: 30_000, sliceRows: 100, uploadDir: path.join(dir, 'uploads') };
    const zip = await exportZip('cancelled.zip', [records(800, Date.UTC(2022, 0, 1))]);
    const jobs = new ImportJobs(jobsOptions);
    await jobs.start();
    const queued = await jobs.receive(MEMBER, (await fs.open(zip)).createReadStream(), { fileName: 'cancelled.zip' });
    const failed = new Promise<ImportJobView>((resolve) =>
      jobs.subscribe(queued.job_id, (view) => {
        if (view.state === 'done' || view.state === 'failed') resolve(view);
      }),
    );
    // `committing` is announced before the first slice: stop once slices are in, none visible.
    const ended = () => ['done', 'failed'].includes(jobs.get(queued.job_id)?.state ?? '');
    await waitUntil(() => ended() || (jobs.get(queued.job_id)?.state === 'committing' && rows('history_plays') > 0), 'the first commit slices');
    expect(ended()).toBe(false);
    expect(await store.history.countPlays(MEMBER)).toBe(0);
    await jobs.stop();
    const end = await failed;
    expect(end.error).toMatchObject({ code: 'unavailable' });
    expect(end.error?.message).toMatch(/nothing was imported/);
    expect(rows('history_plays')).toBeGreaterThan(0);
    expect(rows('history_pending')).toBe(1);
    expect(await store.history.countPlays(MEMBER)).toBe(0);
    expect(await store.history.playsAfterId(MEMBER, 0, 10)).toEqual([]);

    const again = new ImportJobs(jobsOptions);
    await again.start();
    const redo = await again.receive(MEMBER, (await fs.open(zip)).createReadStream(), { fileName: 'cancelled.zip' });
    const done = await new Promise<ImportJobView>((resolve) =>
      again.subscribe(redo.job_id, (view) => {
        if (view.state === 'done' || view.state === 'failed') resolve(view);
      }),
    );
    await again.stop();
    expect(done.state).toBe('done');
    expect(done.counts).toMatchObject({ imported: 800, duplicate: 0 });
    expect(await store.history.countPlays(MEMBER)).toBe(800);
    expectNoTrace(800);
  });
});
