import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpotifyHttp } from '../../spotify/spotify-http.js';
import { ListeningCollector } from '../../cloud/history/collector.js';
import { importExport } from '../../cloud/history/importer.js';
import { openSqliteStore } from '../../cloud/store/sqlite-store.js';
import { fakeTrack, signInThroughFake, startFakeSpotify, type FakeSpotify } from '../fakes/fake-spotify.js';
import { extendedRecord, writeZip } from '../helpers/spotify-export-zips.js';

let dir: string;
let store: ReturnType<typeof openSqliteStore>;
let spotify: FakeSpotify;
let clock: number;
const tokens = new Map<string, string>();
const refreshed: { id: string; refused: string }[] = [];

/** Signs a fake user in through the fake's authorize + token endpoints. */
async function signIn(userId: string): Promise<void> {
  tokens.set(userId, (await signInThroughFake(spotify, userId)).access);
}

function collector(members: string[], intervalMs = 30 * 60_000) {
  return new ListeningCollector({
    history: store.history,
    access: {
      signedInMembers: async () => members,
      accessToken: async (id) => tokens.get(id) ?? 'unknown-token',
      refreshedToken: async (id, refused) => {
        refreshed.push({ id, refused });
        if (!spotify.refreshTokensOf(id).length) throw new Error(`${id} is not signed in`);
        await signIn(id);
        return tokens.get(id)!;
      },
    },
    http: new SpotifyHttp({ maxRateLimitRetries: 0, maxAttempts: 1, now: () => clock, sleep: async () => {} }),
    apiUrl: spotify.apiUrl,
    log: pino({ level: 'silent' }),
    intervalMs,
    now: () => clock,
  });
}

const playedAt = (minute: number) => new Date(Date.UTC(2024, 3, 1, 10, minute, 7, 250)).toISOString();
const plays = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => ({ track: fakeTrack(`t${from + i}`), played_at: playedAt(from + i) })).reverse();

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leeloo-history-collect-'));
  store = openSqliteStore(path.join(dir, 'leeloo.db'));
  spotify = await startFakeSpotify();
  spotify.registerApp('app-1');
  for (const id of ['ana', 'bo']) {
    spotify.addUser({ id });
    await signIn(id);
  }
  clock = Date.UTC(2024, 3, 1, 12);
});

