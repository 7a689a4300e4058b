import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProtocolError } from '../../protocol/index.js';
import { csvField, memberCsv, memberJson } from '../../cloud/history/member-export.js';
import { playInput, type PlayInput } from '../../cloud/store/areas/history.js';
import { HistoryQueries } from '../../cloud/history/queries.js';
import { openSqliteStore } from '../../cloud/store/sqlite-store.js';

let dir: string;
let store: ReturnType<typeof openSqliteStore>;
let queries: HistoryQueries;
const CREW = 'crew-1';
const ALL = { fromMs: 0, toMs: Date.UTC(2030, 0, 1) };

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leeloo-history-q-'));
  store = openSqliteStore(path.join(dir, 'leeloo.db'));
  queries = new HistoryQueries(store);
  for (const [id, name] of [
    ['ana', 'Ana'],
    ['bo', 'Bo'],
    ['cy', 'Cy'],
  ])
    await store.crews.saveDevice({ deviceId: id!, displayName: name! });
  await store.crews.createCrew({ crewId: CREW, crewCode: 'LEELOO-ABCD', crewName: 'Crew', ownerDeviceId: 'ana' });
  await store.crews.addMember(CREW, 'bo');
});

afterEach(async () => {
  vi.useRealTimers();
  await store.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const play = (memberId: string, endMs: number, track: string, artist: string, msPlayed: number | null = 200_000, extra: Partial<PlayInput> = {}) =>
  playInput({ memberId, source: 'import_extended', endMs, track, artist, msPlayed, ...extra });

async function shareAt(atMs: number, from: string, uri: string, track: string) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(atMs);
  await store.log.appendEvents([
    {
      crewId: CREW,
      from: { deviceId: from },
      event: {
        type: 'message',
        from_device: from,
        from_name: from.toUpperCase(),
        timestamp: atMs,
        msg_type: 'song_push',
        payload: { artist: 'Artist', track, album: 'Album', spotify_uri: uri, album_art_url: '', note: '' },
      },
    },
  ]);
  vi.useRealTimers();
}

describe('tops', () => {
  beforeEach(async () => {
    const t = Date.UTC(2024, 2, 1, 12);
    await store.history.addPlays([
      play('ana', t, 'Long Song', 'Slow', 600_000),
      play('ana', t + 3_600_000, 'Hit', 'Pop', 100_000),
      play('ana', t + 7_200_000, 'hit ', 'POP', 100_000),
      play('bo', t + 7_300_000, 'Hit', 'Pop', 100_000),
      play('bo', t + 9_000_000, 'Other', 'Pop', null, { source: 'recently_played', durationMs: 150_000 }),
      play('cy', t, 'Not In Crew', 'Outsider', 900_000),
    ]);
  });

  it('ranks tracks by plays and by listening time, for the crew and for one member', async () => {
    const byPlays = await queries.topTracks({ crewId: CREW }, ALL);
    // Ties are broken by artist and title.
    expect(byPlays.map((t) => [t.track, t.plays])).toEqual([
      ['Hit', 3],
      ['Other', 1],
      ['Long Song', 1],
    ]);
    const byTime = await queries.topTracks({ crewId: CREW }, ALL, { by: 'time' });
    expect(byTime.map((t) => [t.track, t.ms_played])).toEqual([
      ['Long Song', 600_000],
      ['Hit', 300_000],
      ['Other', 150_000],
    ]);
    const bo = await queries.topTracks({ memberId: 'bo' }, ALL, { limit: 1 });
    expect(bo).toHaveLength(1);
    expect(bo[0]).toMatchObject({ plays: 1 });
  });

  it('ranks artists and respects the time range', async () => {
    const artists = await queries.topArtists({ crewId: CREW }, ALL);
    expect(artists.map((a) => [a.artist.toLowerCase(), a.plays, a.ms_played])).toEqual([
      ['pop', 4, 450_000],
      ['slow', 1, 600_000],
    ]);
    const later = await queries.topArtists({ crewId: CREW }, { fromMs: Date.UTC(2024, 2, 1, 12, 30), toMs: ALL.toMs }, { by: 'time' });
    expect(later.map((a) => a.artist.toLowerCase())).toEqual(['pop']);
  });

  it('refuses an unknown crew', async () => {
    await expect(queries.topTracks({ crewId: 'nope' }, ALL)).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('heatmap', () => {
  it('counts by local weekday and hour in the given zone', async () => {
    // Monday 2024-03-04 23:30 UTC is Tuesday 00:30 in Paris (UTC+1) and Tuesday 05:00 in Kolkata (UTC+5:30).
    const t = Date.UTC(2024, 2, 4, 23, 30);
    await store.history.addPlays([play('ana', t, 'A', 'X'), play('ana', t + 60_000, 'B', 'X', 30_000), play('bo', Date.UTC(2024, 2, 10, 8), 'C', 'X')]);
    const utc = await queries.heatmap({ crewId: CREW }, ALL);
    expect(utc.cells[0]![23]).toBe(2);
    expect(utc.cells[6]![8]).toBe(1);
    expect(utc.cells.flat().reduce((a, b) => a + b)).toBe(3);
    const paris = await queries.heatmap({ crewId: CREW }, ALL, { timeZone: 'Europe/Paris', measure: 'time' });
    expect(paris.cells[1]![0]).toBe(230_000);
    expect(paris.cells[6]![9]).toBe(200_000);
    const kolkata = await queries.heatmap({ memberId: 'ana' }, ALL, { timeZone: 'Asia/Kolkata' });
    expect(kolkata.cells[1]![5]).toBe(2);
  });

  it('follows daylight saving time', async () => {
    // 12:00 UTC is 13:00 in Paris in winter and 14:00 in summer.
    await store.history.addPlays([play('ana', Date.UTC(2024, 0, 10, 12), 'W', 'X'), play('ana', Date.UTC(2024, 6, 10, 12), 'S', 'X')]);
    const paris = await queries.heatmap({ memberId: 'ana' }, ALL, { timeZone: 'Europe/Paris' });
    expect(paris.cells[2]![13]).toBe(1);
    expect(paris.cells[2]![14]).toBe(1);
  });

  it('refuses an unknown time zone with a sentence', async () => {
    const error = await queries.heatmap({ crewId: CREW }, ALL, { timeZone: 'Mars/Olympus' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('invalid_message');
    expect((error as ProtocolError).message).toMatch(/IANA/);
  });
});

describe('on this day and throwback', () => {
  it('finds plays and shares on the same day in past years, skipping 29 February', async () => {
    await store.history.addPlays([
      play('ana', Date.UTC(2023, 4, 4, 22, 30), 'Last Year', 'X'), // 5 May 00:30 in Paris
      play('ana', Date.UTC(2022, 4, 4, 12), 'Two Years', 'X'),
      play('ana', Date.UTC(2023, 4, 6, 12), 'Wrong Day', 'X'),
    ]);
    await shareAt(Date.UTC(2021, 4, 5, 9), 'bo', 'spotify:track:aaa', 'Shared');
    const days = await queries.onThisDay({ crewId: CREW }, { date: '2024-05-05', timeZone: 'Europe/Paris' });
    expect(days.map((d) => [d.date, d.plays.map((p) => p.track), d.shares.map((s) => s.track)])).toEqual([
      ['2023-05-05', ['Last Year'], []],
      ['2021-05-05', [], ['Shared']],
    ]);
    const utc = await queries.onThisDay({ memberId: 'ana' }, { date: '2024-05-04' });
    expect(utc.map((d) => d.date)).toEqual(['2023-05-04', '2022-05-04']);
    expect(await queries.onThisDay({ memberId: 'ana' }, { date: '2024-02-29', count: 3 })).toEqual([]);
    await expect(queries.onThisDay({ memberId: 'ana' }, { date: '2024-13-01' })).rejects.toMatchObject({ code: 'invalid_message' });
  });

  it('offers tracks shared on this weekday in past weeks that nobody played lately', async () => {
    const now = Date.UTC(2024, 5, 12, 18); // a Wednesday
    const week = 7 * 86_400_000;
    await shareAt(now - week, 'ana', 'spotify:track:often', 'Often');
    await shareAt(now - 3 * week, 'bo', 'spotify:track:often', 'Often');
    await shareAt(now - 2 * week, 'bo', 'spotify:track:once', 'Once');
    await shareAt(now - 2 * week + 86_400_000, 'bo', 'spotify:track:thursday', 'Thursday');
    await shareAt(now - 4 * week, 'ana', 'spotify:track:played', 'Played');
    await shareAt(now - 5 * week, 'ana', 'spotify:track:heard', 'Heard');
    await shareAt(now - 20 * week, 'ana', 'spotify:track:tooold', 'Too Old');
    await store.history.addPlays([
      play('bo', now - 86_400_000, 'Played', 'Someone', 200_000, { trackUri: 'spotify:track:played' }),
      play('ana', now - 3 * 86_400_000, 'HEARD', 'artist', 200_000, { source: 'import_account' }),
      play('ana', now - 20 * 86_400_000, 'Once', 'Artist', 200_000, { trackUri: 'spotify:track:once' }),
    ]);
    const picks = await queries.throwback(CREW, { nowMs: now });
    expect(picks.map((p) => [p.spotify_uri, p.times_shared])).toEqual([
      ['spotify:track:often', 2],
      ['spotify:track:once', 1],
    ]);
    expect(picks[0]).toMatchObject({ shared_by: 'ANA', track: 'Often', shared_at: now - week });
    expect(await queries.throwback(CREW, { nowMs: now, weeks: 1 })).toHaveLength(1);
  });
});

describe('timeline', () => {
  it('merges crew events and plays newest first, and filters one member', async () => {
    const t = Date.UTC(2024, 1, 1, 10);
    await shareAt(t, 'bo', 'spotify:track:x', 'Shared');
    await store.history.addPlays([play('ana', t - 60_000, 'Before', 'X'), play('ana', t + 60_000, 'After', 'X'), play('bo', t + 120_000, 'Bo', 'X')]);
    const crew = await queries.timeline({ crewId: CREW }, ALL);
    expect(crew.map((i) => (i.kind === 'play' ? i.play.track : i.event.type))).toEqual(['Bo', 'After', 'message', 'Before']);
    const ana = await queries.timeline({ memberId: 'ana' }, ALL, { limit: 1 });
    expect(ana.map((i) => i.kind === 'play' && i.play.track)).toEqual(['After']);
    const bo = await queries.timeline({ memberId: 'bo' }, ALL);
    expect(bo.map((i) => i.kind)).toEqual(['play', 'event']);
  });
});

describe('export', () => {
  const collect = async (source: AsyncIterable<string>) => {
    let text = '';
    for await (const chunk of source) text += chunk;
    return text;
  };

  it('escapes CSV fields and defuses formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('-5')).toBe("'-5");
    expect(csvField(null)).toBe('');
    expect(csvField(12)).toBe('12');
    expect(csvField(false)).toBe('false');
  });

  it("streams a member's plays as CSV over several pages", async () => {
    const many = Array.from({ length: 2_345 }, (_, i) => play('ana', Date.UTC(2020, 0, 1) + i * 600_000, `Song ${i}`, 'Band'));
    many.push(play('ana', Date.UTC(2021, 0, 1), 'Hello, "World"\nPart 2', 'AC/DC', 1_234, { album: '=cmd' }));
    await store.history.addPlays(many);
    await store.history.addPlays([play('bo', Date.UTC(2020, 0, 1), 'Not Ana', 'X')]);
    const csv = await collect(memberCsv(store, 'ana'));
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('played_at,source,track,artist,album,track_uri,ms_played,duration_ms,skipped,shuffle,offline,reason_start,reason_end');
    expect(lines).toHaveLength(2_346 + 2);
    expect(lines[1]).toBe('2020-01-01T00:00:00.000Z,import_extended,Song 0,Band,,,200000,,,,,,');
    expect(csv).toContain(`2021-01-01T00:00:00.000Z,import_extended,"Hello, ""World""\nPart 2",AC/DC,'=cmd,,1234,`);
    expect(csv).not.toContain('Not Ana');
  });

  it("streams a member's plays and sent messages as JSON", async () => {
    await store.history.addPlays([play('ana', Date.UTC(2020, 0, 1), 'One', 'X'), play('ana', Date.UTC(2020, 0, 2), 'Two', 'X')]);
    await shareAt(Date.UTC(2024, 0, 1), 'ana', 'spotify:track:mine', 'Mine');
    await shareAt(Date.UTC(2024, 0, 2), 'bo', 'spotify:track:bos', 'Bos');
    const data = JSON.parse(await collect(memberJson(store, 'ana', Date.UTC(2024, 6, 1))));
    expect(data.member_id).toBe('ana');
    expect(data.plays.map((p: { track: string }) => p.track)).toEqual(['One', 'Two']);
    expect(data.events.map((e: { event: { payload: { track: string } } }) => e.event.payload.track)).toEqual(['Mine']);
    const empty = JSON.parse(await collect(memberJson(store, 'cy')));
    expect(empty).toMatchObject({ plays: [], events: [] });
  });
});
