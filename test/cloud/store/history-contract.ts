import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MATCH_WINDOW_MINUTES, playInput, trackKey, type HistoryStore, type ImportRecord, type PlayInput } from '../../../cloud/store/areas/history.js';

/** The history area's contract: SQLite and Redis both run it (history-store.test.ts). `open` gives an empty area. */
export interface HistoryStoreFactory {
  readonly name: string;
  open(): Promise<HistoryStore>;
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2024, 2, 1, 12, 0, 0);
const MIN = 60_000;
const ALL = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };

const polled = (endMs: number, fields: Partial<PlayInput> = {}) =>
  playInput({ memberId: 'm1', source: 'recently_played', endMs, track: 'One More Time', artist: 'Daft Punk', trackUri: 'spotify:track:omt', ...fields });
const extended = (endMs: number, fields: Partial<PlayInput> = {}) => polled(endMs, { source: 'import_extended', msPlayed: 200_000, ...fields });
const account = (endMs: number, fields: Partial<PlayInput> = {}) => polled(endMs, { source: 'import_account', trackUri: null, msPlayed: 100_000, ...fields });

const record = (jobId: string, fields: Partial<ImportRecord> = {}): ImportRecord => ({
  jobId,
  memberId: 'm1',
  fileName: `${jobId}.zip`,
  startedAt: T0,
  counts: { records: 0 },
  ...fields,
});

/** Distinct plays of m1, one every five minutes, each its own track. */
const series = (count: number, source: PlayInput['source'] = 'import_extended', fromMs = T0) =>
  Array.from({ length: count }, (_, i) =>
    playInput({ memberId: 'm1', source, endMs: fromMs + i * 5 * MIN, track: `Track ${i}`, artist: 'Artist', trackUri: `spotify:track:t${i}`, msPlayed: 1_000 }),
  );

