import express from 'express';
import type { Feature, RelayContext } from './feature.js';
import { HistoryFeature, type HistoryFeatureOptions } from './history/history-feature.js';
import { MixtapeMaker } from './history/mixtape-maker.js';
import { McpFeature } from './mcp/mcp-feature.js';
import { mcpMemberRouter } from './mcp/mcp-tokens.js';
import { QueueFeature, type QueueFeatureOptions } from './queue/queue-feature.js';
import { memberSpotify } from './spotify/member-spotify.js';
import { SpotifyFeature, type SpotifyFeatureOptions } from './spotify/spotify-feature.js';
import { spotifyTrackLookup } from './spotify/track-lookup.js';
import { TelegramFeature, type TelegramFeatureOptions } from './telegram/telegram-feature.js';
import { CrewPagesFeature } from './web/crew-pages-feature.js';
import { crewMessagesRouter } from './web/crew-messages-routes.js';
import { crewSpotifyRouter } from './web/crew-spotify-routes.js';

/** Clocks and schedules for a test of the whole composition; production passes none. */
export interface CompositionOptions {
  readonly spotify?: SpotifyFeatureOptions;
  readonly history?: HistoryFeatureOptions;
  readonly queue?: Pick<QueueFeatureOptions, 'now'>;
  readonly telegram?: TelegramFeatureOptions;
}

/**
 * The relay's composition root: every feature, built in order, each handed the ports
 * (cloud/ports.ts) of the ones before it. The only file that imports more than one feature.
 */
export function composeFeatures(context: RelayContext, options: CompositionOptions = {}): Feature[] {
  const spotify = new SpotifyFeature(context, options.spotify);
  /** History collects through the members' Spotify grants. */
  const history = new HistoryFeature(context, spotify.access, options.history);
  /** Tracks queued without a duration get theirs from Spotify (the adder's token, else the owner's); a quiet queue fills from history. */
  const lookupTrack = spotifyTrackLookup({ access: spotify.access, apiUrl: () => spotify.apiUrl });
  const queue = new QueueFeature(context, { ...options.queue, throwback: history.throwback, lookupTrack });
  /** The member's own Spotify (search, Connect devices, playlists), for the crew pages and MCP. */
  const ownSpotify = memberSpotify({ access: spotify.access, apiUrl: () => spotify.apiUrl });
  /** The weekly crew mixtape from history, in the asking member's own Spotify (the crew page and MCP). */
  const mixtapes = new MixtapeMaker({ store: context.store, spotify: ownSpotify, plays: () => history.queries, now: Date.now });
  /** Behind the member link on the crew pages: the member's messages, MCP tokens and own Spotify, then history (stats, import). */
  const memberApi = express
    .Router()
    .use(crewMessagesRouter(context, options.queue?.now), mcpMemberRouter(context), crewSpotifyRouter(context, ownSpotify, mixtapes), history.memberRouter);
  const crewPages = new CrewPagesFeature(context, { queue, now: options.queue?.now, memberApi, spotifyApp: spotify.crewApp });
  /** The Telegram bot's HTTP API (/api/telegram/*). */
  const telegram = new TelegramFeature(context, options.telegram);
  /** The MCP endpoint (/mcp) reads history, runs queue commands and acts in the member's own Spotify (search, playlists). */
  const mcp = new McpFeature(context, { history: history.queries, queue, spotify: ownSpotify, mixtapes });
  return [spotify, history, queue, crewPages, telegram, mcp];
}
