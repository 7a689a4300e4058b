import { z } from 'zod';
import { CATALOG_TRACK_URI } from '../protocol/index.js';
import { SpotifyError, type SpotifyHttp } from './spotify-http.js';

/*
 * The Spotify Web API calls LEELOO makes, with every answer checked by zod. Used by the
 * gadget (now playing, queue, play) and by the relay (me, recently-played, and for a member's
 * assistant: search and playlists).
 */

const Image = z.object({ url: z.url(), width: z.number().nullable().optional(), height: z.number().nullable().optional() });

export const Track = z.object({
  // Local files have no id.
  id: z.string().nullable(),
  uri: z.string(),
  name: z.string(),
  duration_ms: z.number().int().nonnegative(),
  artists: z.array(z.object({ name: z.string() })),
  album: z.object({ name: z.string(), images: z.array(Image).default([]) }),
});
export type Track = z.infer<typeof Track>;

export const CurrentlyPlaying = z.object({
  timestamp: z.number(),
  progress_ms: z.number().int().nonnegative().nullable(),
  is_playing: z.boolean(),
  currently_playing_type: z.string().optional(),
  // Null during ads and for episodes (we do not ask for additional_types).
  item: Track.nullable(),
});
export type CurrentlyPlaying = z.infer<typeof CurrentlyPlaying>;

export const RecentlyPlayedPage = z.object({
  items: z.array(z.object({ track: Track, played_at: z.iso.datetime({ offset: true }) })),
  next: z.string().nullable(),
  cursors: z.object({ after: z.string().nullable().optional(), before: z.string().nullable().optional() }).nullable(),
  limit: z.number().int(),
});
export type RecentlyPlayedPage = z.infer<typeof RecentlyPlayedPage>;

/** `account_id` (May 2026) is the stable id of the account; `id` is the older user name. */
export const SpotifyProfile = z.object({
  id: z.string().min(1),
  account_id: z.string().min(1).optional(),
  display_name: z.string().nullable().optional(),
});
export type SpotifyProfile = z.infer<typeof SpotifyProfile>;

/** Spotify's search answers at most 10 items per type since February 2026 (development-mode apps). */
export const SEARCH_LIMIT_MAX = 10;
/** Items per POST /playlists/{id}/items at most. */
export const PLAYLIST_ITEMS_MAX = 100;

export const TrackSearchPage = z.object({ tracks: z.object({ items: z.array(Track), total: z.number().int().optional() }) });
export type TrackSearchPage = z.infer<typeof TrackSearchPage>;

export const Playlist = z.object({
  id: z.string().min(1),
  uri: z.string().min(1),
  name: z.string(),
  external_urls: z.object({ spotify: z.url().optional() }).optional(),
});
export type Playlist = z.infer<typeof Playlist>;

const PlaylistSnapshot = z.object({ snapshot_id: z.string() });

/** A Spotify Connect device of the user (GET /me/player/devices). */
export const ConnectDevice = z.object({
  // Spotify may answer null for a device it cannot address.
  id: z.string().nullable(),
  is_active: z.boolean(),
  name: z.string(),
  type: z.string(),
  is_restricted: z.boolean().optional(),
});
export type ConnectDevice = z.infer<typeof ConnectDevice>;

/** Thrown by an AccessTokenSource when the member must sign in with Spotify (again): `reason` as the relay names it. */
export class NotSignedInError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'NotSignedInError';
  }
}

/** Where access tokens come from: the relay broker on the gadget, the store on the relay. */
export interface AccessTokenSource {
  token(): Promise<string>;
  /** Called once after a 401 with the token Spotify refused; returns a fresher one. */
  refresh(refused: string): Promise<string>;
}

export type NowPlayingPoll = { kind: 'unchanged' } | { kind: 'idle'; etag: null } | { kind: 'playing'; playing: CurrentlyPlaying; etag: string | null };

export interface WebApiOptions {
  http: SpotifyHttp;
  /** A function so the base URL can follow what the relay hands out with tokens. */
  apiUrl: () => string;
  tokens: AccessTokenSource;
  /** The rate-limit key: one per Spotify user. */
  limiterKey: string;
}

export class SpotifyWebApi {
  constructor(private readonly options: WebApiOptions) {}

  /** With the ETag of the last answer, Spotify may answer 304: nothing changed. */
  async currentlyPlaying(etag?: string | null): Promise<NowPlayingPoll> {
    const response = await this.call('GET', '/me/player/currently-playing', { headers: etag ? { 'if-none-match': etag } : {} });
    if (response.status === 304) return { kind: 'unchanged' };
    if (response.status === 204) return { kind: 'idle', etag: null };
    const playing = await parse(response, CurrentlyPlaying);
    return { kind: 'playing', playing, etag: response.headers.get('etag') };
  }

  async addToQueue(uri: string): Promise<void> {
    await this.call('POST', `/me/player/queue?uri=${encodeURIComponent(uri)}`);
  }

