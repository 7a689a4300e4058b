import type { CrewRecap, RecapMember } from '../../protocol/index.js';
import { visibleEvents } from '../crew-visibility.js';
import type { Store } from '../store/store.js';
import { recapRange } from '../time-zones.js';
import type { HistoryQueries } from './queries.js';

const sum = (cells: readonly (readonly number[])[]) => cells.reduce((total, row) => total + row.reduce((a, b) => a + b, 0), 0);

/**
 * A crew's month or year: the crew's and each member's plays, listening time and tops, who
 * shared how much, the tracks shared for the first time, and the crew's weekday × hour heatmap.
 * Crew events count from `fromSeq` (what the reader may see, cloud/crew-visibility.ts).
 */
export async function crewRecap(
  deps: { store: Store; queries: HistoryQueries },
  crewId: string,
  fromSeq: number,
  period: string,
  timeZone = 'UTC',
): Promise<CrewRecap> {
  const range = recapRange(period, timeZone);
  const { store, queries } = deps;
  const crewScope = { crewId, fromSeq };
  const [tracks, artists, heatmap, members, log] = await Promise.all([
    queries.topTracks(crewScope, range, { limit: 10 }),
    queries.topArtists(crewScope, range, { limit: 10 }),
    queries.heatmap(crewScope, range, { timeZone, measure: 'plays' }),
    store.crews.listMembers(crewId),
    store.log.readEvents(crewId, Math.max(0, fromSeq - 1)),
  ]);
  const shares = visibleEvents(log, fromSeq).flatMap((stored) =>
    stored.event.type === 'message' && stored.event.msg_type === 'song_push' ? [stored.event] : [],
  );
  const inPeriod = shares.filter((e) => e.timestamp >= range.fromMs && e.timestamp < range.toMs);
  const sharedBefore = new Set(shares.filter((e) => e.timestamp < range.fromMs).map((e) => e.payload.spotify_uri));
  const firstShares: CrewRecap['shares']['first_shares'][number][] = [];
  for (const e of inPeriod) {
    if (sharedBefore.has(e.payload.spotify_uri)) continue;
    sharedBefore.add(e.payload.spotify_uri);
    firstShares.push({ track: e.payload.track, artist: e.payload.artist, shared_by: e.from_name, shared_at: e.timestamp });
  }
  const perMember: RecapMember[] = await Promise.all(
    members.map(async (m) => {
      const scope = { memberId: m.deviceId };
      const [plays, ms, top, topArtists] = await Promise.all([
        queries.heatmap(scope, range, { timeZone, measure: 'plays' }),
        queries.heatmap(scope, range, { timeZone, measure: 'time' }),
        queries.topTracks(scope, range, { limit: 3 }),
        queries.topArtists(scope, range, { limit: 3 }),
      ]);
      return {
        device_id: m.deviceId,
        name: m.displayName,
        plays: sum(plays.cells),
        listening_ms: sum(ms.cells),
        top_tracks: top,
        top_artists: topArtists,
        shares: inPeriod.filter((e) => e.from_device === m.deviceId).length,
      };
    }),
  );
  perMember.sort((a, b) => b.plays - a.plays || b.shares - a.shares || a.name.localeCompare(b.name));
  return {
    period,
    time_zone: timeZone,
    from_ms: range.fromMs,
    to_ms: range.toMs,
    // The crew's plays are its members' (the crew scope is its members): its time is theirs summed.
    crew: { plays: sum(heatmap.cells), listening_ms: perMember.reduce((total, m) => total + m.listening_ms, 0), top_tracks: tracks, top_artists: artists },
    members: perMember,
    shares: { total: inPeriod.length, first_shares: firstShares.slice(0, 10) },
    heatmap,
  };
}
