import { CATALOG_TRACK_URI, MIXTAPE_MAX_TRACKS, type MixtapeTrack } from '../../protocol/index.js';
import { addDays, checkDate, checkTimeZone, localDayRange, localTime } from '../time-zones.js';

/*
 * The weekly crew mixtape, as pure rules: which week, which tracks in which order, and what the
 * playlist is called. MixtapeMaker (mixtape-maker.ts) reads the crew's shares and plays, and makes
 * the playlist through the member's Spotify, for the crew page and the MCP tool.
 */

export { MIXTAPE_MAX_TRACKS };

export interface MixtapeWeek {
  /** The Monday the week starts on, YYYY-MM-DD in the time zone. */
  readonly monday: string;
  readonly timeZone: string;
  /** Monday 00:00 to the next Monday 00:00, local time. */
  readonly fromMs: number;
  readonly toMs: number;
}

/** The Monday-to-Sunday week in the time zone that holds `date` (YYYY-MM-DD), or today. */
export function mixtapeWeek(nowMs: number, timeZone: string, date?: string): MixtapeWeek {
  checkTimeZone(timeZone);
  const day = date === undefined ? localTime(nowMs, timeZone).date : checkDate(date);
  const weekday = (new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7;
  const monday = addDays(day, -weekday);
  return { monday, timeZone, fromMs: localDayRange(monday, timeZone).fromMs, toMs: localDayRange(addDays(monday, 7), timeZone).fromMs };
}

/** A crew share in the week (crew-reads.ts), oldest or newest first: the order is taken from shared_at. */
export interface WeekShare {
  readonly spotify_uri: string | null | undefined;
  readonly track: string;
  readonly artist: string;
  readonly shared_by: string;
  readonly shared_at: number;
}

/** One of the crew's most played tracks of the week (history's topTracks), most played first. */
export interface WeekPlay {
  readonly track_uri: string | null;
  readonly track: string;
  readonly artist: string;
  readonly plays: number;
}

export type { MixtapeTrack };

/**
 * The week's tracks: every share first, in the order they were shared (a track shared twice
 * once, at its first share), then the most played tracks the shares did not already bring,
 * up to `limit`. Only catalog tracks: a local file or an episode cannot go in the playlist.
 */
export function selectMixtape(shares: readonly WeekShare[], plays: readonly WeekPlay[], limit: number): MixtapeTrack[] {
  const cap = Math.max(0, Math.min(MIXTAPE_MAX_TRACKS, Math.trunc(limit)));
  const picked = new Map<string, MixtapeTrack>();
  const inOrder = [...shares].sort((a, b) => a.shared_at - b.shared_at);
  for (const share of inOrder) {
    const uri = share.spotify_uri ?? '';
    if (picked.size >= cap || !CATALOG_TRACK_URI.test(uri) || picked.has(uri)) continue;
    picked.set(uri, { uri, track: share.track, artist: share.artist, why: 'shared', shared_by: share.shared_by });
  }
  for (const play of plays) {
    const uri = play.track_uri ?? '';
    if (picked.size >= cap || !CATALOG_TRACK_URI.test(uri) || picked.has(uri)) continue;
    picked.set(uri, { uri, track: play.track, artist: play.artist, why: 'played', plays: play.plays });
  }
  return [...picked.values()];
}

const DAY_LABEL = (date: string) =>
  new Date(`${date}T12:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

/** The playlist's name and description: the week it covers, in the member's time zone. */
export function mixtapeTitle(week: MixtapeWeek, tracks: readonly MixtapeTrack[]): { name: string; description: string } {
  const shared = tracks.filter((t) => t.why === 'shared').length;
  return {
    name: `LEELOO crew mixtape · week of ${DAY_LABEL(week.monday)}`,
    description: `The crew's ${shared} share${shared === 1 ? '' : 's'} and most played tracks, ${DAY_LABEL(week.monday)} – ${DAY_LABEL(addDays(week.monday, 6))}. Made by LEELOO.`,
  };
}
