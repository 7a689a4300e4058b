/**
 * A process that holds a Redis lease, for the failover test (test/cloud/leases.test.ts):
 * `node --import tsx test/helpers/lease-holder.ts <redis url> <prefix> <lease> <ttl ms> <retry ms>`.
 * Prints one JSON line per change: `{"gained":<token>}` when its work starts, `{"lost":true}` when it stops.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { LeasedWork } from '../../cloud/leases.js';
import { createLogger } from '../../cloud/log.js';
import { RedisLeases } from '../../cloud/store/redis/redis-leases.js';

const [url, prefix, name, ttlMs, retryMs] = process.argv.slice(2);
if (!url || !prefix || !name || !ttlMs || !retryMs) {
  process.stderr.write('usage: lease-holder.ts <redis url> <prefix> <lease> <ttl ms> <retry ms>\n');
  process.exit(2);
}
const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
redis.on('error', () => undefined);
await redis.connect();
const work = new LeasedWork({
  leases: new RedisLeases(redis, prefix, `holder-${process.pid}-${randomBytes(3).toString('hex')}`),
  name,
  log: createLogger('silent'),
  timings: { ttlMs: Number(ttlMs), retryMs: Number(retryMs) },
  work: {
    start: async (token) => void process.stdout.write(`${JSON.stringify({ gained: token })}\n`),
    stop: async () => void process.stdout.write(`${JSON.stringify({ lost: true })}\n`),
  },
});
await work.start();
// Holds until killed; a SIGTERM gives the lease back first.
process.on('SIGTERM', () => void work.stop().then(() => process.exit(0)));
setInterval(() => undefined, 60_000);
