import type { Redis } from 'ioredis';
import { checkLease, type Leases } from '../../leases.js';

// KEYS: the lease, its token counter. ARGV: owner, TTL ms.
// Free, or this owner's own: a new token (INCR, in the same script, so tokens grow with every grant) and the lease for TTL.
const TAKE = `
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, string.find(current, ':', 1, true) + 1) ~= ARGV[1] then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return token`;

// KEYS: the lease. ARGV: the grant (token:owner), TTL ms. 1 when extended, 0 when the lease is not that grant any more.
const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

// KEYS: the lease. ARGV: the grant (token:owner).
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`;

/** The scripts, as defineCommand adds them to the shared client. */
interface LeaseScripts {
  leasesTake(lease: string, counter: string, owner: string, ttlMs: number): Promise<number | null>;
  leasesRenew(lease: string, grant: string, ttlMs: number): Promise<number>;
  leasesRelease(lease: string, grant: string): Promise<number>;
}

/**
 * Leases in Redis, shared by every relay process on it: `${prefix}lease:<name>` holds the grant
 * `<token>:<owner>` with a PX expiry, `${prefix}lease:<name>:token` the counter its tokens come
 * from (never expiring, so tokens keep growing; a Redis that loses its data starts them again at 1,
 * along with everything else it held). Take, renew and release are Lua scripts that
 * check the owner (and the token), so a process never extends or deletes a grant that is not its own.
 */
export class RedisLeases implements Leases {
  readonly shared = true;
  private readonly scripts: LeaseScripts;
  private readonly prefix: string;
  private readonly owner: string;

  /** `owner`: this process, unique among the relay's processes (a random id per start). */
  constructor(redis: Redis, prefix: string, owner: string) {
    if (!/^[\w.-]{1,100}$/.test(owner)) throw new Error(`A lease owner is 1–100 letters, digits, dots, dashes or underscores; "${owner}" is not.`);
    this.prefix = prefix;
    this.owner = owner;
    redis.defineCommand('leasesTake', { numberOfKeys: 2, lua: TAKE });
    redis.defineCommand('leasesRenew', { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand('leasesRelease', { numberOfKeys: 1, lua: RELEASE });
    this.scripts = redis as unknown as LeaseScripts;
  }

  async acquire(name: string, ttlMs: number): Promise<number | null> {
    checkLease(name, ttlMs);
    const token = await this.scripts.leasesTake(this.key(name), `${this.key(name)}:token`, this.owner, ttlMs);
    return token === null ? null : Number(token);
  }

  async renew(name: string, token: number, ttlMs: number): Promise<boolean> {
    checkLease(name, ttlMs);
    return (await this.scripts.leasesRenew(this.key(name), this.grant(token), ttlMs)) === 1;
  }

  async release(name: string, token: number): Promise<void> {
    checkLease(name, 100);
    await this.scripts.leasesRelease(this.key(name), this.grant(token));
  }

  private key(name: string): string {
    return `${this.prefix}lease:${name}`;
  }

  private grant(token: number): string {
    return `${token}:${this.owner}`;
  }
}
