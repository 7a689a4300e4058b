import path from 'node:path';
import { ProtocolError } from '../../protocol/index.js';
import type { RelayConfig } from '../config.js';
import { openSqliteStore } from './sqlite-store.js';
import { SQLITE_FILE_NAME, type Store } from './store.js';

/** Opens the store the configuration names. */
export async function openStore(config: Pick<RelayConfig, 'dataDir' | 'redisUrl'> & Partial<Pick<RelayConfig, 'sqliteSync'>>): Promise<Store> {
  if (config.redisUrl) {
    throw new ProtocolError(
      'unavailable',
      'REDIS_URL is set, but the Redis store is not available in this build of the relay; unset REDIS_URL to use the embedded SQLite store.',
    );
  }
  return openSqliteStore(path.join(config.dataDir, SQLITE_FILE_NAME), { synchronous: config.sqliteSync ?? 'full' });
}
