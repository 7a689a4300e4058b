import fs from 'node:fs/promises';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, crewCookie, crewGadget, importThroughCrewPage, mcpClient, resultOf, startMcpRelay, type CrewGadget } from '../../helpers/mcp-crew.js';
import type { InProcessRelay } from '../../helpers/relay-in-process.js';
import { extendedRecord, writeZip } from '../../helpers/spotify-export-zips.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';
import { isType, type Frame } from '../../helpers/ws-client.js';

/*
 * Every MCP read tool, called with the SDK's client over HTTP, checked against the records
 * of Spotify exports that the members imported through the crew page's import route. The
 * expected values are computed here from the records themselves, by the import rules the
 * README states (plays under 30 s, private sessions and podcasts are skipped), with Intl
 * for local time: not by the relay's queries.
 */

const DAY = 86_400_000;
const ON_THIS_DAY = '2026-06-15';
const ARTISTS = ['Björk', 'Air', 'Portishead', 'Massive Attack', 'Daft Punk', 'Radiohead', 'Nina Simone'];
const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

type Rec = ReturnType<typeof extendedRecord> & {
  ts: string;
  ms_played: number;
  master_metadata_track_name: string | null;
  master_metadata_album_artist_name: string | null;
  spotify_track_uri: string | null;
  incognito_mode: boolean;
};

/** A small seeded generator: the same export every run, and no Math.random. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function play(endMs: number, artist: string, n: number, msPlayed: number, extra: Record<string, unknown> = {}): Rec {
  const uri = `spotify:track:${Buffer.from(`${artist}-${n}`).toString('hex').slice(0, 22)}`;
  return extendedRecord({
    ts: iso(endMs),
    ms_played: msPlayed,
    master_metadata_track_name: `${artist} song ${n}`,
    master_metadata_album_artist_name: artist,
    master_metadata_album_album_name: `${artist} album`,
    spotify_track_uri: uri,
    incognito_mode: false,
    ...extra,
  }) as Rec;
}

/**
 * A member's export: plays over the last 60 days (none within a day of the 30-day edge),
 * with plays too short to count, exactly 30 s, private sessions, podcast episodes, a broken
 * record, and plays on ON_THIS_DAY's date in past years (one each side of midnight UTC).
 */
function exportOf(seed: number, artists: readonly string[], count: number, now: number): Rec[] {
  const next = random(seed);
  const records: Rec[] = [];
  for (let i = 0; i < count; i++) {
    const daysAgo = i % 4 === 0 ? 32 + next() * 28 : 0.05 + next() * 28.9;
    const artist = artists[Math.floor(next() * next() * artists.length)]!;
    const ms = next() < 0.12 ? 1000 + Math.floor(next() * 28_000) : 30_000 + Math.floor(next() * 370_000);
    records.push(play(now - daysAgo * DAY - i * 1000, artist, Math.floor(next() * 3), ms));
  }
  const at = (date: string, time: string) => Date.parse(`${date}T${time}Z`);
  records.push(
    play(now - 3 * DAY, artists[0]!, 0, 30_000),
    play(now - 3 * DAY + 60_000, artists[0]!, 0, 29_999),
    play(now - 2 * DAY, artists[1]!, 1, 200_000, { incognito_mode: true }),
    play(now - 1 * DAY, artists[1]!, 2, 200_000, {
      master_metadata_track_name: null,
      master_metadata_album_artist_name: null,
      spotify_track_uri: null,
      episode_name: 'A podcast',
      spotify_episode_uri: 'spotify:episode:x',
    }),
    play(now - 4 * DAY, artists[0]!, 1, 200_000, { ts: 'last tuesday' }),
    play(at('2025-06-15', '10:00:00'), artists[0]!, 2, 180_000),
    play(at('2025-06-15', '18:30:00'), artists[1]!, 0, 240_000),
    play(at('2025-06-15', '02:00:00'), artists[2]!, 1, 120_000), // 14 June in New York
    play(at('2025-06-16', '01:30:00'), artists[2]!, 2, 120_000), // 15 June in New York
    play(at('2024-06-15', '12:00:00'), artists[1]!, 1, 300_000),
    play(at('2023-06-15', '23:59:00'), artists[0]!, 0, 90_000),
  );
  return records;
}