afterEach(async () => {
  await spotify.close();
  await store.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('recently-played collection', () => {
  it('stores plays, persists the cursor and asks only for newer plays next time', async () => {
    spotify.setRecentlyPlayed('ana', plays(0, 30));
    const c = collector(['ana']);
    expect(await c.collect('ana')).toMatchObject({ added: 30, duplicate: 0 });
    expect(await store.history.getCursor('ana')).toBe(Date.parse(playedAt(29)));
    const [newest] = await store.history.listPlays(['ana'], { fromMs: 0, toMs: clock }, 1);
    expect(newest).toMatchObject({
      source: 'recently_played',
      track: 'Track t29',
      artist: 'Artist t29',
      trackUri: 'spotify:track:t29',
      durationMs: 200_000,
      msPlayed: null,
    });

    spotify.setRecentlyPlayed('ana', plays(0, 33));
    expect(await c.collect('ana')).toMatchObject({ added: 3, duplicate: 0, pages: 1 });
    const last = spotify.log.filter((e) => e.endpoint === 'recently-played').at(-1)!;
    expect(last.status).toBe(200);
    expect(await store.history.countPlays('ana')).toBe(33);
  });

  it('follows the next pages after the cursor', async () => {
    spotify.setRecentlyPlayed('ana', plays(0, 5));
    const c = collector(['ana']);
    await c.collect('ana');
    spotify.setRecentlyPlayed('ana', plays(0, 125));
    const result = await c.collect('ana');
    expect(result).toEqual({ added: 120, duplicate: 0, pages: 3 });
    expect(await store.history.countPlays('ana')).toBe(125);
    expect(await store.history.getCursor('ana')).toBe(Date.parse(playedAt(124)));
  });

  it('keeps a polled play and its imported record as one play', async () => {
    spotify.setRecentlyPlayed('ana', [
      { track: fakeTrack('1pKYYY0dkg23sQQXi0Q5zN', { name: 'Around the World', artists: ['Daft Punk'] }), played_at: '2023-05-04T18:22:41.512Z' },
    ]);
    await collector(['ana']).collect('ana');
    const file = await writeZip(dir, 'export.zip', [{ name: 'Streaming_History_Audio_2023.json', content: JSON.stringify([extendedRecord()]) }]);
    expect((await importExport(store.history, file, { memberId: 'ana' })).counts).toMatchObject({ imported: 0, duplicate: 1 });
  });

  it('puts only the rate-limited member back by Retry-After', async () => {
    spotify.setRecentlyPlayed('ana', plays(0, 3));
    spotify.setRecentlyPlayed('bo', plays(10, 14));
    const c = collector(['ana', 'bo'], 60_000);
    await c.runDue(); // first sight: both get a slot within the interval
    expect(spotify.calls('recently-played')).toBe(0);
    clock += 60_000; // every member is due after one interval
    spotify.rateLimit('recently-played', 120, { userId: 'ana' });
    await c.runDue();
    expect(await store.history.countPlays('ana')).toBe(0);
    expect(await store.history.countPlays('bo')).toBe(4);
    expect(c.dueAt('ana')).toBe(clock + 120_000);
    expect(c.dueAt('bo')).toBe(clock + 60_000);

    clock += 60_000; // bo is due again, ana still waits
    await c.runDue();
    expect(spotify.calls('recently-played', 'ana')).toBe(1);
    clock += 60_000;
    await c.runDue();
    expect(spotify.calls('recently-played', 'ana')).toBe(2);
    expect(await store.history.countPlays('ana')).toBe(3);
  });

  it("spreads members over the interval and keeps each one's slot", async () => {
    const members = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
    const c = collector(members);
    const start = clock;
    await c.runDue();
    const offsets = members.map((m) => c.dueAt(m)! - start).sort((a, b) => a - b);
    expect(offsets.every((o) => o >= 0 && o < 30 * 60_000)).toBe(true);
    // Spread, not bunched: every third of the interval holds some members.
    for (let third = 0; third < 3; third++) {
      expect(offsets.some((o) => o >= third * 10 * 60_000 && o < (third + 1) * 10 * 60_000)).toBe(true);
    }
    const again = collector(members);
    await again.runDue();
    expect(members.map((m) => again.dueAt(m))).toEqual(members.map((m) => c.dueAt(m)));
  });

  it('refreshes the token once when Spotify answers 401, and collects with the new one', async () => {
    spotify.setRecentlyPlayed('ana', plays(0, 4));
    const stale = tokens.get('ana')!;
    spotify.expireAccessTokens('ana');
    refreshed.length = 0;
    expect(await collector(['ana']).collect('ana')).toMatchObject({ added: 4 });
    expect(refreshed).toEqual([{ id: 'ana', refused: stale }]);
    expect(spotify.log.filter((e) => e.endpoint === 'recently-played').map((e) => e.status)).toEqual([401, 200]);
  });

  it('survives an answer of the wrong shape and a revoked token', async () => {
    spotify.script('recently-played', { status: 200, body: { items: 'nope' } }, { userId: 'ana' });
    const c = collector(['ana', 'bo'], 60_000);
    spotify.setRecentlyPlayed('bo', plays(0, 2));
    await c.runDue();
    clock += 60_000;
    await c.runDue();
    expect(await store.history.countPlays('bo')).toBe(2);
    expect(await store.history.getCursor('ana')).toBeNull();
    await expect(collector(['ana']).collect('ghost')).rejects.toThrow('ghost is not signed in');
  });
});
