import type { QueueTrack } from '../../protocol/queue.js';
import { DurationMs } from '../../protocol/queue.js';
import { SpotifyError, SpotifyHttp, type SpotifyHttpOptions } from '../../spotify/spotify-http.js';
import { pickAlbumImage, SpotifyWebApi, type Track } from '../../spotify/web-api.js';
import type { ListeningAccess, TrackLookup } from '../ports.js';

export interface TrackLookupDeps {
  /** Members' access tokens (the Spotify feature's ListeningAccess). */
  readonly access: Pick<ListeningAccess, 'accessToken'>;
  /** The Web API base URL; null while Spotify is not configured (no lookup then). */
  readonly apiUrl: () => string | null;
  readonly http?: SpotifyHttpOptions;
}

/**
 * Short timeouts and no long waits: the lookup runs while a member's add is being applied,
 * and a slow Spotify must cost the add its exact duration, never the add itself.
 */
const LOOKUP_HTTP: SpotifyHttpOptions = { timeoutMs: 3_000, maxAttempts: 2, maxRateLimitRetries: 0, backoffBaseMs: 200, backoffMaxMs: 500 };

/**
 * The queue's TrackLookup through Spotify's GET /v1/tracks/{id}: tries the given members'
 * tokens in order (the adder, then the crew owner); a member without a grant, or a failing
 * call, passes to the next; null when none could ask (the queue then uses its default).
 */
export function spotifyTrackLookup(deps: TrackLookupDeps): TrackLookup {
  const http = new SpotifyHttp({ ...LOOKUP_HTTP, ...deps.http });
  return async (_crewId, spotifyUri, tokenHolders) => {
    const apiUrl = deps.apiUrl();
    if (!apiUrl) return null;
    for (const deviceId of tokenHolders) {
      const web = new SpotifyWebApi({
        http,
        apiUrl: () => apiUrl,
        limiterKey: deviceId,
        tokens: { token: () => deps.access.accessToken(deviceId), refresh: () => deps.access.accessToken(deviceId) },
      });
      try {
        return queueTrackOf(await web.track(spotifyUri));
      } catch (error) {
        // The track does not exist: another member's token will not find it either.
        if (error instanceof SpotifyError && (error.code === 'not_found' || error.code === 'bad_request')) return null;
      }
    }
    return null;
  };
}

function queueTrackOf(track: Track): Partial<QueueTrack> {
  const duration = DurationMs.safeParse(track.duration_ms);
  return {
    track: track.name,
    artist: track.artists.map((a) => a.name).join(', '),
    album: track.album.name,
    album_art_url: pickAlbumImage(track, 300) ?? '',
    ...(duration.success ? { duration_ms: duration.data } : {}),
  };
}
