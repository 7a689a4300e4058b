import type { Redis } from 'ioredis';
import type { ActiveQueue, QueueStore, StoredQueue, StoredQueueState } from '../areas/queue.js';

// A crew's state is one hash (version, announced, json, due when the clock runs, updated); the
// set of active crews is kept in the same scripts, so listActive never scans every crew.
// A crew is active while its clock runs (due) or its newest version was not fanned out.
const ACTIVE = `
local function active(state, crewId)
  local version, announced, due = unpack(redis.call('HMGET', state, 'version', 'announced', 'due'))
  if due or tonumber(version) > tonumber(announced) then
    redis.call('SADD', KEYS[2], crewId)
  else
    redis.call('SREM', KEYS[2], crewId)
  end
end`;

// KEYS: the crew's state, the active set. ARGV: crew, version, expected version, json, due ('' when stopped), now.
// Expected 0 writes only where nothing is stored; otherwise only over the expected version. 1 when written.
const SAVE = `${ACTIVE}
local expected = tonumber(ARGV[3])
if expected == 0 then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'announced', '0', 'json', ARGV[4], 'updated', ARGV[6])
else
  local stored = redis.call('HGET', KEYS[1], 'version')
  if not stored or tonumber(stored) ~= expected then return 0 end
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'json', ARGV[4], 'updated', ARGV[6])
end
if ARGV[5] == '' then redis.call('HDEL', KEYS[1], 'due') else redis.call('HSET', KEYS[1], 'due', ARGV[5]) end
active(KEYS[1], ARGV[1])
return 1`;

// KEYS: the crew's state, the active set. ARGV: crew, version. The announced version only grows.
const ANNOUNCED = `${ACTIVE}
local announced = redis.call('HGET', KEYS[1], 'announced')
if not announced then return 0 end
if tonumber(ARGV[2]) > tonumber(announced) then redis.call('HSET', KEYS[1], 'announced', ARGV[2]) end
active(KEYS[1], ARGV[1])
return 1`;

interface QueueScripts {
  queueSave(state: string, active: string, crewId: string, version: number, expected: number, json: string, due: string, now: number): Promise<number>;
  queueAnnounced(state: string, active: string, crewId: string, version: number): Promise<number>;
}

/**
 * The queue area on Redis: compare-and-set on the version in one Lua script, so two relay
 * processes never both advance one crew's clock (SQLite: the UPDATE's WHERE version = ?).
 */
export class RedisQueueStore implements QueueStore {
  private readonly keys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = {
      state: (crewId: string) => `${prefix}queue:state:${crewId}`,
      active: `${prefix}queue:active`,
    };
    redis.defineCommand('queueSave', { numberOfKeys: 2, lua: SAVE });
    redis.defineCommand('queueAnnounced', { numberOfKeys: 2, lua: ANNOUNCED });
  }

  private get scripts(): QueueScripts {
    return this.redis as unknown as QueueScripts;
  }

  async load(crewId: string): Promise<StoredQueue | null> {
    const [version, announced, json] = await this.redis.hmget(this.keys.state(crewId), 'version', 'announced', 'json');
    if (version === null || announced === null || json === null) return null;
    return { state: { version: Number(version), json }, announcedVersion: Number(announced) };
  }

  async save(crewId: string, state: StoredQueueState, expectedVersion: number, dueAt: number | null): Promise<boolean> {
    const due = dueAt === null ? '' : String(dueAt);
    const written = await this.scripts.queueSave(
      this.keys.state(crewId),
      this.keys.active,
      crewId,
      state.version,
      expectedVersion,
      state.json,
      due,
      Date.now(),
    );
    return written === 1;
  }

  async markAnnounced(crewId: string, version: number): Promise<void> {
    await this.scripts.queueAnnounced(this.keys.state(crewId), this.keys.active, crewId, version);
  }

  async listActive(): Promise<ActiveQueue[]> {
    const crewIds = await this.redis.smembers(this.keys.active);
    if (crewIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const crewId of crewIds) pipeline.hmget(this.keys.state(crewId), 'version', 'announced', 'due');
    const replies = (await pipeline.exec()) ?? [];
    const active: ActiveQueue[] = [];
    crewIds.forEach((crewId, i) => {
      const [error, fields] = replies[i] ?? [null, null];
      if (error) throw error;
      const [version, announced, due] = fields as (string | null)[];
      // Changed between the two reads: what the hash says now is what counts.
      if (version == null || announced == null) return;
      const unannounced = Number(version) > Number(announced);
      if (due == null && !unannounced) return;
      active.push({ crewId, dueAt: due == null ? null : Number(due), unannounced });
    });
    return active;
  }
}
