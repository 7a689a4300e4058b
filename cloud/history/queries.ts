import {
  isTrackUri,
  ProtocolError,
  type CrewEvent,
  type Heatmap,
  type OnThisDay,
  type PlayView,
  type ShareView,
  type ThrowbackTrack,
  type TimelineItem,
  type TopArtist,
  type TopTrack,
} from '../../protocol/index.js';
import { visibleEvents } from '../crew-visibility.js';
import type { HistoryCoverage, HistoryReads, HistoryScope, TimeRange, TopMeasure } from '../ports.js';
import type { Store, StoredEvent } from '../store/store.js';
import { trackKey, type Play, type TopArtistRow, type TopTrackRow } from '../store/areas/history.js';
import { addDays, checkDate, checkTimeZone, isCalendarDate, localDayRange, localTime, offsetMinutes } from '../time-zones.js';

// The answers' shapes are the HTTP API's (protocol/crew-pages.ts).
export type { Heatmap, OnThisDay, PlayView, ShareView, ThrowbackTrack, TimelineItem, TopArtist, TopTrack };

const DAY_MS = 86_400_000;
// 15 minutes divides every zone offset in use (+05:45, +12:45 …), so buckets never straddle a local hour.
const HEATMAP_BUCKET_MS = 15 * 60_000;

export const toPlayView = (p: Play): PlayView => ({
  member_id: p.memberId,
  played_at: p.endMs,
  track: p.track,
  artist: p.artist,
  album: p.album,
  track_uri: p.trackUri,
  ms_played: p.msPlayed ?? p.durationMs,
  source: p.source,
});

/** A song_push message (what every share becomes) as a share, or null. */
export function asShare(stored: StoredEvent): ShareView | null {
  const e = stored.event;
  if (e.type !== 'message' || e.msg_type !== 'song_push') return null;
  const p = e.payload;
  return { spotify_uri: p.spotify_uri, artist: p.artist, track: p.track, album: p.album, shared_by: e.from_name, shared_at: e.timestamp };
}

/** The history queries the crew pages, the queue's throwback, MCP (HistoryReads) and the admin API use. */
export class HistoryQueries implements HistoryReads {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  /** Crew events and plays in the range, merged newest first. */
  async timeline(scope: HistoryScope, range: TimeRange, options: { limit?: number } = {}): Promise<TimelineItem[]> {
    const limit = options.limit ?? 100;
    const { crewId, memberIds } = await this.resolve(scope);
    const plays = await this.store.history.listPlays(memberIds, range, limit);
    let events = crewId ? await this.crewEvents(crewId, range, scope.fromSeq) : [];
    if ('memberId' in scope) events = events.filter((e) => sentBy(e.event) === scope.memberId);
    const items: TimelineItem[] = [
      ...events.map((e): TimelineItem => ({ kind: 'event', at: e.at, seq: e.seq, event: e.event })),
      ...plays.map((p): TimelineItem => ({ kind: 'play', at: p.endMs, play: toPlayView(p) })),
    ];
    return items.sort((a, b) => b.at - a.at).slice(0, limit);
  }

  async topTracks(scope: HistoryScope, range: TimeRange, options: { by?: TopMeasure; limit?: number } = {}): Promise<TopTrack[]> {
    const { memberIds } = await this.resolve(scope);
    const rows = await this.store.history.topTracks(memberIds, range, options.by ?? 'plays', options.limit ?? 10);
    return rows.map((r: TopTrackRow) => ({ track: r.track, artist: r.artist, track_uri: r.trackUri, plays: r.plays, ms_played: r.msPlayed }));
  }

  async topArtists(scope: HistoryScope, range: TimeRange, options: { by?: TopMeasure; limit?: number } = {}): Promise<TopArtist[]> {
    const { memberIds } = await this.resolve(scope);
    const rows = await this.store.history.topArtists(memberIds, range, options.by ?? 'plays', options.limit ?? 10);
    return rows.map((r: TopArtistRow) => ({ artist: r.artist, plays: r.plays, ms_played: r.msPlayed }));
  }

  /** cells[weekday][hour] with weekday 0 = Monday, in local time of the zone. */
  async heatmap(scope: HistoryScope, range: TimeRange, options: { timeZone?: string; measure?: TopMeasure } = {}): Promise<Heatmap> {
    const timeZone = checkTimeZone(options.timeZone ?? 'UTC');
    const measure = options.measure ?? 'plays';
    const { memberIds } = await this.resolve(scope);
    const cells = Array.from({ length: 7 }, () => Array<number>(24).fill(0));
    const offsets = new Map<number, number>();
    for (const bucket of await this.store.history.playBuckets(memberIds, range, HEATMAP_BUCKET_MS)) {
      const hourKey = Math.floor(bucket.startMs / 3_600_000);
      let offset = offsets.get(hourKey);
      if (offset === undefined) offsets.set(hourKey, (offset = offsetMinutes(hourKey * 3_600_000, timeZone)));
      const local = new Date(bucket.startMs + offset * 60_000);
      cells[(local.getUTCDay() + 6) % 7]![local.getUTCHours()]! += measure === 'plays' ? bucket.plays : bucket.msPlayed;
    }
    return { time_zone: timeZone, measure, cells };
  }