/** The records the import keeps, by the README's rules. */
const kept = (records: readonly Rec[]) =>
  records.filter(
    (r) =>
      !Number.isNaN(Date.parse(r.ts)) &&
      r.incognito_mode !== true &&
      r.master_metadata_track_name &&
      r.master_metadata_album_artist_name &&
      r.ms_played >= 30_000,
  );

const endOf = (r: Rec) => Date.parse(r.ts);
const within = (records: readonly Rec[], days: number, now: number) => records.filter((r) => endOf(r) >= now - days * DAY);

function localParts(ms: number, timeZone: string): { date: string; weekday: number; hour: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'long',
      hour: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(ms)
      .map((p) => [p.type, p.value]),
  );
  return { date: `${parts.year}-${parts.month}-${parts.day}`, weekday: WEEKDAYS.indexOf(parts.weekday!), hour: Number(parts.hour) };
}

interface Tally {
  plays: number;
  ms: number;
}
function tally<K>(records: readonly Rec[], key: (r: Rec) => K): Map<K, Tally> {
  const out = new Map<K, Tally>();
  for (const r of records) {
    const t = out.get(key(r)) ?? { plays: 0, ms: 0 };
    out.set(key(r), { plays: t.plays + 1, ms: t.ms + r.ms_played });
  }
  return out;
}
const trackOf = (r: Rec) => `${r.master_metadata_album_artist_name} — ${r.master_metadata_track_name}`;
const artistOf = (r: Rec) => String(r.master_metadata_album_artist_name);

/** A top list as the tool answered it matches the tally: right counts, ordered by the measure, the first `limit`. */
function expectTop(
  rows: { plays: number; ms_played: number }[],
  key: (row: never) => string,
  expected: Map<string, Tally>,
  limit: number,
  by: 'plays' | 'time' = 'plays',
) {
  const measure = (t: { plays: number; ms_played?: number; ms?: number }) => (by === 'plays' ? t.plays : (t.ms_played ?? t.ms)!);
  expect(rows).toHaveLength(Math.min(limit, expected.size));
  for (const row of rows)
    expect({ key: key(row as never), plays: row.plays, ms: row.ms_played }).toEqual({ key: key(row as never), ...expected.get(key(row as never)) });
  const best = [...expected.values()]
    .map(measure)
    .sort((a, b) => b - a)
    .slice(0, limit);
  expect(rows.map(measure)).toEqual(best);
}

function heatmapOf(records: readonly Rec[], timeZone: string, measure: 'plays' | 'time'): number[][] {
  const cells = Array.from({ length: 7 }, () => Array<number>(24).fill(0));
  for (const r of records) {
    const { weekday, hour } = localParts(endOf(r), timeZone);
    cells[weekday]![hour]! += measure === 'plays' ? 1 : r.ms_played;
  }
  return cells;
}

let relay: InProcessRelay;
let zipDir: string;
let ana: CrewGadget;
let bo: CrewGadget;
let cy: CrewGadget;
let assistant: Client;
let now: number;
const records = new Map<string, Rec[]>();
const imported = new Map<string, Record<string, number>>();

const call = async <T>(name: string, args: Record<string, unknown> = {}): Promise<T> => resultOf<T>(await assistant.callTool({ name, arguments: args }));

beforeAll(async () => {
  relay = await startMcpRelay({ env: { ADMIN_TOKEN: 'admin-token-0123456789abcdef' } });
  zipDir = await makeTempDir('leeloo-mcp-export-');
  ana = await crewGadget(() => relay.connect(), 'Ana');
  bo = await crewGadget(() => relay.connect(), 'Bo', ana.crewCode);
  cy = await crewGadget(() => relay.connect(), 'Cy', ana.crewCode);
  now = Date.now();
  records.set(ana.deviceId, exportOf(19, ARTISTS.slice(0, 5), 160, now));
  records.set(bo.deviceId, exportOf(7, ARTISTS.slice(2), 90, now));
  for (const [member, gadget] of [
    [ana.deviceId, ana],
    [bo.deviceId, bo],
  ] as const) {
    const zip = await writeZip(zipDir, `${member}.zip`, [
      { name: 'Spotify Extended Streaming History/Streaming_History_Audio_2023-2026_0.json', content: JSON.stringify(records.get(member)) },
      { name: 'Spotify Extended Streaming History/ReadMeFirst_ExtendedStreamingHistory.pdf', content: 'not read' },
    ]);
    const job = await importThroughCrewPage(relay.httpUrl, await crewCookie(relay.httpUrl, gadget.client), await fs.readFile(zip), 'my_spotify_data.zip');
    imported.set(member, job.counts);
  }
  const issued = await fetch(`${relay.httpUrl}/admin/devices/${ana.deviceId}/mcp-token`, { method: 'POST', headers: bearer('admin-token-0123456789abcdef') });
  assistant = await mcpClient(`${relay.httpUrl}/mcp`, bearer(((await issued.json()) as { token: string }).token));
}, 60_000);

