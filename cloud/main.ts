import { existsSync } from 'node:fs';
import { EXIT_CONFIG } from '../protocol/settings.js';
import express from 'express';
import { ConfigError, loadConfig, type RelayConfig } from './config.js';
import type { FeatureFactory, RelayContext } from './feature.js';
import { limitHeapGrowth } from './heap-growth.js';
import { historyFeatureFactory } from './history/history-feature.js';
import { createLogger } from './log.js';
import { mcpFeatureFactory } from './mcp/mcp-feature.js';
import { mcpMemberRouter } from './mcp/mcp-tokens.js';
import { queueFeatureFactory, type QueueFeature } from './queue/queue-feature.js';
import { createRelay } from './server.js';
import { spotifyFeatureFactory } from './spotify/spotify-feature.js';
import { spotifyTrackLookup } from './spotify/track-lookup.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';
import { telegramFeatureFactory } from './telegram/telegram-feature.js';

/** Feature areas plugged into the relay; each area adds its factory here. */
/** The Spotify feature first: `spotify.access` (ListeningAccess) is what the history collector uses. */
const spotify = spotifyFeatureFactory();
/** History collects through `spotify.access`; its member routes are mounted by the crew pages. */
const history = historyFeatureFactory(spotify.access);
/** Tracks queued without a duration get theirs from Spotify, with the adder's (or the owner's) token. */
const lookupTrack = spotifyTrackLookup({ access: spotify.access, apiUrl: () => spotify.feature()?.apiUrl ?? null });
/** Behind the member link on the crew pages: the member's own MCP tokens, then history (stats, import). */
const memberApi = (context: RelayContext) => express.Router().use(mcpMemberRouter(context), history.memberApi);
const queueFactory = queueFeatureFactory({ memberApi, lookupTrack, spotifyApp: spotify.crewApp });
/** The queue feature once built: the MCP tools run queue commands through it. */
let queue: QueueFeature | null = null;
const FEATURES: FeatureFactory[] = [
  spotify.factory,
  (context) => (queue = queueFactory(context)),
  history.factory,
  /** The Telegram bot's HTTP API (/api/telegram/*). */
  telegramFeatureFactory(),
  /** The MCP endpoint (/mcp) reads history through the history feature's queries. */
  mcpFeatureFactory({ queries: () => history.queries(), queue: () => queue }),
];

/**
 * Settings come from the environment; a `.env` file (LEELOO_ENV_FILE, default ./.env;
 * empty = none) fills in what the environment does not set. A file LEELOO_ENV_FILE names
 * must be there; ./.env may be absent.
 */
function loadEnvFile(): void {
  const named = process.env.LEELOO_ENV_FILE;
  const file = named ?? '.env';
  if (!file || (named === undefined && !existsSync(file))) return;
  try {
    process.loadEnvFile(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError('config_unreadable', 'The relay configuration is invalid:', [`LEELOO_ENV_FILE names ${file}, which cannot be read (${reason}).`]);
  }
}

async function main(): Promise<void> {
  // The settings are parsed here, once, before any feature is built; features get them typed.
  let config: RelayConfig;
  try {
    loadEnvFile();
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  limitHeapGrowth(config.heapGrowingPercent);
  const log = createLogger(config.logLevel);
  let store: Store;
  try {
    store = await openStore(config);
  } catch (error) {
    log.fatal({ err: error }, error instanceof Error ? error.message : 'cannot open the store');
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(EXIT_CONFIG);
  }
  const relay = createRelay({ config, store, log, features: FEATURES });
  const { port } = await relay.start();
  log.info({ port, host: config.host, store: store.kind, dataDir: config.dataDir, version: config.version }, 'listening');
  process.send?.('ready');

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    relay.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // PM2 on Windows and some supervisors send this message instead of a signal.
  process.on('message', (message) => {
    if (message === 'shutdown') shutdown('SIGTERM');
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`The relay failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
