import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProtocolError } from '../../protocol/index.js';
import { importExport } from '../../cloud/history/importer.js';
import { playInput } from '../../cloud/store/areas/history.js';
import { openSqliteStore } from '../../cloud/store/sqlite-store.js';
import { accountRecord, extendedRecord, writeZip } from '../helpers/spotify-export-zips.js';

const MEMBER = 'dev-ana';
let dir: string;
let store: ReturnType<typeof openSqliteStore>;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leeloo-history-'));
  store = openSqliteStore(path.join(dir, 'leeloo.db'));
});

afterEach(async () => {
  await store.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const json = (records: unknown[]) => JSON.stringify(records, null, 2);
const stagingRows = () => store.db.prepare('SELECT COUNT(*) FROM history_staging').pluck().get() as number;

async function expectImportError(file: string, code: string, options: Partial<Parameters<typeof importExport>[2]> = {}) {
  const error = await importExport(store.history, file, { memberId: MEMBER, ...options }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ProtocolError);
  expect((error as ProtocolError).code).toBe(code);
  expect((error as ProtocolError).message.length).toBeGreaterThan(20);
  expect(await store.history.countPlays(MEMBER)).toBe(0);
  expect(stagingRows()).toBe(0);
  return error as ProtocolError;
}

describe('extended streaming history', () => {
  it('imports plays with their fields and drops personal fields', async () => {
    const file = await writeZip(dir, 'my_spotify_data.zip', [
      {
        name: 'Spotify Extended Streaming History/Streaming_History_Audio_2023_0.json',
        content: json([
          extendedRecord(),
          extendedRecord({
            ts: '2023-05-04T18:26:02Z',
            master_metadata_track_name: 'Señorita',
            master_metadata_album_artist_name: 'Justin Timberlake',
            spotify_track_uri: 'spotify:track:0G2VO7HpP5yfGdxxTA7Ebj',
            skipped: true,
            shuffle: true,
          }),
        ]),
      },
      { name: 'Spotify Extended Streaming History/ReadMeFirst_ExtendedStreamingHistory.pdf', content: '%PDF-1.4' },
    ]);
    const result = await importExport(store.history, file, { memberId: MEMBER });
    expect(result.counts).toEqual({ imported: 2, duplicate: 0, too_short: 0, incognito: 0, no_track: 0, invalid: 0 });
    const plays = await store.history.listPlays([MEMBER], { fromMs: 0, toMs: Date.now() }, 10);
    expect(plays.map((p) => p.track)).toEqual(['Señorita', 'Around the World']);
    expect(plays[1]).toMatchObject({
      source: 'import_extended',
      endMs: Date.UTC(2023, 4, 4, 18, 22, 41),
      trackUri: 'spotify:track:1pKYYY0dkg23sQQXi0Q5zN',
      artist: 'Daft Punk',
      album: 'Homework',
      msPlayed: 215_000,
      skipped: false,
      reasonEnd: 'trackdone',
    });
    expect(plays[0]).toMatchObject({ skipped: true, shuffle: true });
    const raw = JSON.stringify(store.db.prepare('SELECT * FROM history_plays').all());
    expect(raw).not.toMatch(/203\.0\.113\.7|someuser|Pixel|"FR"/);
    expect(await store.history.listImports(MEMBER)).toHaveLength(1);
  });

  it('reads old endsong_N.json files too', async () => {
    const file = await writeZip(dir, 'old.zip', [{ name: 'MyData/endsong_0.json', content: json([extendedRecord()]) }]);
    expect((await importExport(store.history, file, { memberId: MEMBER })).counts.imported).toBe(1);
  });

  it('counts every skip by its reason', async () => {
    const file = await writeZip(dir, 'skips.zip', [
      {
        name: 'Streaming_History_Audio_2022.json',
        content: json([
          extendedRecord({ ts: '2022-01-01T10:00:00Z' }),
          extendedRecord({ ts: '2022-01-01T10:05:00Z', ms_played: 29_999 }),
          extendedRecord({ ts: '2022-01-01T10:10:00Z', incognito_mode: true }),
          extendedRecord({
            ts: '2022-01-01T10:15:00Z',
            master_metadata_track_name: null,
            master_metadata_album_artist_name: null,
            spotify_track_uri: null,
            episode_name: 'Ep 1',
            spotify_episode_uri: 'spotify:episode:abc',
          }),
          extendedRecord({ ts: 'yesterday' }),
          extendedRecord({ ms_played: -5 }),
          'not an object',
          extendedRecord({ ts: '2022-01-01T10:20:00Z' }),
        ]),
      },
    ]);
    const result = await importExport(store.history, file, { memberId: MEMBER });
    expect(result.counts).toEqual({ imported: 2, duplicate: 0, too_short: 1, incognito: 1, no_track: 1, invalid: 3 });
    expect(await store.history.countPlays(MEMBER)).toBe(2);
  });

  it('honours a configured minimum play length', async () => {
    const file = await writeZip(dir, 'min.zip', [
      {
        name: 'Streaming_History_Audio_2022.json',
        content: json([extendedRecord({ ts: '2022-01-01T10:00:00Z', ms_played: 50_000 }), extendedRecord({ ts: '2022-01-01T10:05:00Z', ms_played: 70_000 })]),
      },
    ]);
    const result = await importExport(store.history, file, { memberId: MEMBER, minPlayMs: 60_000 });
    expect(result.counts).toMatchObject({ imported: 1, too_short: 1 });
  });

  it('is idempotent: a second import of the same ZIP adds nothing', async () => {
    const records = Array.from({ length: 25 }, (_, i) => extendedRecord({ ts: new Date(Date.UTC(2021, 6, 1, 12, i * 5)).toISOString().replace('.000', '') }));
    const file = await writeZip(dir, 'again.zip', [{ name: 'Streaming_History_Audio_2021.json', content: json(records) }]);
    const first = await importExport(store.history, file, { memberId: MEMBER, batchSize: 7 });
    const second = await importExport(store.history, file, { memberId: MEMBER, batchSize: 7 });
    expect(first.counts.imported).toBe(25);
    expect(second.counts).toMatchObject({ imported: 0, duplicate: 25 });
    expect(await store.history.countPlays(MEMBER)).toBe(25);
  });

  it('refuses an export with more records than one import may hold, in a sentence, importing nothing', async () => {
    const records = Array.from({ length: 30 }, (_, i) => extendedRecord({ ts: new Date(Date.UTC(2021, 6, 2, 12, i * 5)).toISOString().replace('.000', '') }));
    const file = await writeZip(dir, 'big.zip', [
      { name: 'Streaming_History_Audio_2021_0.json', content: json(records.slice(0, 15)) },
      { name: 'Streaming_History_Audio_2021_1.json', content: json(records.slice(15)) },
    ]);
    const error = await expectImportError(file, 'too_large', { maxRecords: 20, batchSize: 7 });
    expect(error.message).toMatch(/more than 20 plays.*nothing was imported.*HISTORY_MAX_IMPORT_RECORDS/);
    expect((await importExport(store.history, file, { memberId: MEMBER, maxRecords: 30 })).counts.imported).toBe(30);
  });

  it('keeps repeats of a short track as separate plays', async () => {
    const file = await writeZip(dir, 'repeat.zip', [
      {
        name: 'Streaming_History_Audio_2021.json',
        content: json([extendedRecord({ ts: '2021-01-01T10:00:10Z', ms_played: 40_000 }), extendedRecord({ ts: '2021-01-01T10:00:50Z', ms_played: 40_000 })]),
      },
    ]);
    expect((await importExport(store.history, file, { memberId: MEMBER })).counts.imported).toBe(2);
  });
});

describe('account data', () => {
  it('imports StreamingHistory*.json and StreamingHistory_music_*.json', async () => {
    const file = await writeZip(dir, 'account.zip', [
      {
        name: 'Spotify Account Data/StreamingHistory0.json',
        content: json([accountRecord(), accountRecord({ endTime: '2023-05-04 18:40', msPlayed: 1_000 })]),
      },
      {
        name: 'Spotify Account Data/StreamingHistory_music_1.json',
        content: json([accountRecord({ endTime: '2023-06-01 08:00', trackName: 'Digital Love' })]),
      },
      {
        name: 'Spotify Account Data/StreamingHistory_podcast_0.json',
        content: json([{ endTime: '2023-06-01 09:00', podcastName: 'x', episodeName: 'y', msPlayed: 900_000 }]),
      },
      { name: 'Spotify Account Data/Userdata.json', content: '{"username":"someuser"}' },
    ]);
    const result = await importExport(store.history, file, { memberId: MEMBER });
    expect(result.counts).toMatchObject({ imported: 2, too_short: 1 });
    const plays = await store.history.listPlays([MEMBER], { fromMs: 0, toMs: Date.now() }, 10);
    expect(plays[1]).toMatchObject({ source: 'import_account', endMs: Date.UTC(2023, 4, 4, 18, 22), trackUri: null, msPlayed: 215_000 });
  });

  it('refuses impossible dates as invalid records', async () => {
    const file = await writeZip(dir, 'dates.zip', [
      {
        name: 'StreamingHistory0.json',
        content: json([
          accountRecord({ endTime: '2023-02-30 10:00' }),
          accountRecord({ endTime: '2023-05-04T18:22' }),
          accountRecord({ endTime: '2023-05-04 18:22' }),
        ]),
      },
    ]);
    expect((await importExport(store.history, file, { memberId: MEMBER })).counts).toMatchObject({ imported: 1, invalid: 2 });
  });
});

describe('one play seen by several sources', () => {
  const polled = (endMs: number, overrides = {}) =>
    playInput({
      memberId: MEMBER,
      source: 'recently_played',
      endMs,
      track: 'Around the World',
      artist: 'Daft Punk',
      trackUri: 'spotify:track:1pKYYY0dkg23sQQXi0Q5zN',
      durationMs: 429_000,
      ...overrides,
    });

  it('matches a polled play with its extended and account-data records', async () => {
    await store.history.addPlays([polled(Date.UTC(2023, 4, 4, 18, 22, 41, 512))]);
    const extended = await writeZip(dir, 'ext.zip', [{ name: 'Streaming_History_Audio_2023.json', content: json([extendedRecord()]) }]);
    const account = await writeZip(dir, 'acc.zip', [{ name: 'StreamingHistory0.json', content: json([accountRecord({ artistName: 'DAFT  PUNK ' })]) }]);
    expect((await importExport(store.history, extended, { memberId: MEMBER })).counts).toMatchObject({ imported: 0, duplicate: 1 });
    expect((await importExport(store.history, account, { memberId: MEMBER })).counts).toMatchObject({ imported: 0, duplicate: 1 });
    const [play] = await store.history.listPlays([MEMBER], { fromMs: 0, toMs: Date.now() }, 10);
    expect(play?.source).toBe('recently_played');
  });

  it('matches across a minute boundary but not beyond one minute', async () => {
    // The account export says 18:22; the play really ended 18:23:05 (rounded or truncated minute).
    await store.history.addPlays([polled(Date.UTC(2023, 4, 4, 18, 23, 5))]);
    await store.history.addPlays([polled(Date.UTC(2023, 4, 4, 18, 30, 0))]);
    await store.history.addPlays([polled(Date.UTC(2023, 4, 4, 18, 40, 40))]);
    const account = await writeZip(dir, 'acc.zip', [
      {
        name: 'StreamingHistory0.json',
        content: json([
          accountRecord({ endTime: '2023-05-04 18:22' }),
          accountRecord({ endTime: '2023-05-04 18:28' }),
          accountRecord({ endTime: '2023-05-04 18:22', trackName: 'Da Funk' }),
          accountRecord({ endTime: '2023-05-04 18:41' }),
        ]),
      },
    ]);
    const result = await importExport(store.history, account, { memberId: MEMBER });
    expect(result.counts).toMatchObject({ imported: 2, duplicate: 2 });
    expect(await store.history.countPlays(MEMBER)).toBe(5);
  });

  it('dedupes recently-played by member, played_at and track', async () => {
    const at = Date.UTC(2024, 0, 2, 9, 0, 0, 123);
    expect(await store.history.addPlays([polled(at), polled(at + 1)])).toEqual({ added: 2, duplicate: 0 });
    expect(await store.history.addPlays([polled(at), polled(at, { memberId: 'dev-bo' })])).toEqual({ added: 1, duplicate: 1 });
  });

  it('matches an extended play to an account-data play inside one ZIP', async () => {
    const file = await writeZip(dir, 'both.zip', [
      { name: 'Streaming_History_Audio_2023.json', content: json([extendedRecord()]) },
      { name: 'StreamingHistory0.json', content: json([accountRecord()]) },
    ]);
    expect((await importExport(store.history, file, { memberId: MEMBER })).counts).toMatchObject({ imported: 1, duplicate: 1 });
  });
});

describe('the report counts plays, not file records', () => {
  it('counts a skipped play held by both the old and the new file naming once', async () => {
    const short = extendedRecord({ ts: '2023-05-04T18:30:00Z', ms_played: 4_000 });
    const podcast = extendedRecord({ ts: '2023-05-04T19:00:00Z', master_metadata_track_name: null, master_metadata_album_artist_name: null });
    const private_ = extendedRecord({ ts: '2023-05-04T20:00:00Z', incognito_mode: true });
    const play = extendedRecord();
    const file = await writeZip(dir, 'both-namings.zip', [
      { name: 'MyData/endsong_0.json', content: json([play, short, podcast, private_]) },
      { name: 'Spotify Extended Streaming History/Streaming_History_Audio_2023.json', content: json([play, short, podcast, private_]) },
    ]);
    const result = await importExport(store.history, file, { memberId: MEMBER });
    expect(result.counts).toEqual({ imported: 1, duplicate: 1, too_short: 1, incognito: 1, no_track: 1, invalid: 0 });
  });

  it('still counts two short plays of one file naming as two', async () => {
    const file = await writeZip(dir, 'two-short.zip', [
      {
        name: 'Streaming_History_Audio_2023.json',
        content: json([extendedRecord({ ts: '2023-05-04T18:30:00Z', ms_played: 4_000 }), extendedRecord({ ts: '2023-05-04T18:31:00Z', ms_played: 4_000 })]),
      },
    ]);
    expect((await importExport(store.history, file, { memberId: MEMBER })).counts).toMatchObject({ too_short: 2 });
  });

  it('reports account-data rows matched against the extended history as duplicates, not too short', async () => {
    const file = await writeZip(dir, 'full-export.zip', [
      // Account data listed first in the ZIP: the extended history is read first all the same.
      {
        name: 'Spotify Account Data/StreamingHistory_music_0.json',
        content: json([
          accountRecord(),
          accountRecord({ endTime: '2023-05-04 18:30', trackName: 'Da Funk', msPlayed: 4_000 }),
          accountRecord({ endTime: '2023-06-01 08:00', trackName: 'Digital Love', msPlayed: 2_000 }),
        ]),
      },
      {
        name: 'Spotify Extended Streaming History/Streaming_History_Audio_2023.json',
        content: json([extendedRecord(), extendedRecord({ ts: '2023-05-04T18:31:02Z', master_metadata_track_name: 'Da Funk', ms_played: 4_000 })]),
      },
    ]);
    const result = await importExport(store.history, file, { memberId: MEMBER });
    // Da Funk: one short play (the extended record), its account row a duplicate; Digital Love: only in account data, too short.
    expect(result.counts).toEqual({ imported: 1, duplicate: 2, too_short: 2, incognito: 0, no_track: 0, invalid: 0 });
    expect(await store.history.countPlays(MEMBER)).toBe(1);
  });
});

describe('bad ZIPs import nothing', () => {
  it('refuses a file that is not a ZIP', async () => {
    const file = path.join(dir, 'notes.zip');
    await fs.writeFile(file, 'these are not the droids you are looking for');
    await expectImportError(file, 'invalid_zip');
  });

  it('refuses a truncated ZIP', async () => {
    const good = await writeZip(dir, 'good.zip', [{ name: 'Streaming_History_Audio_2023.json', content: json([extendedRecord()]) }]);
    const bytes = await fs.readFile(good);
    const file = path.join(dir, 'cut.zip');
    await fs.writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expectImportError(file, 'invalid_zip');
  });

  it('refuses damaged compressed data after staging earlier files', async () => {
    const first = json(Array.from({ length: 50 }, (_, i) => extendedRecord({ ts: `2023-05-04T1${i % 10}:${10 + i}:00Z` })));
    const good = await writeZip(dir, 'good.zip', [
      { name: 'Streaming_History_Audio_2023_0.json', content: first },
      { name: 'Streaming_History_Audio_2023_1.json', content: json(Array.from({ length: 400 }, (_, i) => extendedRecord({ ms_played: 40_000 + i }))) },
    ]);
    const bytes = await fs.readFile(good);
    const secondHeader = bytes.indexOf(Buffer.from('Streaming_History_Audio_2023_1.json')) + 60;
    for (let i = secondHeader; i < secondHeader + 200; i++) bytes[i] = (bytes[i] ?? 0) ^ 0x5a;
    const file = path.join(dir, 'damaged.zip');
    await fs.writeFile(file, bytes);
    const error = await expectImportError(file, 'invalid_zip', { batchSize: 10 });
    expect(error.message).toMatch(/damaged|truncated/);
  });

  it('refuses a zip bomb by compression ratio', async () => {
    const file = await writeZip(dir, 'bomb.zip', [{ name: 'Streaming_History_Audio_2023.json', content: `[${' '.repeat(20 * 1024 * 1024)}]` }]);
    const error = await expectImportError(file, 'zip_bomb');
    expect(error.message).toMatch(/compressed \d+:1/);
  });

  it('refuses too many entries and too many bytes', async () => {
    const many = await writeZip(
      dir,
      'many.zip',
      Array.from({ length: 12 }, (_, i) => ({ name: `f${i}.txt`, content: 'x' })),
    );
    await expectImportError(many, 'zip_bomb', { limits: { maxEntries: 10, maxTotalBytes: 1e9, maxEntryBytes: 1e9, maxRatio: 100, ratioFloorBytes: 1e6 } });
    const big = await writeZip(dir, 'big.zip', [
      { name: 'Streaming_History_Audio_2023_0.json', content: json([extendedRecord()]) },
      { name: 'Streaming_History_Audio_2023_1.json', content: json([extendedRecord()]) },
    ]);
    const oneFile = Buffer.byteLength(json([extendedRecord()]));
    await expectImportError(big, 'zip_bomb', {
      limits: { maxEntries: 10, maxTotalBytes: oneFile + 10, maxEntryBytes: 1e9, maxRatio: 100, ratioFloorBytes: 1e6 },
    });
  });

  it('refuses path traversal names', async () => {
    const good = await writeZip(dir, 'good.zip', [{ name: 'xx/Streaming_History_Audio_2023.json', content: json([extendedRecord()]) }]);
    const bytes = await fs.readFile(good);
    // yazl will not write such a name, so the bytes are patched (in both local and central headers).
    const patched = Buffer.from(bytes.toString('latin1').replaceAll('xx/Streaming', '../Streaming'), 'latin1');
    const file = path.join(dir, 'evil.zip');
    await fs.writeFile(file, patched);
    await expectImportError(file, 'unsafe_zip_entry');
  });

  it('refuses history files of the wrong JSON shape, even after valid files', async () => {
    const notArray = await writeZip(dir, 'object.zip', [
      {
        name: 'Streaming_History_Audio_2023_0.json',
        content: json(Array.from({ length: 30 }, (_, i) => extendedRecord({ ts: `2023-05-04T10:${10 + i}:00Z` }))),
      },
      { name: 'Streaming_History_Audio_2023_1.json', content: '{"plays": []}' },
    ]);
    await expectImportError(notArray, 'invalid_export', { batchSize: 5 });
    const broken = await writeZip(dir, 'broken.zip', [{ name: 'StreamingHistory0.json', content: '[{"endTime": "2023-05-04 18:22", ' }]);
    await expectImportError(broken, 'invalid_export');
    const wrongFormat = await writeZip(dir, 'wrong.zip', [{ name: 'StreamingHistory0.json', content: json([extendedRecord(), extendedRecord()]) }]);
    const error = await expectImportError(wrongFormat, 'invalid_export');
    expect(error.message).toMatch(/StreamingHistory0\.json holds 2 records, none in the account data format/);
  });

  it('refuses a ZIP with only unknown files', async () => {
    const file = await writeZip(dir, 'other.zip', [
      { name: 'Spotify Account Data/Userdata.json', content: '{}' },
      { name: 'Spotify Account Data/Playlist1.json', content: '{"playlists": []}' },
    ]);
    await expectImportError(file, 'no_history_files');
  });
});
