import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { LocalBus, type RelayBus } from '../bus.js';
import type { RelayConfig } from '../config.js';
import { LocalLeases, type Leases } from '../leases.js';
import { createLogger, type Logger } from '../log.js';
import { RedisBus } from './redis/redis-bus.js';
import { RedisLeases } from './redis/redis-leases.js';
import { openRedisStore, type RedisStore } from './redis/redis-store.js';
import { openSqliteStore } from './sqlite-store.js';
import { SQLITE_FILE_NAME, type Store } from './store.js';

type StoreSettings = Pick<RelayConfig, 'dataDir' | 'redisUrl'> & Partial<Pick<RelayConfig, 'sqliteSync' | 'redisPrefix'>>;

/** Opens the store the configuration names: Redis when REDIS_URL is set, else the embedded SQLite file. */
export async function openStore(config: StoreSettings, log: Logger = createLogger('silent')): Promise<Store> {
  if (config.redisUrl) return openRedisStore(config.redisUrl, config.redisPrefix ?? 'leeloo:', log);
  return openSqliteStore(path.join(config.dataDir, SQLITE_FILE_NAME), {
    synchronous: config.sqliteSync ?? 'full',
    onWriterFailure: (error) => log.error({ err: error }, "the store's writer thread failed; the event loop writes the crew log from now on"),
  });
}

/**
 * What crosses relay processes, on the store's Redis: the bus (fan-out, presence) and the
 * leases (once-per-relay work), under one id for this process. The embedded store has one
 * process: LocalBus and LocalLeases.
 */
export function sharedParts(store: Store, log: Logger): { bus: RelayBus; leases: Leases } {
  if (!isRedisStore(store)) return { bus: new LocalBus(), leases: new LocalLeases() };
  const processId = `${os
    .hostname()
    .replace(/[^\w.-]/g, '_')
    .slice(0, 60)}-${process.pid}-${randomBytes(4).toString('hex')}`;
  store.announceAppends(processId);
  return {
    bus: new RedisBus(store.redis, store.prefix, log, { processId }),
    leases: new RedisLeases(store.redis, store.prefix, processId),
  };
}

function isRedisStore(store: Store): store is RedisStore {
  return store.kind === 'redis';
}
