import type { Redis } from 'ioredis';
import type { McpStore, McpTokenRecord, MixtapeRecord } from '../areas/mcp.js';

/**
 * A member's token or mixtape belongs to a device of the directory: as SQLite's foreign key on
 * devices(device_id), saving one for a device the directory does not hold is refused. The
 * directory (redis-crews.ts) keeps each device as the hash `${prefix}dir:device:<device id>`.
 */
const NO_DEVICE = "redis.error_reply('FOREIGN KEY constraint failed: the directory has no device ' .. ARGV[2])";

// KEYS: the token, its id, the member's token set, the member's directory entry. ARGV: hash, device, id, name, createdAt.
const SAVE_TOKEN = `
if redis.call('EXISTS', KEYS[4]) == 0 then return ${NO_DEVICE} end
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return redis.error_reply('UNIQUE constraint failed: an MCP token with this hash or id exists')
end
redis.call('HSET', KEYS[1], 'tokenId', ARGV[3], 'deviceId', ARGV[2], 'name', ARGV[4], 'createdAt', ARGV[5])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1`;

// KEYS: the token. ARGV: when.
const TOUCH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[1])
return 1`;

// KEYS: the token's id, the member's token set. ARGV: token key prefix, device. Only the member's own token.
const REVOKE = `
local hash = redis.call('GET', KEYS[1])
if not hash or redis.call('HGET', ARGV[1] .. hash, 'deviceId') ~= ARGV[2] then return 0 end
redis.call('DEL', ARGV[1] .. hash, KEYS[1])
redis.call('SREM', KEYS[2], hash)
return 1`;

// KEYS: the member's token set. ARGV: token key prefix, token id key prefix.
const REVOKE_ALL = `
local revoked = 0
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local id = redis.call('HGET', ARGV[1] .. hash, 'tokenId')
  if id then
    redis.call('DEL', ARGV[1] .. hash, ARGV[2] .. id)
    revoked = revoked + 1
  end
end
redis.call('DEL', KEYS[1])
return revoked`;

// KEYS: the member's mixtapes, the member's directory entry. ARGV: week, device, the record (JSON, without added), added.
// One per member and week: a second is refused, as SQLite's primary key refuses it.
const SAVE_MIXTAPE = `
if redis.call('EXISTS', KEYS[2]) == 0 then return ${NO_DEVICE} end
if redis.call('HSETNX', KEYS[1], 'record:' .. ARGV[1], ARGV[3]) == 0 then
  return redis.error_reply('UNIQUE constraint failed: the member has a mixtape for this week')
