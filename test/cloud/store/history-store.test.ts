import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playInput, type HistoryStore, type Play, type PlayInput, type PlaySource } from '../../../cloud/store/areas/history.js';
import { RedisHistoryStore } from '../../../cloud/store/redis/redis-history.js';
import { openSqliteStore } from '../../../cloud/store/sqlite-store.js';
import { testRedis, type TestRedis } from '../../helpers/redis.js';
import { onBothStores } from './both-stores.js';
import { historyContract } from './history-contract.js';

// Every key the Redis area writes is under its own name.
onBothStores(historyContract, { sqlite: (store) => store.history, redis: (redis, prefix) => new RedisHistoryStore(redis, prefix), keys: ['history:'] });

/** mulberry32: the same pseudo-random plays on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MEMBERS = ['ana', 'ben', 'cho'];
const START = Date.UTC(2023, 0, 1);
const ARTISTS = ['Daft Punk', 'DAFT PUNK', 'Beyoncé', 'beyonce ', 'Air', 'Émilie Simon', 'Röyksopp', 'Justice'];

/**
 * Each member's listening, as the three sources tell it: polled plays (ms), an extended export
 * (seconds, some of the polled ones again a few seconds off) and an account export (minutes, no URI).
 */
function seed(next: () => number) {
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const polled: PlayInput[] = [];
  const extended = new Map<string, PlayInput[]>();
  const account = new Map<string, PlayInput[]>();
  for (const memberId of MEMBERS) {
    extended.set(memberId, []);
    account.set(memberId, []);
    let endMs = START + Math.floor(next() * 3_600_000);
    for (let i = 0; i < 1_000; i++) {
      endMs += 60_000 + Math.floor(next() * 8 * 60_000);
      const n = Math.floor(next() * 40);
      const play = playInput({
        memberId,
        source: 'recently_played',
        endMs,
        track: pick([`Song ${n}`, `SONG ${n}`]),
        artist: ARTISTS[n % ARTISTS.length]!,
        trackUri: next() < 0.8 ? `spotify:track:${n}` : null,
        album: next() < 0.5 ? `Album ${n % 7}` : null,
        durationMs: next() < 0.7 ? 120_000 + n * 1_000 : null,
        skipped: next() < 0.2,
      });
      const heard = Math.floor(next() * 300_000);
      const roll = next();
      if (roll < 0.4) polled.push(play);
      if (roll > 0.3) {
        const drift = Math.floor((next() - 0.5) * 140_000);
        const source: PlaySource = next() < 0.6 ? 'import_extended' : 'import_account';
        const ms = source === 'import_extended' ? Math.floor((endMs + drift) / 1_000) * 1_000 : Math.floor((endMs + drift) / 60_000) * 60_000;
        const copy = playInput({ ...play, source, endMs: ms, msPlayed: heard, trackUri: source === 'import_account' ? null : play.trackUri });
        (source === 'import_extended' ? extended : account).get(memberId)!.push(copy);
        if (next() < 0.05) (source === 'import_extended' ? extended : account).get(memberId)!.push(copy);
      }
    }
  }
  return { polled, extended, account };
}

async function load(history: HistoryStore, data: ReturnType<typeof seed>) {
  const results: unknown[] = [];
  const third = Math.floor(data.polled.length / 3);
  for (let from = 0; from < third; from += 150) results.push(await history.addPlays(data.polled.slice(from, from + 150)));
  // The second third is polled while the imports commit, a batch after each slice.
  const during = data.polled.slice(third, 2 * third);
  const polledDuring: Promise<unknown>[] = [];
  const onSlice = () => {
    const batch = during.splice(0, 25);
    if (batch.length > 0) polledDuring.push(history.addPlays(batch));
  };
  for (const memberId of MEMBERS) {
    const jobId = `job-${memberId}`;
    const record = { jobId, memberId, fileName: 'export.zip', startedAt: START, counts: { records: 1 } };
    const staged = [...data.account.get(memberId)!, ...data.extended.get(memberId)!];
    results.push(await history.stageImport(jobId, staged));
    if (memberId === 'ben') {
      // A first attempt stopped halfway, discarded and staged again.
      const abort = new AbortController();
      await history.commitImport(record, { sliceRows: 97, signal: abort.signal, onSlice: (n) => n > staged.length / 2 && abort.abort() }).catch(() => {});
      await history.discardImport(jobId);
      results.push(await history.stageImport(jobId, staged));
    }
    results.push(await history.commitImport(record, { sliceRows: 97, onSlice }));
  }
  results.push(await Promise.all(polledDuring), during.length);
  for (let from = 2 * third; from < data.polled.length; from += 150) results.push(await history.addPlays(data.polled.slice(from, from + 150)));
  return results;
}

