import { ProtocolError } from '../../protocol/index.js';
import { SpotifyError, SpotifyHttp, type SpotifyHttpOptions } from '../../spotify/spotify-http.js';
import { pickAlbumImage, PLAYLIST_ITEMS_MAX, SpotifyWebApi, type Track } from '../../spotify/web-api.js';
import type { FoundTrack, ListeningAccess, MemberSpotify } from '../ports.js';
import { SigninRequiredError } from './token-broker.js';

export interface MemberSpotifyDeps {
  /** Members' access tokens (the Spotify feature's ListeningAccess). */
  readonly access: Pick<ListeningAccess, 'accessToken' | 'refreshedToken'>;
  /** The Web API base URL; null while Spotify is not configured. */
  readonly apiUrl: () => string | null;
  readonly http?: SpotifyHttpOptions;
}

/**
 * An assistant waits for its answer: short Retry-After waits (≤ 5 s) are waited out once (a 429
 * was not acted on, so asking again is safe), a longer one is answered at once as
 * `spotify_rate_limited` with the time to wait. A 5xx or a timeout is not retried: Spotify may
 * have made the playlist before it failed, and the mixtape's record, not a blind second POST,
 * is what finishes it.
 */
const ASSISTANT_HTTP: SpotifyHttpOptions = { timeoutMs: 8_000, maxAttempts: 1, maxRateLimitRetries: 1, maxRetryAfterWaitMs: 5_000 };

/**
 * MemberSpotify on the Web API with the member's own sign-in: a 401 is answered by one
 * refreshed token (the broker's refresh), every Spotify refusal becomes a ProtocolError with
 * the code and sentence the assistant shows.
 */
export function memberSpotify(deps: MemberSpotifyDeps): MemberSpotify {
  const http = new SpotifyHttp({ ...ASSISTANT_HTTP, ...deps.http });
  const webFor = (deviceId: string): SpotifyWebApi => {
    const apiUrl = deps.apiUrl();
    if (!apiUrl) throw new ProtocolError('spotify_not_configured');
    return new SpotifyWebApi({
      http,
      apiUrl: () => apiUrl,
      limiterKey: deviceId,
      tokens: { token: () => deps.access.accessToken(deviceId), refresh: (refused) => deps.access.refreshedToken(deviceId, refused) },
    });
  };
  const asMember = async <T>(deviceId: string, call: (web: SpotifyWebApi) => Promise<T>): Promise<T> => {
    try {
      return await call(webFor(deviceId));
    } catch (error) {
      throw refusalOf(error);
    }
  };
  return {
    searchTracks: (deviceId, query, limit) => asMember(deviceId, async (web) => (await web.searchTracks(query, limit)).map(foundTrackOf)),
    createPlaylist: (deviceId, playlist) =>
      asMember(deviceId, async (web) => {
        const made = await web.createPlaylist({ ...playlist, public: false });
        return { id: made.id, uri: made.uri, url: made.external_urls?.spotify ?? null };
      }),
    addToPlaylist: (deviceId, playlistId, uris, onBatch) =>
      asMember(deviceId, async (web) => {
        for (let at = 0; at < uris.length; at += PLAYLIST_ITEMS_MAX) {
          const batch = uris.slice(at, at + PLAYLIST_ITEMS_MAX);
          await web.addPlaylistItems(playlistId, batch);
          await onBatch?.(at + batch.length);
        }
      }),
    devices: (deviceId) =>
      asMember(deviceId, async (web) =>
        (await web.devices()).map((d) => ({ id: d.is_restricted ? null : d.id, name: d.name, type: d.type, is_active: d.is_active })),
      ),
    playOn: (deviceId, spotifyDeviceId) => asMember(deviceId, (web) => web.transferPlayback(spotifyDeviceId, true)),
  };
}

function foundTrackOf(track: Track): FoundTrack {
  return {
    spotify_uri: track.uri,
    track: track.name,
    artist: track.artists.map((a) => a.name).join(', '),
    album: track.album.name,
    duration_ms: track.duration_ms,
    album_art_url: pickAlbumImage(track, 300),
  };
}

/** What the member is told when Spotify (or the member's sign-in) refused. */
function refusalOf(error: unknown): unknown {
  if (error instanceof ProtocolError) return error;
  if (error instanceof SigninRequiredError) return new ProtocolError('spotify_signin_required', error.message);
  if (!(error instanceof SpotifyError)) return error;
  switch (error.code) {
    case 'rate_limited':
      return new ProtocolError('spotify_rate_limited', error.message, error.retryAfterMs ?? undefined);
    case 'quota_exceeded':
      return new ProtocolError('spotify_quota_exceeded');
    case 'not_allowlisted':
      return new ProtocolError('spotify_not_allowlisted');
    case 'unauthorized':
    case 'invalid_grant':
    case 'insufficient_scope':
      return new ProtocolError('spotify_signin_required', error.message);
    case 'unavailable':
    case 'bad_response':
      return new ProtocolError('spotify_unavailable', error.message);
    default:
      return new ProtocolError('spotify_refused', error.message);
  }
}