end
redis.call('HSET', KEYS[1], 'added:' .. ARGV[1], ARGV[4])
return 1`;

// KEYS: the member's mixtapes. ARGV: week, added.
const MIXTAPE_ADDED = `
if redis.call('HEXISTS', KEYS[1], 'record:' .. ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'added:' .. ARGV[1], ARGV[2])
return 1`;

interface McpScripts {
  mcpSaveToken(
    token: string,
    id: string,
    tokens: string,
    device: string,
    hash: string,
    deviceId: string,
    tokenId: string,
    name: string,
    at: number,
  ): Promise<number>;
  mcpTouch(token: string, at: number): Promise<number>;
  mcpRevoke(id: string, tokens: string, tokenPrefix: string, deviceId: string): Promise<number>;
  mcpRevokeAll(tokens: string, tokenPrefix: string, idPrefix: string): Promise<number>;
  mcpSaveMixtape(mixtapes: string, device: string, week: string, deviceId: string, record: string, added: number): Promise<number>;
  mcpMixtapeAdded(mixtapes: string, week: string, added: number): Promise<number>;
}

/** What a mixtape's JSON holds: the record but its key and its progress, which change apart. */
type StoredMixtape = Omit<MixtapeRecord, 'deviceId' | 'week' | 'added'>;

/**
 * The mcp area on Redis. Keys (after `${prefix}mcp:`): token:<hash> (a hash), token-id:<id> → hash,
 * device-tokens:<device> (the member's hashes), mixtapes:<device> (fields record:<week>, added:<week>).
 */
export class RedisMcpStore implements McpStore {
  private readonly keys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    const area = `${prefix}mcp:`;
    this.keys = {
      tokenPrefix: `${area}token:`,
      idPrefix: `${area}token-id:`,
      tokens: (deviceId: string) => `${area}device-tokens:${deviceId}`,
      mixtapes: (deviceId: string) => `${area}mixtapes:${deviceId}`,
      device: (deviceId: string) => `${prefix}dir:device:${deviceId}`,
    };
    redis.defineCommand('mcpSaveToken', { numberOfKeys: 4, lua: SAVE_TOKEN });
    redis.defineCommand('mcpTouch', { numberOfKeys: 1, lua: TOUCH });
    redis.defineCommand('mcpRevoke', { numberOfKeys: 2, lua: REVOKE });
    redis.defineCommand('mcpRevokeAll', { numberOfKeys: 1, lua: REVOKE_ALL });
    redis.defineCommand('mcpSaveMixtape', { numberOfKeys: 2, lua: SAVE_MIXTAPE });
    redis.defineCommand('mcpMixtapeAdded', { numberOfKeys: 1, lua: MIXTAPE_ADDED });
  }

  private get scripts(): McpScripts {
    return this.redis as unknown as McpScripts;
  }

  async saveToken(record: Omit<McpTokenRecord, 'lastUsedAt'>): Promise<void> {
    const { tokenHash, tokenId, deviceId } = record;
    await this.scripts.mcpSaveToken(
      this.keys.tokenPrefix + tokenHash,
      this.keys.idPrefix + tokenId,
      this.keys.tokens(deviceId),
      this.keys.device(deviceId),
      tokenHash,
      deviceId,
      tokenId,
      record.name,
      record.createdAt,
    );
  }

  async findToken(tokenHash: string): Promise<McpTokenRecord | null> {
    return tokenFrom(tokenHash, await this.redis.hgetall(this.keys.tokenPrefix + tokenHash));
  }

  async listTokens(deviceId: string): Promise<McpTokenRecord[]> {
    const hashes = await this.redis.smembers(this.keys.tokens(deviceId));
    if (hashes.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const hash of hashes) pipeline.hgetall(this.keys.tokenPrefix + hash);
    const replies = (await pipeline.exec()) ?? [];
    const records = hashes.flatMap((hash, i) => {
      const [error, fields] = replies[i] ?? [null, {}];
      if (error) throw error;
      const record = tokenFrom(hash, fields as Record<string, string>);
      return record && record.deviceId === deviceId ? [record] : [];
    });
    // Newest first; tokens made in the same millisecond by id (SQLite: ORDER BY created_at DESC, token_id).
    return records.sort((a, b) => b.createdAt - a.createdAt || (a.tokenId < b.tokenId ? -1 : a.tokenId > b.tokenId ? 1 : 0));
  }

  async touchToken(tokenHash: string, at: number): Promise<void> {
    await this.scripts.mcpTouch(this.keys.tokenPrefix + tokenHash, at);
  }

  async revokeToken(deviceId: string, tokenId: string): Promise<boolean> {
    return (await this.scripts.mcpRevoke(this.keys.idPrefix + tokenId, this.keys.tokens(deviceId), this.keys.tokenPrefix, deviceId)) === 1;
  }

  async revokeTokens(deviceId: string): Promise<number> {
    return this.scripts.mcpRevokeAll(this.keys.tokens(deviceId), this.keys.tokenPrefix, this.keys.idPrefix);
  }

  async findMixtape(deviceId: string, week: string): Promise<MixtapeRecord | null> {
    const [json, added] = await this.redis.hmget(this.keys.mixtapes(deviceId), `record:${week}`, `added:${week}`);
    if (json === null) return null;
    const stored = JSON.parse(json) as StoredMixtape;
    return {
      deviceId,
      week,
      playlistId: stored.playlistId,
      playlistUri: stored.playlistUri,
      url: stored.url,
      name: stored.name,
      uris: stored.uris,
      added: Number(added),
      createdAt: stored.createdAt,
    };
  }

  async saveMixtape(record: MixtapeRecord): Promise<void> {
    const { deviceId, week, added, ...rest } = record;
    const stored: StoredMixtape = rest;
    await this.scripts.mcpSaveMixtape(this.keys.mixtapes(deviceId), this.keys.device(deviceId), week, deviceId, JSON.stringify(stored), added);
  }

  async noteMixtapeAdded(deviceId: string, week: string, added: number): Promise<void> {
    await this.scripts.mcpMixtapeAdded(this.keys.mixtapes(deviceId), week, added);
  }
}

function tokenFrom(tokenHash: string, fields: Record<string, string>): McpTokenRecord | null {
  if (fields.tokenId === undefined) return null;
  return {
    tokenId: fields.tokenId,
    tokenHash,
    deviceId: fields.deviceId!,
    name: fields.name ?? '',
    createdAt: Number(fields.createdAt),
    lastUsedAt: fields.lastUsedAt === undefined ? null : Number(fields.lastUsedAt),
  };
}