afterAll(async () => {
  await assistant?.close();
  for (const g of [ana, bo, cy]) await g?.client.close();
  await relay?.close();
  await removeTempDir(zipDir);
});

const mine = () => kept(records.get(ana.deviceId)!);
const crews = () => [...mine(), ...kept(records.get(bo.deviceId)!)];

describe('MCP read tools against imported exports', () => {
  it('imported what the rules keep, and counted what they skip', () => {
    for (const [member, recs] of records) {
      expect(imported.get(member)).toEqual({
        imported: kept(recs).length,
        duplicate: 0,
        invalid: 1,
        no_track: 1,
        incognito: 1,
        too_short: recs.filter((r) => r.ms_played < 30_000 && r.incognito_mode !== true && r.master_metadata_track_name && !Number.isNaN(Date.parse(r.ts)))
          .length,
      });
    }
  });

  it('top_tracks for me and the crew, by plays and by time, over all and the last 30 days', async () => {
    type Row = { track: string; artist: string; track_uri: string | null; plays: number; ms_played: number };
    const key = (r: Row) => `${r.artist} — ${r.track}`;
    expectTop(await call<Row[]>('top_tracks', { who: 'me', days: 3660, limit: 50 }), key, tally(mine(), trackOf), 50);
    expectTop(await call<Row[]>('top_tracks', { who: 'me', days: 3660, limit: 5, by: 'time' }), key, tally(mine(), trackOf), 5, 'time');
    expectTop(await call<Row[]>('top_tracks', { who: 'me', days: 30, limit: 50 }), key, tally(within(mine(), 30, now), trackOf), 50);
    expectTop(await call<Row[]>('top_tracks', { who: 'crew', days: 3660, limit: 50 }), key, tally(crews(), trackOf), 50);
    const uris = new Map(mine().map((r) => [trackOf(r), r.spotify_track_uri]));
    for (const row of await call<Row[]>('top_tracks', { days: 3660, limit: 50 })) expect(row.track_uri).toBe(uris.get(key(row)));
  });

  it('top_artists for me and the crew', async () => {
    type Row = { artist: string; plays: number; ms_played: number };
    const key = (r: Row) => r.artist;
    expectTop(await call<Row[]>('top_artists', { who: 'me', days: 3660, limit: 50 }), key, tally(mine(), artistOf), 50);
    expectTop(await call<Row[]>('top_artists', { who: 'crew', days: 3660, limit: 3 }), key, tally(crews(), artistOf), 3);
    expectTop(await call<Row[]>('top_artists', { who: 'crew', days: 30, limit: 50, by: 'time' }), key, tally(within(crews(), 30, now), artistOf), 50, 'time');
  });

  it('listening_heatmap in UTC and in New York, by plays and by time', async () => {
    type Heat = { time_zone: string; measure: string; cells: number[][] };
    expect(await call<Heat>('listening_heatmap', { days: 3660 })).toEqual({ time_zone: 'UTC', measure: 'plays', cells: heatmapOf(mine(), 'UTC', 'plays') });
    expect(await call<Heat>('listening_heatmap', { who: 'crew', days: 3660, time_zone: 'America/New_York', measure: 'time' })).toEqual({
      time_zone: 'America/New_York',
      measure: 'time',
      cells: heatmapOf(crews(), 'America/New_York', 'time'),
    });
    expect((await call<Heat>('listening_heatmap', { days: 30 })).cells).toEqual(heatmapOf(within(mine(), 30, now), 'UTC', 'plays'));
  });

  it('on_this_day: the plays of that local date in past years, newest year first', async () => {
    type Day = { date: string; plays: { played_at: number; track: string; artist: string; ms_played: number }[]; shares: unknown[] };
    const expected = (timeZone: string) =>
      [1, 2, 3, 4, 5]
        .map((k) => `${2026 - k}${ON_THIS_DAY.slice(4)}`)
        .flatMap((date) => {
          const plays = mine()
            .filter((r) => localParts(endOf(r), timeZone).date === date)
            .sort((a, b) => endOf(b) - endOf(a))
            .map((r) => ({ played_at: endOf(r), track: r.master_metadata_track_name, artist: r.master_metadata_album_artist_name, ms_played: r.ms_played }));
          return plays.length > 0 ? [{ date, plays, shares: [] }] : [];
        });
    const view = (days: Day[]) =>
      days.map((d) => ({ ...d, plays: d.plays.map(({ played_at, track, artist, ms_played }) => ({ played_at, track, artist, ms_played })) }));
    const utc = expected('UTC');
    expect(utc.map((d) => [d.date, d.plays.length])).toEqual([
      ['2025-06-15', 3],
      ['2024-06-15', 1],
      ['2023-06-15', 1],
    ]);
    expect(view(await call<Day[]>('on_this_day', { date: ON_THIS_DAY }))).toEqual(utc);
    expect(view(await call<Day[]>('on_this_day', { date: ON_THIS_DAY, time_zone: 'America/New_York' }))).toEqual(expected('America/New_York'));
  });

  it('taste_summary: plays, hours, repeat rate, tops, peak times and coverage', async () => {
    const plays = mine();
    const tracks = tally(plays, trackOf);
    const ms = plays.reduce((sum, r) => sum + r.ms_played, 0);
    const heat = heatmapOf(plays, 'UTC', 'plays');
    const byDay = heat.map((row) => row.reduce((a, b) => a + b, 0));
    const byHour = Array.from({ length: 24 }, (_, h) => heat.reduce((sum, row) => sum + row[h]!, 0));
    const summary = await call<Record<string, unknown> & { top_tracks: never[]; top_artists: never[]; coverage: { imports: Record<string, unknown>[] } }>(
      'taste_summary',
      { days: 3660 },
    );
    expect(summary).toMatchObject({
      plays: plays.length,
      listening_hours: Math.round((ms / 3_600_000) * 10) / 10,
      distinct_tracks: tracks.size,
      repeat_rate: Math.round((1 - tracks.size / plays.length) * 1000) / 1000,
      peak_weekday: WEEKDAYS[byDay.indexOf(Math.max(...byDay))],
      peak_hour: byHour.indexOf(Math.max(...byHour)),
      time_zone: 'UTC',
      coverage: { plays_stored: plays.length },
    });
    expectTop(summary.top_tracks, (r: { artist: string; track: string }) => `${r.artist} — ${r.track}`, tracks, 10);
    expectTop(summary.top_artists, (r: { artist: string }) => r.artist, tally(plays, artistOf), 10);
    expect(summary.coverage.imports).toEqual([{ file_name: 'my_spotify_data.zip', started_at: expect.any(Number), counts: imported.get(ana.deviceId) }]);
    const recent = await call<{ plays: number }>('taste_summary', { days: 30 });
    expect(recent.plays).toBe(within(plays, 30, now).length);
  });

  it('listens_like_me: the crew by overlap of top artists (Jaccard), with the artists shared', async () => {
    const artistsOf = (recs: Rec[]) => new Set(recs.map(artistOf));
    const me = artistsOf(mine());
    const expected = [
      [bo.deviceId, 'Bo', kept(records.get(bo.deviceId)!)],
      [cy.deviceId, 'Cy', []],
    ].map(([id, name, recs]) => {
      const theirs = artistsOf(recs as Rec[]);
      const shared = [...me].filter((a) => theirs.has(a));
      const union = new Set([...me, ...theirs]).size;
      return { member: name, device_id: id, overlap: Math.round((shared.length / union) * 1000) / 1000, shared_artists: shared.sort() };
    });
    expect(expected[0]!.overlap).toBeGreaterThan(0);
    const ranked = await call<{ member: string; device_id: string; overlap: number; shared_artists: string[] }[]>('listens_like_me', { days: 3660 });
    expect(ranked.map((m) => ({ ...m, shared_artists: [...m.shared_artists].sort() }))).toEqual(expected);
  });

  it('the crew recap resource for a month and a year, from the crew’s imported plays', async () => {
    // The month the crew played most in (UTC), so the recap has plenty to rank whatever today is.
    const monthOf = (r: Rec) => new Date(endOf(r)).toISOString().slice(0, 7);
    const [month] = [...tally(crews(), monthOf)].sort((a, b) => b[1].plays - a[1].plays)[0]!;
    const inMonth = crews().filter((r) => monthOf(r) === month);
    expect(inMonth.length).toBeGreaterThan(20);
    const read = await assistant.readResource({ uri: `leeloo://crew/recap/${month}` });
    const recap = JSON.parse((read.contents[0] as { text: string }).text) as { period: string; top_tracks: never[]; top_artists: never[] };
    expect(recap.period).toBe(month);
    expectTop(recap.top_tracks, (r: { artist: string; track: string }) => `${r.artist} — ${r.track}`, tally(inMonth, trackOf), 10);
    expectTop(recap.top_artists, (r: { artist: string }) => r.artist, tally(inMonth, artistOf), 10);
    const year = '2025';
    const yearly = JSON.parse(((await assistant.readResource({ uri: `leeloo://crew/recap/${year}` })).contents[0] as { text: string }).text) as {
      top_tracks: never[];
    };
    expectTop(
      yearly.top_tracks,
      (r: { artist: string; track: string }) => `${r.artist} — ${r.track}`,
      tally(
        crews().filter((r) => monthOf(r).startsWith(year)),
        trackOf,
      ),
      10,
    );
  });

  it('crew_shares and crew_queue: what the gadgets shared and reacted, and the queue as the gadgets see it', async () => {
    const share = async (gadget: CrewGadget, n: number) => {
      const track = {
        artist: ARTISTS[n]!,
        track: `${ARTISTS[n]} song ${n}`,
        album: '',
        spotify_uri: `spotify:track:${String(n).padStart(22, 'S')}`,
        note: `share ${n}`,
      };
      const acked = await gadget.client.request({ type: 'message', msg_type: 'song_push', client_msg_id: `share-${n}`, payload: track }, isType('ack'));
      return { ...track, seq: Number(acked.seq) };
    };
    const first = await share(bo, 1);
    const second = await share(bo, 2);
    const reacted = await ana.client.request(
      { type: 'message', msg_type: 'reaction', client_msg_id: 'love-2', payload: { reaction: 'love', to_device: bo.deviceId } },
      isType('ack'),
    );
    const third = await share(cy, 3);
    const shares = await call<{ seq: number; shared_by: string; track: string; note: string; reactions: unknown[] }[]>('crew_shares', {});
    expect(shares.map((s) => ({ seq: s.seq, shared_by: s.shared_by, track: s.track, note: s.note, reactions: s.reactions }))).toEqual([
      { seq: third.seq, shared_by: 'Cy', track: third.track, note: third.note, reactions: [] },
      { seq: second.seq, shared_by: 'Bo', track: second.track, note: second.note, reactions: [{ from: 'Ana', reaction: 'love' }] },
      { seq: first.seq, shared_by: 'Bo', track: first.track, note: first.note, reactions: [] },
    ]);
    expect(Number(reacted.seq)).toBeGreaterThan(second.seq);
    expect((await call<unknown[]>('crew_shares', { limit: 1 })).length).toBe(1);

    // The queue as the relay last sent it to a gadget (shares go into the crew queue).
    let state: Frame;
    do state = await ana.client.next(isType('queue_state'));
    while (!JSON.stringify(state.queue).includes(third.spotify_uri));
    const gadgetView = state.queue as { now_playing: { item_id: string; track: string } | null; up_next: { item_id: string; track: string }[] };
    const queue = await call<{ now_playing: { item_id: string; track: string } | null; next: { item_id: string; track: string }[] }>('crew_queue');
    expect(queue.now_playing?.item_id).toBe(gadgetView.now_playing?.item_id);
    expect(queue.next.map((i) => [i.item_id, i.track])).toEqual(gadgetView.up_next.map((i) => [i.item_id, i.track]));
    expect([queue.now_playing, ...queue.next].map((i) => i?.track)).toEqual(expect.arrayContaining([first.track, second.track, third.track]));
  });
});
