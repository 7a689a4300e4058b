import { loadConfig, type RelayConfig } from '../../cloud/config.js';
import { createLogger, type Logger } from '../../cloud/log.js';
import { createRelay, type Relay, type RelayOptions } from '../../cloud/server.js';
import { openStore, sharedParts } from '../../cloud/store/open-store.js';
import type { Store } from '../../cloud/store/store.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';
import { TestClient } from './ws-client.js';

/**
 * Every test connects from 127.0.0.1, so test relays give that one address room for the
 * crews and failed joins a suite makes; the abuse tests set the production budgets back. A
 * test machine busy with other suites can run a relay's loop 100 ms late: test relays refuse
 * crew messages for it only past 2 s (test/cloud/overload.test.ts runs the default).
 */
export const TEST_RELAY_LIMITS: Record<string, string> = {
  NEW_CREWS_BURST: '100000',
  JOIN_FAILURES_BURST: '100000',
  MAX_CONNECTIONS_PER_ADDRESS: '100000',
  OVERLOAD_LAG_MS: '2000',
};

export interface InProcessRelay {
  readonly relay: Relay;
  readonly store: Store;
  readonly config: RelayConfig;
  readonly port: number;
  readonly dataDir: string;
  readonly httpUrl: string;
  readonly wsUrl: string;
  connect(): Promise<TestClient>;
  /** Stops the relay (closes the store) and removes the temp data dir. */
  close(): Promise<void>;
}

/**
 * createRelay in the test process on 127.0.0.1:0 with a temp data dir: fast, and lets a
 * test pass features, env overrides (e.g. HEARTBEAT_INTERVAL_MS, RATE_LIMIT_*) and a logger
 * whose lines it reads.
 */
export async function startInProcessRelay(
  options: { env?: Record<string, string>; features?: RelayOptions['features']; log?: Logger } = {},
): Promise<InProcessRelay> {
  const dataDir = await makeTempDir('leeloo-relay-');
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LEELOO_DATA_DIR: dataDir, ...TEST_RELAY_LIMITS, ...options.env });
  const log = options.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const store = await openStore(config, log);
  const relay = createRelay({ config, store, log, features: options.features, ...sharedParts(store, log) });
  const { port } = await relay.start();
  let closed = false;
  return {
    relay,
    store,
    config,
    port,
    dataDir,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    connect: () => TestClient.connect(`ws://127.0.0.1:${port}/ws`),
    async close() {
      if (closed) return;
      closed = true;
      await relay.stop();
      await removeTempDir(dataDir);
    },
  };
}
