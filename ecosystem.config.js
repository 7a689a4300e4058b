// PM2 definition of the LEELOO relay: `npm run build && pm2 start ecosystem.config.js`.
// The package is an ES module; `apps` is a named export so PM2 finds it whether it
// require()s this file (Node 20.19+ loads ES modules that way) or import()s it.

/** One process on the embedded SQLite store (a single writer): `pm2 start ecosystem.config.js --only leeloo-relay`. */
const relay = {
  name: 'leeloo-relay',
  script: 'dist/cloud/main.js',
  exec_mode: 'fork',
  instances: 1,
  // The relay calls process.send('ready') once it listens; PM2 waits for it.
  wait_ready: true,
  listen_timeout: 15000,
  // SIGINT → stop accepting, close sockets with 1001, flush, close the store, exit 0.
  kill_timeout: 10000,
  shutdown_with_message: false,
  max_memory_restart: '400M',
  restart_delay: 1000,
  exp_backoff_restart_delay: 200,
  merge_logs: true,
  time: false,
  env: {
    NODE_ENV: 'production',
    PORT: '8080',
    HOST: '127.0.0.1',
    LEELOO_DATA_DIR: './data',
    LOG_LEVEL: 'info',
    TRUST_PROXY: 'loopback',
  },
};

/**
 * Several processes on Redis: `pm2 start ecosystem.config.js --only leeloo-relay-cluster`.
 * PM2's cluster mode shares the one port among the processes; every process keeps its own
 * sockets and they reach each other through Redis (crew log, fan-out, presence, leases), so a
 * gadget may land on any of them (README: several relay processes on Redis). `pm2 reload`
 * replaces them one at a time: each stops accepting, closes its sockets with 1001 (the
 * gadgets reconnect to the others and resume), flushes and exits before the next goes.
 */
const relayCluster = {
  ...relay,
  name: 'leeloo-relay-cluster',
  exec_mode: 'cluster',
  instances: 2,
  // Each new process says ready only once it listens with the store and bus connected.
  wait_ready: true,
  listen_timeout: 15000,
  kill_timeout: 10000,
  max_memory_restart: '400M',
  env: { ...relay.env, REDIS_URL: 'redis://127.0.0.1:6379/0', LEELOO_REDIS_PREFIX: 'leeloo:' },
};

export const apps = [relay, relayCluster];

export default { apps };