const withoutId = ({ id: _id, ...play }: Play) => play;

async function answers(history: HistoryStore) {
  const year = { fromMs: START, toMs: START + 366 * 86_400_000 };
  const ranges = [year, { fromMs: START + 3 * 86_400_000, toMs: START + 5 * 86_400_000 }, { fromMs: 0, toMs: START }];
  const scopes = [MEMBERS, ['ben'], ['ana', 'cho', 'ana']];
  const out: Record<string, unknown> = {};
  for (const memberId of MEMBERS) {
    out[`count ${memberId}`] = await history.countPlays(memberId);
    out[`imports ${memberId}`] = await history.listImports(memberId);
    const paged: Play[] = [];
    for (let page = await history.playsAfterId(memberId, 0, 500); page.length > 0; page = await history.playsAfterId(memberId, page.at(-1)!.id, 500)) {
      paged.push(...page);
    }
    out[`after ${memberId} increasing`] = paged.every((p, i) => i === 0 || p.id > paged[i - 1]!.id);
    out[`after ${memberId}`] = paged.map(withoutId);
  }
  for (const [r, range] of ranges.entries()) {
    for (const [s, scope] of scopes.entries()) {
      const at = `${r}/${s}`;
      out[`list ${at}`] = (await history.listPlays(scope, range, 5_000)).map(withoutId);
      out[`list 25 ${at}`] = (await history.listPlays(scope, range, 25)).map(withoutId);
      for (const by of ['plays', 'time'] as const) {
        out[`tracks ${by} ${at}`] = await history.topTracks(scope, range, by, 15);
        out[`artists ${by} ${at}`] = await history.topArtists(scope, range, by, 6);
      }
      for (const bucketMs of [15 * 60_000, 3_600_000]) out[`buckets ${bucketMs} ${at}`] = await history.playBuckets(scope, range, bucketMs);
      const played = await history.playedTracks(scope, range);
      out[`played ${at}`] = { uris: [...played.uris].sort(), trackKeys: [...played.trackKeys].sort() };
    }
  }
  return out;
}

describe('HistoryStore: SQLite and Redis answer alike on seeded plays', () => {
  let embedded: ReturnType<typeof openSqliteStore>;
  let shared: TestRedis;

  beforeAll(async () => {
    embedded = openSqliteStore(':memory:');
    shared = await testRedis();
  });
  afterAll(async () => {
    await embedded.close();
    await shared.cleanup();
  });

  it('loads the same plays into both and gets equal answers to every query', async () => {
    const data = seed(random(20_261_203));
    const onRedis = new RedisHistoryStore(shared.redis, shared.prefix);
    const loaded = await load(embedded.history, data);
    expect(await load(onRedis, data)).toEqual(loaded);
    const expected = await answers(embedded.history);
    // The seed exercises what it should: matches across sources, and plays kept from each of them.
    expect((expected['list 0/0'] as Play[]).length).toBeGreaterThan(2_000);
    expect(new Set((expected['list 0/0'] as Play[]).map((p) => p.source)).size).toBe(3);
    expect(await answers(onRedis)).toEqual(expected);
  }, 60_000);
});
