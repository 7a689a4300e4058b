import type { CrewSpotifyAppCheck, CrewSpotifyAppStatus, InboundOf, QueueSnapshot, QueueTrack } from '../protocol/index.js';

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