export function historyContract(factory: HistoryStoreFactory): void {
  describe(`HistoryStore contract: ${factory.name}`, () => {
    let history: HistoryStore;

    beforeEach(async () => {
      history = await factory.open();
    });
    afterEach(async () => {
      await factory.cleanup();
    });

    it('answers nothing for a member with no plays', async () => {
      expect(await history.listPlays(['m1'], ALL, 10)).toEqual([]);
      expect(await history.listPlays([], ALL, 10)).toEqual([]);
      expect(await history.countPlays('m1')).toBe(0);
      expect(await history.playsAfterId('m1', 0, 10)).toEqual([]);
      expect(await history.topTracks(['m1'], ALL, 'plays', 10)).toEqual([]);
      expect(await history.topArtists(['m1'], ALL, 'time', 10)).toEqual([]);
      expect(await history.playBuckets(['m1'], ALL, 3_600_000)).toEqual([]);
      expect(await history.playedTracks(['m1'], ALL)).toEqual({ uris: [], trackKeys: [] });
      expect(await history.listImports('m1')).toEqual([]);
      expect(await history.getCursor('m1')).toBeNull();
    });

    it('stores a play with every field and its track key', async () => {
      const play = polled(T0, {
        album: 'Discovery',
        msPlayed: 1_234,
        durationMs: 320_000,
        skipped: false,
        shuffle: true,
        offline: null,
        reasonStart: 'clickrow',
        reasonEnd: 'trackdone',
      });
      expect(await history.addPlays([play])).toEqual({ added: 1, duplicate: 0 });
      const [stored] = await history.listPlays(['m1'], ALL, 10);
      expect(stored).toEqual({ ...play, id: expect.any(Number), trackKey: trackKey('Daft Punk', 'One More Time') });
      expect(await history.countPlays('m1')).toBe(1);
    });

    it('matches plays of one source only at equal end times, so repeats of a short track stay apart', async () => {
      expect(await history.addPlays([polled(T0), polled(T0 + 1), polled(T0)])).toEqual({ added: 2, duplicate: 1 });
      expect(await history.addPlays([polled(T0 + 1), polled(T0 + 2)])).toEqual({ added: 1, duplicate: 1 });
      expect(await history.countPlays('m1')).toBe(3);
    });

    it(`matches plays of different sources within ${MATCH_WINDOW_MINUTES} minute of each other; the first stored is kept`, async () => {
      await history.addPlays([polled(T0 + 30_000)]);
      // Minute before, same minute, minute after: all the same play. Two minutes after: another.
      const later = [extended(T0 - MIN + 5_000), account(T0 + 59_000), extended(T0 + MIN + 59_000), extended(T0 + 2 * MIN)];
      expect(await history.addPlays(later)).toEqual({ added: 1, duplicate: 3 });
      const plays = await history.listPlays(['m1'], ALL, 10);
      expect(plays.map((p) => [p.source, p.endMs])).toEqual([
        ['import_extended', T0 + 2 * MIN],
        ['recently_played', T0 + 30_000],
      ]);
    });

    it('keeps the most precise source of one batch, whatever the order in the batch', async () => {
      expect(await history.addPlays([account(T0), extended(T0 + 1_000), polled(T0 + 1_500)])).toEqual({ added: 1, duplicate: 2 });
      expect((await history.listPlays(['m1'], ALL, 10)).map((p) => p.source)).toEqual(['recently_played']);
    });

    it('matches by URI when both have one, else by track key (folded artist and title)', async () => {
      await history.addPlays([polled(T0)]);
      // Same URI under another spelling: the same play. Same spelling folded, no URI: the same play.
      const renamed = extended(T0, { track: 'One More Time (Remastered)' });
      const folded = account(T0, { artist: 'DAFT  PUNK ', track: 'one more time' });
      const other = extended(T0, { track: 'Aerodynamic', trackUri: 'spotify:track:aero' });
      expect(await history.addPlays([renamed, folded, other])).toEqual({ added: 1, duplicate: 2 });
      // Another member's identical play is not a match.
      expect(await history.addPlays([polled(T0, { memberId: 'm2' })])).toEqual({ added: 1, duplicate: 0 });
      expect(await history.countPlays('m1')).toBe(2);
      expect(await history.countPlays('m2')).toBe(1);
    });

    it('lists plays newest first within [from, to), for several members, up to the limit', async () => {
      await history.addPlays([polled(T0, { memberId: 'm1' }), polled(T0 + MIN * 10, { memberId: 'm2' }), polled(T0 + MIN * 20, { memberId: 'm3' })]);
      const range = { fromMs: T0, toMs: T0 + MIN * 20 };
      expect((await history.listPlays(['m1', 'm2', 'm3'], range, 10)).map((p) => p.memberId)).toEqual(['m2', 'm1']);
      expect((await history.listPlays(['m1', 'm2', 'm1'], ALL, 1)).map((p) => p.memberId)).toEqual(['m2']);
      expect(await history.listPlays(['m1', 'm2'], ALL, 0)).toEqual([]);
      // Equal end times: the later id first.
      await history.addPlays([polled(T0, { memberId: 'm2' })]);
      const [a, b] = await history.listPlays(['m1', 'm2'], { fromMs: T0, toMs: T0 + 1 }, 10);
      expect(a!.id).toBeGreaterThan(b!.id);
    });

    it('pages one member by strictly increasing id', async () => {
      await history.addPlays(series(7, 'recently_played'));
      await history.addPlays([polled(T0, { memberId: 'm2' })]);
      await history.addPlays(series(3, 'recently_played', T0 + 100 * MIN));
      const pages: number[][] = [];
      for (let after = 0; ; ) {
        const page = await history.playsAfterId('m1', after, 4);
        if (page.length === 0) break;
        pages.push(page.map((p) => p.id));
        after = page[page.length - 1]!.id;
      }
      expect(pages.map((p) => p.length)).toEqual([4, 4, 2]);
      const ids = pages.flat();
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
      expect(new Set(ids).size).toBe(10);
      expect(await history.playsAfterId('m1', ids[9]!, 4)).toEqual([]);
    });

    it('ranks top tracks and artists by plays or by time (msPlayed, else durationMs, else 0)', async () => {
      const daft = (endMs: number, track: string, fields: Partial<PlayInput> = {}) =>
        polled(endMs, { track, trackUri: `spotify:track:${track}`, msPlayed: 1_000, ...fields });
      await history.addPlays([
        daft(T0, 'a'),
        daft(T0 + 10 * MIN, 'a'),
        daft(T0 + 20 * MIN, 'b', { msPlayed: null, durationMs: 5_000 }),
        daft(T0 + 30 * MIN, 'c', { artist: 'Air', msPlayed: null }),
        daft(T0 + 40 * MIN, 'c', { artist: 'AIR', memberId: 'm2', msPlayed: 500 }),
      ]);
      const members = ['m1', 'm2'];
      // Equal counts: in track key order ('air…' before 'daft punk…'); the group's least spelling (binary: 'AIR' < 'Air').
      expect(await history.topTracks(members, ALL, 'plays', 10)).toEqual([
        { track: 'c', artist: 'AIR', trackUri: 'spotify:track:c', plays: 2, msPlayed: 500 },
        { track: 'a', artist: 'Daft Punk', trackUri: 'spotify:track:a', plays: 2, msPlayed: 2_000 },
        { track: 'b', artist: 'Daft Punk', trackUri: 'spotify:track:b', plays: 1, msPlayed: 5_000 },
      ]);
      expect((await history.topTracks(members, ALL, 'time', 2)).map((r) => r.track)).toEqual(['b', 'a']);
      expect(await history.topArtists(members, ALL, 'plays', 10)).toEqual([
        { artist: 'Daft Punk', plays: 3, msPlayed: 7_000 },
        { artist: 'AIR', plays: 2, msPlayed: 500 },
      ]);
      expect(await history.topArtists(['m1'], { fromMs: T0 + 15 * MIN, toMs: ALL.toMs }, 'time', 1)).toEqual([
        { artist: 'Daft Punk', plays: 1, msPlayed: 5_000 },
      ]);
    });

    it('groups plays into buckets and names the tracks played', async () => {
      const hour = 3_600_000;
      await history.addPlays([
        polled(T0, { msPlayed: 10 }),
        polled(T0, { durationMs: 20, memberId: 'm2' }),
        polled(T0 + 15 * MIN, { durationMs: 20 }),
        extended(T0 + 2 * hour, { track: 'Other', trackUri: null, msPlayed: 5 }),
      ]);
      // Plays ending within one bucket count in it, under the bucket's start.
      await history.addPlays([polled(T0 + 7 * MIN, { durationMs: 1, memberId: 'm2' }), polled(T0 + 59 * MIN, { durationMs: 2, memberId: 'm2' })]);
      expect(await history.playBuckets(['m2'], ALL, hour)).toEqual([{ startMs: T0, plays: 3, msPlayed: 23 }]);
      expect(await history.playBuckets(['m1', 'm2'], { fromMs: T0, toMs: T0 + 1 }, hour)).toEqual([{ startMs: T0, plays: 2, msPlayed: 30 }]);
      expect(await history.playBuckets(['m1'], { fromMs: T0 + 1, toMs: T0 + 3 * hour }, 15 * MIN)).toEqual([
        { startMs: T0 + 15 * MIN, plays: 1, msPlayed: 20 },
        { startMs: T0 + 2 * hour, plays: 1, msPlayed: 5 },
      ]);
      const played = await history.playedTracks(['m1'], ALL);
      expect(played.uris).toEqual(['spotify:track:omt']);
      expect([...played.trackKeys].sort()).toEqual([trackKey('Daft Punk', 'One More Time'), trackKey('Daft Punk', 'Other')].sort());
      expect(await history.playedTracks(['m1'], { fromMs: T0 + 1, toMs: T0 + 2 * hour })).toEqual({
        uris: ['spotify:track:omt'],
        trackKeys: [trackKey('Daft Punk', 'One More Time')],
      });
    });

    it('keeps a cursor per member', async () => {
      await history.setCursor('m1', 5);
      await history.setCursor('m1', T0);
      await history.setCursor('m2', 7);
      expect(await history.getCursor('m1')).toBe(T0);
      expect(await history.getCursor('m2')).toBe(7);
      expect(await history.getCursor('m3')).toBeNull();
    });

    it('stages an import once per play, and commits it with its record and counts', async () => {
      const plays = series(5);
      expect(await history.stageImport('job-1', plays)).toBe(5);
      expect(await history.stageImport('job-1', [...plays.slice(0, 2), account(T0 + 60 * MIN)])).toBe(1);
      expect(await history.countPlays('m1')).toBe(0);
      await history.addPlays([polled(T0 + 5 * MIN + 3_000, { track: 'Track 1', trackUri: 'spotify:track:t1' })]);
      const result = await history.commitImport(record('job-1', { counts: { records: 9, duplicate: 2 } }));
      expect(result).toEqual({ imported: 5, duplicate: 1 });
      expect(await history.countPlays('m1')).toBe(6);
      expect(await history.listImports('m1')).toEqual([
        { jobId: 'job-1', memberId: 'm1', fileName: 'job-1.zip', startedAt: T0, counts: { records: 9, duplicate: 3, imported: 5 } },
      ]);
      // Staging is used up: a second job with the same plays finds them all stored.
      expect(await history.stageImport('job-2', plays)).toBe(5);
      expect(await history.commitImport(record('job-2', { startedAt: T0 - 1 }))).toEqual({ imported: 0, duplicate: 5 });
      expect((await history.listImports('m1')).map((r) => r.jobId)).toEqual(['job-2', 'job-1']);
      expect(await history.listImports('m2')).toEqual([]);
      expect(await history.discardAllStaging()).toBe(0);
    });

    it('keeps a sliced commit invisible until its last slice, reporting each slice', async () => {
      await history.addPlays([polled(T0 - 60 * MIN)]);
      await history.stageImport('job-1', [...series(10), account(T0 + 500 * MIN)]);
      const seen: { committed: number; count: number; listed: number; after: number; top: number }[] = [];
      const checks: Promise<void>[] = [];
      const result = await history.commitImport(record('job-1'), {
        sliceRows: 4,
        onSlice: (committed) => {
          // All read at once, while the commit waits for its next slice.
          checks.push(
            Promise.all([
              history.countPlays('m1'),
              history.listPlays(['m1'], ALL, 100),
              history.playsAfterId('m1', 0, 100),
              history.topTracks(['m1'], ALL, 'plays', 100),
            ]).then(([count, listed, after, top]) => {
              seen.push({ committed, count, listed: listed.length, after: after.length, top: top.length });
            }),
          );
        },
      });
      await Promise.all(checks);
      expect(result).toEqual({ imported: 11, duplicate: 0 });
      // Polled: none (one empty slice); extended: 4, 8, 10 (the last is short); account: 11; nothing visible meanwhile.
      expect(seen.map((s) => s.committed)).toEqual([0, 4, 8, 10, 11]);
      for (const s of seen) expect([s.count, s.listed, s.after, s.top]).toEqual([1, 1, 1, 1]);
      expect(await history.countPlays('m1')).toBe(12);
      expect(await history.listPlays(['m1'], ALL, 100)).toHaveLength(12);
      expect(await history.playsAfterId('m1', 0, 100)).toHaveLength(12);
    });

    it('keeps a play polled during a sliced commit and counts the imported twin a duplicate', async () => {
      await history.stageImport('job-1', series(12));
      const twin = (i: number, driftMs: number) => polled(T0 + i * 5 * MIN + driftMs, { track: `Track ${i}`, trackUri: `spotify:track:t${i}` });
      const added: Promise<{ added: number; duplicate: number }>[] = [];
      let slices = 0;
      const result = await history.commitImport(record('job-1'), {
        sliceRows: 4,
        onSlice: (committed) => {
          slices += 1;
          // Twins of a play in an earlier slice, of one in a later slice, and after the last slice of one in it.
          if (committed === 4) added.push(history.addPlays([twin(1, 4_000)]));
          if (committed === 8) added.push(history.addPlays([twin(10, -4_000)]));
          if (slices === 6) added.push(history.addPlays([twin(11, 2_000)]));
        },
      });
      // Slices: polled (empty), extended 4, 8, 12 and an empty one, account (empty).
      expect(slices).toBe(6);
      expect(await Promise.all(added)).toEqual([
        { added: 1, duplicate: 0 },
        { added: 1, duplicate: 0 },
        { added: 1, duplicate: 0 },
      ]);
      expect(result).toEqual({ imported: 9, duplicate: 3 });
      expect(await history.countPlays('m1')).toBe(12);
      const sources = (await history.listPlays(['m1'], ALL, 100)).map((p) => p.source);
      expect(sources.filter((s) => s === 'recently_played')).toHaveLength(3);
      expect((await history.listImports('m1'))[0]!.counts).toMatchObject({ imported: 9, duplicate: 3 });
    });

    it('stops a commit between slices when its signal aborts; nothing of it shows, and discard clears it', async () => {
      await history.stageImport('job-1', series(10));
      const abort = new AbortController();
      const commit = history.commitImport(record('job-1'), {
        sliceRows: 3,
        signal: abort.signal,
        onSlice: (n) => n >= 6 && abort.abort(new Error('stopped')),
      });
      await expect(commit).rejects.toThrow('stopped');
      expect(await history.countPlays('m1')).toBe(0);
      expect(await history.listPlays(['m1'], ALL, 100)).toEqual([]);
      expect(await history.listImports('m1')).toEqual([]);
      // Invisible plays are no match for new ones.
      expect(await history.addPlays([polled(T0 + 3_000, { track: 'Track 0', trackUri: 'spotify:track:t0' })])).toEqual({ added: 1, duplicate: 0 });
      await history.discardImport('job-1');
      expect(await history.discardAllStaging()).toBe(0);
      // Redone from scratch, the job commits whole.
      expect(await history.stageImport('job-1', series(10))).toBe(10);
      expect(await history.commitImport(record('job-1'), { sliceRows: 3 })).toEqual({ imported: 9, duplicate: 1 });
      expect(await history.countPlays('m1')).toBe(10);
    });

    it('refuses to start a commit whose signal already aborted', async () => {
      await history.stageImport('job-1', series(2));
      const abort = new AbortController();
      abort.abort(new Error('gone'));
      await expect(history.commitImport(record('job-1'), { signal: abort.signal })).rejects.toThrow('gone');
      expect(await history.countPlays('m1')).toBe(0);
    });

    it('refuses a job already recorded, or one whose unfinished commit was not discarded', async () => {
      await history.stageImport('job-1', series(2));
      await history.commitImport(record('job-1'));
      await expect(history.commitImport(record('job-1'))).rejects.toThrow();
      expect(await history.listImports('m1')).toHaveLength(1);
      await history.stageImport('job-2', series(4, 'import_account'));
      const abort = new AbortController();
      await expect(history.commitImport(record('job-2'), { sliceRows: 2, signal: abort.signal, onSlice: () => abort.abort() })).rejects.toThrow();
      await expect(history.commitImport(record('job-2'))).rejects.toThrow();
      expect(await history.countPlays('m1')).toBe(2);
      await history.discardImport('job-2');
      await history.stageImport('job-2', series(4, 'import_account'));
      expect(await history.commitImport(record('job-2'))).toEqual({ imported: 2, duplicate: 2 });
    });

    it('discards one job, and everything that unfinished imports left', async () => {
      await history.stageImport('job-1', series(4));
      await history.stageImport('job-2', series(3, 'import_account'));
      await history.discardImport('job-1');
      await history.discardImport('job-none');
      expect(await history.commitImport(record('job-1'))).toEqual({ imported: 0, duplicate: 0 });
      await history.stageImport('job-3', series(5, 'import_extended', T0 + 1_000 * MIN));
      const abort = new AbortController();
      await expect(history.commitImport(record('job-3'), { sliceRows: 2, signal: abort.signal, onSlice: () => abort.abort() })).rejects.toThrow();
      // job-2's three staged plays, job-3's three left staged and two invisible plays.
      expect(await history.discardAllStaging()).toBe(3 + 3 + 2);
      expect(await history.discardAllStaging()).toBe(0);
      expect(await history.countPlays('m1')).toBe(0);
      expect(await history.playsAfterId('m1', 0, 10)).toEqual([]);
    });
  });
}
