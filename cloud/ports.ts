import type { InboundOf, QueueSnapshot, QueueTrack } from '../protocol/index.js';

/*
 * The ports between the relay's features: types only. A feature depends on these, never on
 * another feature; cloud/main.ts (the composition root) builds the features in order and
 * hands each the ports it needs. What crosses:
 *   spotify → history, queue: ListeningAccess (members' tokens), TrackLookup (catalog data)
 *   spotify → crew pages:     CrewSpotifyApp (the owner's own Spotify app)
 *   history → queue:          ThrowbackSource (old shares to fill a quiet queue)
 *   queue → crew pages, MCP:  QueueCommands (the same commands a gadget sends)
 *   history → crew pages:     the member API router (express.Router, no type of its own)
 */

/** Who runs a queue command: a crew member as the queue sees it. */
export interface Actor {
  readonly deviceId: string;
  readonly name: string;
  readonly isOwner: boolean;
}

/** The queue commands a gadget sends, as the crew pages and MCP run them too. */
export type QueueCommand = InboundOf<
  'queue_add' | 'queue_vote' | 'queue_jam' | 'queue_remove' | 'queue_skip' | 'queue_pause' | 'queue_resume' | 'queue_clear' | 'queue_throwback' | 'airhorn'
>;

export interface CommandResult {
  readonly seq?: number;
  readonly duplicate: boolean;
  readonly queue?: QueueSnapshot;
}

/** What the crew pages and MCP run on the queue feature. */
export interface QueueCommands {
  run(crewId: string, actor: Actor, command: QueueCommand): Promise<CommandResult>;
  snapshot(crewId: string): Promise<QueueSnapshot>;
  /** Title, artist … of a track from Spotify, when a member's token can ask; null otherwise. */
  lookUp(crewId: string, adder: string, spotifyUri: string): Promise<Partial<QueueTrack> | null>;
}

/** Tracks for throwback: shared on this weekday in past weeks, not played recently. */
export type ThrowbackSource = (crewId: string, options: { nowMs: number; timeZone: string; limit: number }) => Promise<QueueTrack[]>;

/**
 * Fills in what a pasted link or an old gadget lacks (duration, album, title, artist) when the
 * relay can ask Spotify; `tokenHolders` are the members whose Spotify may be asked, in order
 * (the adder, then the crew owner).
 */
export type TrackLookup = (crewId: string, spotifyUri: string, tokenHolders: readonly string[]) => Promise<Partial<QueueTrack> | null>;

/** What other relay features (the history collector) may ask of Spotify. */
export interface ListeningAccess {
  /** Device ids of members with a usable Spotify grant. */
  signedInMembers(): Promise<string[]>;
  /** A fresh access token for the member; throws SigninRequiredError when the grant is gone. */
  accessToken(deviceId: string): Promise<string>;
  /** After Spotify answered 401 to `refused`: a refreshed token (or SigninRequiredError when revoked). */
  refreshedToken(deviceId: string, refused: string): Promise<string>;
}

/** What the crew owner's "Spotify app for this crew" section shows (GET /crew/api/spotify-app). */
export interface CrewAppStatus {
  /** False while the relay has no encryption key / PUBLIC_URL: no app can sign anybody in. */
  readonly configured: boolean;
  /** Exactly what to paste as the app's redirect URI in Spotify's dashboard. */
  readonly redirect_uri: string | null;
  /** The crew's own app, or null when the crew uses the relay's app. */
  readonly client_id: string | null;
  readonly has_secret: boolean;
  /** Whether the relay has an app of its own for crews without one. */
  readonly relay_app: boolean;
  /** When Spotify last answered QUOTA_EXCEEDED for the app the crew signs in with (ms), or null. */
  readonly quota_exceeded_at: number | null;
  readonly quota_message: string | null;
  /** The crew's members and which app each one's Spotify sign-in uses. */
  readonly members: readonly { device_id: string; display_name: string; spotify_name: string | null; app: 'crew' | 'relay' | 'other' | null }[];
  /** Distinct Spotify accounts signed in with the crew's own app, against the development-mode budget. */
  readonly accounts_on_crew_app: number;
  readonly budget: number;
}

/** The crew owner's management of the crew's own Spotify app (the crew pages' HTTP API uses it). */
export interface CrewSpotifyApp {
  status(crewId: string): Promise<CrewAppStatus>;
  register(crewId: string, clientId: string, clientSecret: string | undefined): Promise<CrewAppStatus>;
  remove(crewId: string): Promise<CrewAppStatus>;
  /** The check that the app works: a sign-in of this gadget, with the crew's app, from the owner's phone. */
  startCheck(deviceId: string): Promise<{ url: string; code: string; expires_at: number }>;
}

/** A catalog track as Spotify's search finds it, in the fields a queue_add takes. */
export interface FoundTrack {
  readonly spotify_uri: string;
  readonly track: string;
  readonly artist: string;
  readonly album: string;
  readonly duration_ms: number;
  readonly album_art_url: string | null;
}

/** A playlist made in a member's own Spotify account. */
export interface MadePlaylist {
  readonly id: string;
  readonly uri: string;
  /** Where a person opens it (open.spotify.com), when Spotify says. */
  readonly url: string | null;
}

/**
 * What a member's assistant may do in the member's own Spotify, with the member's own sign-in
 * (the Spotify feature's port; MCP uses it). Errors are ProtocolErrors with a sentence:
 * `spotify_signin_required` (no sign-in, or one from before LEELOO asked for playlists),
 * `spotify_rate_limited` (with retryAfterMs), `spotify_quota_exceeded`, `spotify_unavailable` …
 */
export interface MemberSpotify {
  searchTracks(deviceId: string, query: string, limit: number): Promise<FoundTrack[]>;
  /** A private playlist in the member's account. */
  createPlaylist(deviceId: string, playlist: { name: string; description: string }): Promise<MadePlaylist>;
  /** Appends the tracks in Spotify's batches (100 per call); a failure part-way leaves the earlier batches added. */
  addToPlaylist(deviceId: string, playlistId: string, uris: readonly string[], onBatch?: (added: number) => Promise<void>): Promise<void>;
}
