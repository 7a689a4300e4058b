import type {
  CrewSpotifyAppCheck,
  CrewSpotifyAppStatus,
  CrewMixtape,
  FoundTrack,
  Heatmap,
  InboundOf,
  OnThisDay,
  PlayView,
  QueueSnapshot,
  QueueTrack,
  ShareView,
  SpotifyDeviceView,
  TopArtist,
  TopMeasure,
  TopTrack,
} from '../protocol/index.js';

/*
 * The ports between the relay's features: types only. A feature depends on these, never on
 * another feature; cloud/compose.ts (the composition root) builds the features in order and
 * hands each the ports it needs. What crosses:
 *   spotify → history, queue: ListeningAccess (members' tokens), TrackLookup (catalog data)
 *   spotify → crew pages:     CrewSpotifyApp (the owner's own Spotify app)
 *   history → queue:          ThrowbackSource (old shares to fill a quiet queue)
 *   history → MCP:            HistoryReads (tops, heatmap, on this day, coverage)
 *   spotify → MCP:            MemberSpotify (search and playlists in a member's own Spotify)
 *   queue → crew pages, MCP:  QueueCommands (the same commands a gadget sends, and the queue now)
 *   history, MCP → crew pages: the member API router (express.Router, no type of its own)
 * The crew pages own the member links: the gadget's `crew_link` is their socket handler.
 */

/** Who runs a queue command: a crew member as the queue sees it. */
export interface Actor {
  readonly deviceId: string;
  readonly name: string;
  readonly isOwner: boolean;
}

/** The queue commands a gadget sends, as the crew pages and MCP run them too. */
export type QueueCommand = InboundOf<
  | 'queue_add'
  | 'queue_vote'
  | 'queue_jam'
  | 'queue_remove'
  | 'queue_skip'
  | 'queue_skip_vote'
  | 'queue_pause'
  | 'queue_resume'
  | 'queue_clear'
  | 'queue_throwback'
  | 'airhorn'
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

/** What the crew owner's "Spotify app for this crew" section shows (the crew pages' HTTP API, protocol/crew-pages.ts). */
export type CrewAppStatus = CrewSpotifyAppStatus;

/** The crew owner's management of the crew's own Spotify app (the crew pages' HTTP API uses it). */
export interface CrewSpotifyApp {
  status(crewId: string): Promise<CrewAppStatus>;
  register(crewId: string, clientId: string, clientSecret: string | undefined): Promise<CrewAppStatus>;
  remove(crewId: string): Promise<CrewAppStatus>;
  /** The check that the app works: a sign-in of this gadget, with the crew's app, from the owner's phone. */
  startCheck(deviceId: string): Promise<CrewSpotifyAppCheck>;
}

// A found track and a Connect device are the crew pages' HTTP API's (protocol/crew-pages.ts).
export type { FoundTrack, SpotifyDeviceView };

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
  /** The member's Spotify Connect devices. */
  devices(deviceId: string): Promise<SpotifyDeviceView[]>;
  /** Moves the member's playback to one of their devices and plays there. */
  playOn(deviceId: string, spotifyDeviceId: string): Promise<void>;
}

/** fromMs <= t < toMs, ms since epoch. */
export interface TimeRange {
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * Whose history: a crew's or one member's. `fromSeq` is the first crew seq the reader may see
 * (cloud/crew-visibility.ts): crew events (shares, reactions, messages) before it are left out;
 * plays are members' own listening and are not crew events. Without it: the whole log (the
 * queue's own throwback, which no member reads directly).
 */
export type HistoryScope = ({ readonly crewId: string } | { readonly memberId: string }) & { readonly fromSeq?: number };

// The history views are the crew pages' HTTP API's (protocol/crew-pages.ts), one definition.
export type { Heatmap, OnThisDay, PlayView, ShareView, TopArtist, TopMeasure, TopTrack };

/** How much of a member's listening the relay holds: plays stored, and the imports they came in by. */
export interface HistoryCoverage {
  readonly plays_stored: number;
  readonly imports: { readonly file_name: string; readonly started_at: number; readonly counts: Readonly<Record<string, number>> }[];
}

/** What MCP reads of the crew's history (the history feature's queries implement it). */
export interface HistoryReads {
  topTracks(scope: HistoryScope, range: TimeRange, options?: { by?: TopMeasure; limit?: number }): Promise<TopTrack[]>;
  topArtists(scope: HistoryScope, range: TimeRange, options?: { by?: TopMeasure; limit?: number }): Promise<TopArtist[]>;
  /** cells[weekday][hour] with weekday 0 = Monday, in local time of the zone. */
  heatmap(scope: HistoryScope, range: TimeRange, options?: { timeZone?: string; measure?: TopMeasure }): Promise<Heatmap>;
  /** What was played and shared on the same calendar day in past years. */
  onThisDay(scope: HistoryScope, options?: { date?: string; timeZone?: string }): Promise<OnThisDay[]>;
  coverage(memberId: string): Promise<HistoryCoverage>;
}

/** Who asks for a mixtape, and what of the crew they may read (cloud/crew-visibility.ts). */
export interface MixtapeFor {
  readonly deviceId: string;
  readonly crewId: string;
  readonly fromSeq: number;
}

/**
 * The weekly crew mixtape (history's MixtapeMaker), made in the asking member's own Spotify,
 * once per member and week; for the crew pages and MCP.
 */
export interface CrewMixtapes {
  make(who: MixtapeFor, options: { weekOf?: string; timeZone: string; limit: number }): Promise<CrewMixtape>;
}
