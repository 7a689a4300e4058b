import { existsSync } from 'node:fs';
import { EXIT_CONFIG } from '../protocol/settings.js';
import { composeFeatures } from './compose.js';
import { ConfigError, loadConfig, type RelayConfig } from './config.js';
import { limitHeapGrowth } from './heap-growth.js';
import { createLogger } from './log.js';
import { createRelay } from './server.js';
import { openStore, sharedParts } from './store/open-store.js';
import type { Store } from './store/store.js';

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
    store = await openStore(config, log);
  } catch (error) {
    log.fatal({ err: error }, error instanceof Error ? error.message : 'cannot open the store');
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(EXIT_CONFIG);
  }
  // The features, built in order by the composition root once the relay's context exists.
  // With Redis: the bus to the other relay processes and the leases on once-per-relay work.
  const { bus, leases } = sharedParts(store, log);
  const relay = createRelay({ config, store, log, features: [composeFeatures], bus, leases });
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