  /** Plays the tracks on the active player, the first from `positionMs` when given. */
  async play(uris: string[], positionMs?: number): Promise<void> {
    const body = positionMs === undefined ? { uris } : { uris, position_ms: Math.max(0, Math.round(positionMs)) };
    await this.call('PUT', '/me/player/play', { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  }

  async pause(): Promise<void> {
    await this.call('PUT', '/me/player/pause');
  }

  /** Moves the active player to a position in the track it plays. */
  async seek(positionMs: number): Promise<void> {
    await this.call('PUT', `/me/player/seek?position_ms=${Math.max(0, Math.round(positionMs))}`);
  }

  /** The user's Spotify Connect devices (phones, computers, speakers signed in to the account). */
  async devices(): Promise<ConnectDevice[]> {
    return (await parse(await this.call('GET', '/me/player/devices'), z.object({ devices: z.array(ConnectDevice) }))).devices;
  }

  /** Makes a device the active player, playing on there when `play`. */
  async transferPlayback(deviceId: string, play: boolean): Promise<void> {
    await this.call('PUT', '/me/player', { body: JSON.stringify({ device_ids: [deviceId], play }), headers: { 'content-type': 'application/json' } });
  }

  /** The catalog track behind a `spotify:track:…` URI (the relay fills in what a pasted link lacks). */
  async track(uri: string): Promise<Track> {
    const id = CATALOG_TRACK_URI.exec(uri)?.[1];
    if (!id) throw new SpotifyError('bad_request', { detail: `not a track URI: ${uri}` });
    return parse(await this.call('GET', `/tracks/${id}`), Track);
  }

  async recentlyPlayed(query: { limit?: number; after?: number; before?: number } = {}): Promise<RecentlyPlayedPage> {
    const params = new URLSearchParams({ limit: String(query.limit ?? 50) });
    if (query.after !== undefined) params.set('after', String(query.after));
    if (query.before !== undefined) params.set('before', String(query.before));
    return parse(await this.call('GET', `/me/player/recently-played?${params}`), RecentlyPlayedPage);
  }

  /** Catalog tracks matching a free-text query (`limit` 1–10). */
  async searchTracks(query: string, limit = 5): Promise<Track[]> {
    const params = new URLSearchParams({ q: query, type: 'track', limit: String(Math.min(SEARCH_LIMIT_MAX, Math.max(1, Math.trunc(limit)))) });
    return (await parse(await this.call('GET', `/search?${params}`), TrackSearchPage)).tracks.items;
  }

  /** A new playlist in the signed-in user's own account (POST /me/playlists, the February 2026 path). */
  async createPlaylist(playlist: { name: string; description?: string; public?: boolean }): Promise<Playlist> {
    const body = JSON.stringify({ name: playlist.name, description: playlist.description ?? '', public: playlist.public ?? false });
    return parse(await this.call('POST', '/me/playlists', { body, headers: { 'content-type': 'application/json' } }), Playlist);
  }

  /** Appends up to 100 items to a playlist (POST /playlists/{id}/items); answers the new snapshot id. */
  async addPlaylistItems(playlistId: string, uris: readonly string[]): Promise<string> {
    if (uris.length === 0 || uris.length > PLAYLIST_ITEMS_MAX)
      throw new SpotifyError('bad_request', { detail: `1–${PLAYLIST_ITEMS_MAX} items per call, not ${uris.length}` });
    const body = JSON.stringify({ uris });
    const path = `/playlists/${encodeURIComponent(playlistId)}/items`;
    return (await parse(await this.call('POST', path, { body, headers: { 'content-type': 'application/json' } }), PlaylistSnapshot)).snapshot_id;
  }

  async me(): Promise<SpotifyProfile> {
    return parse(await this.call('GET', '/me'), SpotifyProfile);
  }

  private async call(method: 'GET' | 'POST' | 'PUT', path: string, extra: { headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    const send = (token: string) =>
      this.options.http.send({
        method,
        url: this.options.apiUrl().replace(/\/$/, '') + path,
        limiterKey: this.options.limiterKey,
        headers: { ...extra.headers, authorization: `Bearer ${token}` },
        body: extra.body,
      });
    const token = await this.options.tokens.token();
    try {
      return await send(token);
    } catch (error) {
      if (!(error instanceof SpotifyError) || error.code !== 'unauthorized') throw error;
      return send(await this.options.tokens.refresh(token));
    }
  }
}

async function parse<T extends z.ZodType>(response: Response, schema: T): Promise<z.infer<T>> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new SpotifyError('bad_response', { status: response.status, detail: 'not JSON' });
  }
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new SpotifyError('bad_response', { status: response.status, detail: `${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim() });
  }
  return result.data;
}

/** The album image closest to (and not smaller than, when possible) the wanted size. */
export function pickAlbumImage(track: Track, size: number): string | null {
  const images = [...track.album.images].sort((a, b) => (a.width ?? 0) - (b.width ?? 0));
  return (images.find((i) => (i.width ?? 0) >= size) ?? images[images.length - 1])?.url ?? null;
}
