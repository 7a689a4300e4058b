import { describe, expect, it } from 'vitest';
import { MIXTAPE_MAX_TRACKS, mixtapeTitle, mixtapeWeek, selectMixtape, type WeekPlay, type WeekShare } from '../../cloud/history/mixtape.js';

/* The weekly mixtape's pure rules: which week, which tracks in which order, what it is called. */

const uri = (n: number) => `spotify:track:${String(n).padStart(22, 'M')}`;
const share = (n: number, at: number, by = 'Bo'): WeekShare => ({ spotify_uri: uri(n), track: `S${n}`, artist: 'A', shared_by: by, shared_at: at });
const play = (n: number, plays: number): WeekPlay => ({ track_uri: uri(n), track: `P${n}`, artist: 'B', plays });

describe('mixtapeWeek', () => {
  it.each([
    // [now (UTC), time zone, week_of, Monday, from (UTC), to (UTC)]
    ['2026-12-03T10:00:00Z', 'UTC', undefined, '2026-11-30', '2026-11-30T00:00:00.000Z', '2026-12-07T00:00:00.000Z'],
    // Sunday late evening in New York is already Monday in UTC: the week is New York's.
    ['2026-12-07T03:00:00Z', 'America/New_York', undefined, '2026-11-30', '2026-11-30T05:00:00.000Z', '2026-12-07T05:00:00.000Z'],
    ['2026-12-07T03:00:00Z', 'UTC', undefined, '2026-12-07', '2026-12-07T00:00:00.000Z', '2026-12-14T00:00:00.000Z'],
    // A week across the end of summer time in Berlin is 169 hours long.
    ['2026-12-03T10:00:00Z', 'Europe/Berlin', '2026-10-25', '2026-10-19', '2026-10-18T22:00:00.000Z', '2026-10-25T23:00:00.000Z'],
    ['2026-12-03T10:00:00Z', 'UTC', '2026-11-30', '2026-11-30', '2026-11-30T00:00:00.000Z', '2026-12-07T00:00:00.000Z'],
    ['2026-12-03T10:00:00Z', 'UTC', '2026-12-06', '2026-11-30', '2026-11-30T00:00:00.000Z', '2026-12-07T00:00:00.000Z'],
  ])('%s in %s (week of %s) starts on %s', (now, zone, date, monday, from, to) => {
    const week = mixtapeWeek(Date.parse(now), zone, date);
    expect(week).toEqual({ monday, timeZone: zone, fromMs: Date.parse(from), toMs: Date.parse(to) });
  });

  it('refuses a day that is not one and a zone that is not one, with a sentence', () => {
    expect(() => mixtapeWeek(0, 'UTC', '2026-02-29')).toThrow('"2026-02-29" is not a date; use YYYY-MM-DD.');
    expect(() => mixtapeWeek(0, 'Mars/Olympus')).toThrow(/"Mars\/Olympus" is not a time zone/);
  });
});

describe('selectMixtape', () => {
  it('takes the shares in the order shared (each track once), then the most played the shares did not bring', () => {
    const shares = [share(2, 300, 'Al'), share(1, 100), share(2, 200), share(3, 400)];
    const picked = selectMixtape(shares, [play(1, 9), play(4, 5), play(5, 2)], 50);
    expect(picked.map((t) => t.uri)).toEqual([uri(1), uri(2), uri(3), uri(4), uri(5)]);
    expect(picked[1]).toEqual({ uri: uri(2), track: 'S2', artist: 'A', why: 'shared', shared_by: 'Bo' });
    expect(picked[3]).toEqual({ uri: uri(4), track: 'P4', artist: 'B', why: 'played', plays: 5 });
  });

  it('leaves out what cannot go in a playlist: local files, short ids, no URI', () => {
    const odd: WeekShare[] = [
      { ...share(1, 1), spotify_uri: 'spotify:local:Artist:Album:Song:200' },
      { ...share(1, 2), spotify_uri: 'spotify:track:short' },
      { ...share(1, 3), spotify_uri: null },
    ];
    expect(selectMixtape(odd, [{ ...play(7, 3), track_uri: null }, play(8, 1)], 50).map((t) => t.uri)).toEqual([uri(8)]);
  });

  it('stops at the limit, shares first, and never past a playlist’s hundred', () => {
    const shares = Array.from({ length: 30 }, (_, i) => share(i, i));
    const plays = Array.from({ length: 200 }, (_, i) => play(100 + i, 300 - i));
    expect(selectMixtape(shares, plays, 10).map((t) => t.why)).toEqual(Array(10).fill('shared'));
    expect(selectMixtape(shares, plays, 1000)).toHaveLength(MIXTAPE_MAX_TRACKS);
    expect(selectMixtape(shares, plays, 0)).toEqual([]);
  });
});

describe('mixtapeTitle', () => {
  it('names the week and counts the shares', () => {
    const week = mixtapeWeek(Date.parse('2026-12-03T10:00:00Z'), 'UTC');
    const tracks = selectMixtape([share(1, 1)], [play(2, 1)], 50);
    expect(mixtapeTitle(week, tracks)).toEqual({
      name: 'LEELOO crew mixtape · week of 30 Nov 2026',
      description: "The crew's 1 share and most played tracks, 30 Nov 2026 – 6 Dec 2026. Made by LEELOO.",
    });
  });
});