  /** What was played and shared on the same calendar day in past years, or the same weekday in past weeks. */
  async onThisDay(
    scope: HistoryScope,
    options: { date?: string; timeZone?: string; mode?: 'years' | 'weeks'; count?: number; limit?: number; nowMs?: number } = {},
  ): Promise<OnThisDay[]> {
    const timeZone = checkTimeZone(options.timeZone ?? 'UTC');
    const date = checkDate(options.date ?? localTime(options.nowMs ?? Date.now(), timeZone).date);
    const { crewId, memberIds } = await this.resolve(scope);
    const days: OnThisDay[] = [];
    for (const past of pastDates(date, options.mode ?? 'years', options.count ?? 5)) {
      const range = localDayRange(past, timeZone);
      const plays = (await this.store.history.listPlays(memberIds, range, options.limit ?? 20)).map(toPlayView);
      const shares = crewId ? await this.sharesIn(crewId, range, scope.fromSeq) : [];
      if (plays.length > 0 || shares.length > 0) days.push({ date: past, plays, shares });
    }
    return days;
  }

  /** The member's plays stored and the imports they came in by. */
  async coverage(memberId: string): Promise<HistoryCoverage> {
    const [imports, playsStored] = await Promise.all([this.store.history.listImports(memberId), this.store.history.countPlays(memberId)]);
    return { plays_stored: playsStored, imports: imports.map((i) => ({ file_name: i.fileName, started_at: i.startedAt, counts: i.counts })) };
  }

  /**
   * Throwback candidates for the crew queue: tracks shared on today's weekday in past
   * weeks, leaving out any track a member played in the last recentDays (by URI, or by
   * artist and title for plays without one). The queue leaves out its own recent tracks.
   */
  async throwback(
    crewId: string,
    options: { nowMs?: number; timeZone?: string; weeks?: number; recentDays?: number; limit?: number; fromSeq?: number } = {},
  ): Promise<ThrowbackTrack[]> {
    const nowMs = options.nowMs ?? Date.now();
    const timeZone = checkTimeZone(options.timeZone ?? 'UTC');
    const recent: TimeRange = { fromMs: nowMs - (options.recentDays ?? 14) * DAY_MS, toMs: nowMs + 1 };
    const { memberIds } = await this.resolve({ crewId });
    const played = await this.store.history.playedTracks(memberIds, recent);
    const exclude = new Set([...played.uris, ...played.trackKeys]);
    const today = localTime(nowMs, timeZone).date;
    const found = new Map<string, ThrowbackTrack>();
    for (const past of pastDates(today, 'weeks', options.weeks ?? 8)) {
      for (const share of await this.sharesIn(crewId, localDayRange(past, timeZone), options.fromSeq)) {
        if (exclude.has(share.spotify_uri) || exclude.has(trackKey(share.artist, share.track))) continue;
        if (!isTrackUri(share.spotify_uri)) continue;
        const seen = found.get(share.spotify_uri);
        const latest = seen && seen.shared_at > share.shared_at ? seen : share;
        found.set(share.spotify_uri, { ...latest, times_shared: (seen?.times_shared ?? 0) + 1 });
      }
    }
    return [...found.values()].sort((a, b) => b.times_shared - a.times_shared || b.shared_at - a.shared_at).slice(0, options.limit ?? 10);
  }

  private async sharesIn(crewId: string, range: TimeRange, fromSeq?: number): Promise<ShareView[]> {
    const events = await this.crewEvents(crewId, range, fromSeq);
    return events.map(asShare).filter((s): s is ShareView => s !== null);
  }

  /** The crew's events in the range that the reader may see. */
  private async crewEvents(crewId: string, range: TimeRange, fromSeq = 1): Promise<StoredEvent[]> {
    return visibleEvents(await this.store.log.readEventsByTime(crewId, range.fromMs, range.toMs), fromSeq);
  }

  /** A crew's scope is its current members; a member's crew is the one it is in now. */
  private async resolve(scope: HistoryScope): Promise<{ crewId: string | null; memberIds: string[] }> {
    if ('crewId' in scope) {
      if (!(await this.store.crews.getCrew(scope.crewId))) throw new ProtocolError('not_found', 'No crew has this id.');
      const members = await this.store.crews.listMembers(scope.crewId);
      return { crewId: scope.crewId, memberIds: members.map((m) => m.deviceId) };
    }
    const membership = await this.store.crews.getMembership(scope.memberId);
    return { crewId: membership?.crewId ?? null, memberIds: [scope.memberId] };
  }
}

function sentBy(event: CrewEvent): string | null {
  return event.type === 'message' ? event.from_device : null;
}

function pastDates(date: string, mode: 'years' | 'weeks', count: number): string[] {
  const dates: string[] = [];
  for (let k = 1; k <= count; k++) {
    if (mode === 'weeks') {
      dates.push(addDays(date, -7 * k));
      continue;
    }
    const past = `${String(Number(date.slice(0, 4)) - k).padStart(4, '0')}${date.slice(4)}`;
    // 29 February exists only in leap years; other years have no such day.
    if (isCalendarDate(past)) dates.push(past);
  }
  return dates;
}
