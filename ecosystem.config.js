// PM2 definition of the LEELOO relay: `npm run build && pm2 start ecosystem.config.js`.
// The package is an ES module; `apps` is a named export so PM2 finds it whether it
// require()s this file (Node 20.19+ loads ES modules that way) or import()s it.

/** One process: the embedded SQLite store allows a single writer. */
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

// With Redis (REDIS_URL set; not available in this build yet) the relay can run in cluster
// mode, one process per core, all sharing crew state and fan-out through Redis:
//
// const relayCluster = {
//   ...relay,
//   name: 'leeloo-relay-cluster',
//   exec_mode: 'cluster',
//   instances: 'max',
//   env: { ...relay.env, REDIS_URL: 'redis://127.0.0.1:6379/0' },
// };

export const apps = [relay];

export default { apps };
