import type { QueueItemView, QueueSnapshot } from '../../protocol/queue.js';
import { visibleEvents } from '../crew-visibility.js';
import type { HistoryReads, TimeRange } from '../ports.js';
import type { StoredEvent, Store } from '../store/store.js';

/** A share as an assistant reads it: who shared what, when, and the reactions it drew. */
export interface ShareWithReactions {
  readonly seq: number;
  readonly shared_by: string;
  readonly shared_by_device: string;
  readonly track: string;
  readonly artist: string;
  readonly spotify_uri: string;
  readonly note: string;
  readonly shared_at: number;
  readonly reactions: { readonly from: string; readonly reaction: string }[];
}

/**
 * The crew's shares in the range, newest first, from `fromSeq` on (what the reader may see,
 * cloud/crew-visibility.ts). A reaction belongs to the sharer's latest share before it
 * (reactions name the device they answer, not the share).
 */
export async function sharesWithReactions(store: Store, crewId: string, range: TimeRange, limit: number, fromSeq: number): Promise<ShareWithReactions[]> {
  const events = visibleEvents(await store.log.readEventsByTime(crewId, range.fromMs, range.toMs), fromSeq);
  const shares: (ShareWithReactions & { reactions: { from: string; reaction: string }[] })[] = [];
  const latestBy = new Map<string, (typeof shares)[number]>();
  for (const stored of events) {
    const e = stored.event;
    if (e.type !== 'message') continue;
    if (e.msg_type === 'song_push') {
      const share = {
        seq: stored.seq,
        shared_by: e.from_name,
        shared_by_device: e.from_device,
        track: e.payload.track,
        artist: e.payload.artist,
        spotify_uri: e.payload.spotify_uri,
        note: e.payload.note,
        shared_at: e.timestamp,
        reactions: [],
      };
      shares.push(share);
      latestBy.set(e.from_device, share);
    } else if (e.msg_type === 'reaction' && e.payload.to_device) {
      latestBy.get(e.payload.to_device)?.reactions.push({ from: e.from_name, reaction: e.payload.reaction });
    }
  }
  return shares.reverse().slice(0, limit);
}

/** The share with this seq in the crew's log, or null (also when the reader may not see it: seq < fromSeq). */
export async function shareAt(store: Store, crewId: string, seq: number, fromSeq: number): Promise<StoredEvent | null> {
  if (seq < fromSeq) return null;
  const [stored] = await store.log.readEvents(crewId, seq - 1, { toSeq: seq, limit: 1 });
  return stored && stored.event.type === 'message' && stored.event.msg_type === 'song_push' ? stored : null;
}

/** Tops, listening hours, repeat rate, peak times and data coverage of one member. */
export async function tasteSummary(queries: HistoryReads, memberId: string, range: TimeRange, timeZone: string) {
  const scope = { memberId };
  const [tracks, artists, byPlays, byTime, coverage] = await Promise.all([
    queries.topTracks(scope, range, { limit: 10_000 }),
    queries.topArtists(scope, range, { limit: 10 }),
    queries.heatmap(scope, range, { timeZone }),
    queries.heatmap(scope, range, { timeZone, measure: 'time' }),
    queries.coverage(memberId),
  ]);
  const plays = tracks.reduce((sum, t) => sum + t.plays, 0);
  const ms = byTime.cells.flat().reduce((a, b) => a + b, 0);
  const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
  const weekday = byPlays.cells.map((row) => row.reduce((a, b) => a + b, 0));
  const hour = Array.from({ length: 24 }, (_, h) => byPlays.cells.reduce((sum, row) => sum + row[h]!, 0));
  const peak = (values: number[]) => (plays === 0 ? null : values.indexOf(Math.max(...values)));
  const peakDay = peak(weekday);
  return {
    plays,
    listening_hours: Math.round((ms / 3_600_000) * 10) / 10,
    distinct_tracks: tracks.length,
    repeat_rate: plays === 0 ? 0 : Math.round((1 - tracks.length / plays) * 1000) / 1000,
    top_tracks: tracks.slice(0, 10),
    top_artists: artists,
    peak_weekday: peakDay === null ? null : WEEKDAYS[peakDay],
    peak_hour: peak(hour),
    time_zone: byPlays.time_zone,
    coverage,
  };
}

/** Crew members ranked by overlap of their top artists with mine (Jaccard of the top 25). */
export async function listensLikeMe(store: Store, queries: HistoryReads, crewId: string, memberId: string, range: TimeRange) {
  const tops = async (id: string) => new Set((await queries.topArtists({ memberId: id }, range, { limit: 25 })).map((a) => a.artist));
  const mine = await tops(memberId);
  const others = (await store.crews.listMembers(crewId)).filter((m) => m.deviceId !== memberId);
  const ranked = await Promise.all(
    others.map(async (m) => {
      const theirs = await tops(m.deviceId);
      const shared = [...mine].filter((a) => theirs.has(a));
      const union = new Set([...mine, ...theirs]).size;
      return {
        member: m.displayName,
        device_id: m.deviceId,
        overlap: union === 0 ? 0 : Math.round((shared.length / union) * 1000) / 1000,
        shared_artists: shared,
      };
    }),
  );
  return ranked.sort((a, b) => b.overlap - a.overlap);
}

/** The crew queue as an assistant reads it: what plays, and what is next in play order. */
export function queueNow(queue: QueueSnapshot) {
  const view = (e: QueueItemView) => ({ item_id: e.item_id, uri: e.spotify_uri, track: e.track, artist: e.artist, added_by: e.added_by_name, score: e.score });
  return { now_playing: queue.now_playing ? view(queue.now_playing) : null, next: queue.up_next.map(view) };
}
