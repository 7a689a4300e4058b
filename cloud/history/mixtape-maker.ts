import { ProtocolError, type CrewMixtape } from '../../protocol/index.js';
import { visibleEvents } from '../crew-visibility.js';
import type { CrewMixtapes, MemberSpotify, MixtapeFor } from '../ports.js';
import type { MixtapeRecord } from '../store/areas/mcp.js';
import type { Store } from '../store/store.js';
import { MIXTAPE_MAX_TRACKS, mixtapeTitle, mixtapeWeek, selectMixtape, type MixtapeTrack, type WeekPlay, type WeekShare } from './mixtape.js';

/** The crew's most played tracks in a range (the history queries' topTracks). */
export interface WeekPlays {
  topTracks(scope: { crewId: string; fromSeq: number }, range: { fromMs: number; toMs: number }, options: { limit: number }): Promise<WeekPlay[]>;
}

/**
 * Makes the weekly crew mixtape in a member's own Spotify, once per member and week: the
 * record is stored as soon as the playlist exists and counts the tracks Spotify took, so a
 * call repeated (or one that Spotify refused part-way, e.g. with a long 429) answers or
 * finishes the same playlist rather than making a second one.
 */
export class MixtapeMaker implements CrewMixtapes {
  private readonly making = new Map<string, Promise<CrewMixtape>>();

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly spotify: MemberSpotify | null;
      readonly plays: () => WeekPlays;
      readonly now: () => number;
    },
  ) {}

  /** One make per member and week at a time: a second call while one runs gets its answer. */
  make(who: MixtapeFor, options: { weekOf?: string; timeZone: string; limit: number }): Promise<CrewMixtape> {
    const week = mixtapeWeek(this.deps.now(), options.timeZone, options.weekOf);
    const key = `${who.deviceId} ${week.monday}`;
    let running = this.making.get(key);
    if (!running) {
      running = this.run(who, week, options.limit).finally(() => this.making.delete(key));
      this.making.set(key, running);
    }
    return running;
  }

  private async run(who: MixtapeFor, week: ReturnType<typeof mixtapeWeek>, limit: number): Promise<CrewMixtape> {
    const spotify = this.deps.spotify;
    if (!spotify) throw new ProtocolError('spotify_not_configured');
    const { store } = this.deps;
    const existing = await store.mcp.findMixtape(who.deviceId, week.monday);
    let record: MixtapeRecord;
    let tracks: MixtapeTrack[] | undefined;
    if (existing) {
      record = existing;
    } else {
      const [shares, plays] = await Promise.all([
        this.sharesOf(who, week),
        this.deps.plays().topTracks({ crewId: who.crewId, fromSeq: who.fromSeq }, week, { limit: MIXTAPE_MAX_TRACKS }),
      ]);
      tracks = selectMixtape(shares, plays, limit);
      if (tracks.length === 0) {
        throw new ProtocolError(
          'not_found',
          `Your crew shared and played no Spotify tracks in the week of ${week.monday}: there is nothing to put in a mixtape.`,
        );
      }
      const title = mixtapeTitle(week, tracks);
      const made = await spotify.createPlaylist(who.deviceId, title);
      record = {
        deviceId: who.deviceId,
        week: week.monday,
        playlistId: made.id,
        playlistUri: made.uri,
        url: made.url,
        name: title.name,
        uris: tracks.map((t) => t.uri),
        added: 0,
        createdAt: this.deps.now(),
      };
      await store.mcp.saveMixtape(record);
    }
    const from = record.added;
    if (from < record.uris.length) {
      await spotify.addToPlaylist(who.deviceId, record.playlistId, record.uris.slice(from), (added) =>
        store.mcp.noteMixtapeAdded(who.deviceId, week.monday, from + added),
      );
    }
    return {
      name: record.name,
      playlist_uri: record.playlistUri,
      url: record.url,
      week_of: record.week,
      track_count: record.uris.length,
      created: !existing,
      ...(tracks ? { tracks } : {}),
    };
  }

  /** The crew's shares in the week, as far as the member may see them. */
  private async sharesOf(who: MixtapeFor, week: { fromMs: number; toMs: number }): Promise<WeekShare[]> {
    const events = visibleEvents(await this.deps.store.log.readEventsByTime(who.crewId, week.fromMs, week.toMs), who.fromSeq);
    return events.flatMap(({ event: e }) =>
      e.type === 'message' && e.msg_type === 'song_push'
        ? [{ spotify_uri: e.payload.spotify_uri, track: e.payload.track, artist: e.payload.artist, shared_by: e.from_name, shared_at: e.timestamp }]
        : [],
    );
  }
}
