import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ProtocolError, type CrewEvent } from '../../../protocol/index.js';
import type {
  AppendRequest,
  AppendResult,
  CrewCursor,
  CrewRecord,
  CrewStore,
  CrewSummary,
  DeliveredMark,
  DeviceRecord,
  EventLog,
  LogPosition,
  MemberRecord,
  StoredEvent,
} from '../store.js';
import { appendOneByOneOnFailure } from '../store.js';

/*
 * Keys (after `${prefix}`):
 *   dir:device:<id>     hash, the DeviceRecord's fields (other areas check EXISTS on it)
 *   dir:devices         set of device ids (counts)
 *   dir:crew:<id>       hash, the CrewRecord's fields plus joinCounter (members' join order)
 *   dir:code:<code>     the crew id holding that code
 *   dir:crews           sorted set, score 0, member `<createdAt, 16 digits>:<crewId>` (listCrews order)
 *   dir:members:<crew>  sorted set of device ids by join order
 *   dir:member:<device> hash: crewId, joinedAt, joinedSeq, deliveredSeq
 *   dir:dataset         a random marker written when the dataset is first used
 *   log:events:<crew>   sorted set by seq, member `<seq>:<at>:<event JSON without seq/crew_code>`
 *   log:times:<crew>    sorted set by at, member seq (readEventsByTime)
 *   log:all             sorted set by at, member `<seq>:<crewId>` (retention, countEvents)
 *   log:msgs            hash JSON [device, client_msg_id] → `<seq>:<at>:<crewId>`
 *   log:msg-times       sorted set by at of the log:msgs fields (retention)
 */

type Fields = Record<string, string>;

const pairs = (flat: string[]): Fields => {
  const fields: Fields = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
};

const toDevice = (f: Fields): DeviceRecord => ({
  deviceId: f.deviceId!,
  displayName: f.displayName!,
  secretHash: f.secretHash ?? null,
  secretResetAt: f.secretResetAt === undefined ? null : Number(f.secretResetAt),
  createdAt: Number(f.createdAt),
  lastSeenAt: Number(f.lastSeenAt),
});

const toCrew = (f: Fields): CrewRecord => ({
  crewId: f.crewId!,
  crewCode: f.crewCode!,
  crewName: f.crewName!,
  ownerDeviceId: f.ownerDeviceId!,
  latestSeq: Number(f.latestSeq),
  createdAt: Number(f.createdAt),
  epoch: f.epoch!,
  shareHistory: f.shareHistory === '1',
  createdByMsg: f.createdByMsg ?? null,
});

/** `<seq>:<at>:<rest>` as its three parts. */
function splitRecord(value: string): { seq: number; at: number; rest: string } {
  const first = value.indexOf(':');
  const second = value.indexOf(':', first + 1);
  return { seq: Number(value.slice(0, first)), at: Number(value.slice(first + 1, second)), rest: value.slice(second + 1) };
}

const toEvent = (crewId: string, crewCode: string, member: string): StoredEvent => {
  const { seq, at, rest } = splitRecord(member);
  return { crewId, seq, at, event: { ...JSON.parse(rest), seq, crew_code: crewCode } as CrewEvent };
};

const listKey = (createdAt: number, crewId: string) => `${String(createdAt).padStart(16, '0')}:${crewId}`;
const messageField = (deviceId: string, clientMsgId: string) => JSON.stringify([deviceId, clientMsgId]);
const newEpoch = () => randomBytes(8).toString('hex');

// Shared by createCrew and addMember. ARGV[1] is always the key prefix.
const MEMBERSHIP_LUA = `
local prefix = ARGV[1]
local function leave(crewId, deviceId)
  local memberKey = prefix .. 'dir:member:' .. deviceId
  if redis.call('HGET', memberKey, 'crewId') ~= crewId then return {0, ''} end
  redis.call('DEL', memberKey)
  local membersKey = prefix .. 'dir:members:' .. crewId
  redis.call('ZREM', membersKey, deviceId)
  local crewKey = prefix .. 'dir:crew:' .. crewId
  if redis.call('HGET', crewKey, 'ownerDeviceId') ~= deviceId then return {1, ''} end
  -- The crew keeps its history even when empty; ownership passes to the longest-standing member.
  local nextOwner = redis.call('ZRANGE', membersKey, 0, 0)[1]
  if nextOwner then
    redis.call('HSET', crewKey, 'ownerDeviceId', nextOwner)
    return {1, nextOwner}
  end
  return {1, ''}
end
local function join(crewId, deviceId, now)
  local crewKey = prefix .. 'dir:crew:' .. crewId
  if redis.call('EXISTS', crewKey) == 0 then return redis.error_reply('not_found') end
  if redis.call('EXISTS', prefix .. 'dir:device:' .. deviceId) == 0 then
    return redis.error_reply('FOREIGN KEY constraint failed: the directory has no device ' .. deviceId)
  end
  local memberKey = prefix .. 'dir:member:' .. deviceId
  local current = redis.call('HGET', memberKey, 'crewId')
  if current == crewId then return {'', 1} end
  if current then leave(current, deviceId) end
  local order = redis.call('HINCRBY', crewKey, 'joinCounter', 1)
  local latest = redis.call('HGET', crewKey, 'latestSeq')
  redis.call('HSET', memberKey, 'crewId', crewId, 'joinedAt', now, 'joinedSeq', latest, 'deliveredSeq', latest)
  redis.call('ZADD', prefix .. 'dir:members:' .. crewId, order, deviceId)
  return {current or '', 0}
end
`;

// KEYS: crew, code, crews list. ARGV: prefix, crewId, code, name, owner, now, epoch, list member, createdByMsg ('' for none).
const CREATE_CREW = `${MEMBERSHIP_LUA}
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('crew_code_taken') end
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('UNIQUE constraint failed: crew id ' .. ARGV[2]) end
if redis.call('EXISTS', prefix .. 'dir:device:' .. ARGV[5]) == 0 then
  return redis.error_reply('FOREIGN KEY constraint failed: the directory has no device ' .. ARGV[5])
end
redis.call('HSET', KEYS[1], 'crewId', ARGV[2], 'crewCode', ARGV[3], 'crewName', ARGV[4], 'ownerDeviceId', ARGV[5],
  'latestSeq', 0, 'createdAt', ARGV[6], 'epoch', ARGV[7], 'shareHistory', '0', 'joinCounter', 0)
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'createdByMsg', ARGV[9]) end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[8])
join(ARGV[2], ARGV[5], ARGV[6])
return redis.call('HGETALL', KEYS[1])`;

// KEYS: none. ARGV: prefix, crewId, deviceId, now.
const ADD_MEMBER = `${MEMBERSHIP_LUA}
return join(ARGV[2], ARGV[3], ARGV[4])`;

// KEYS: none. ARGV: prefix, crewId, deviceId.
const REMOVE_MEMBER = `${MEMBERSHIP_LUA}
return leave(ARGV[2], ARGV[3])`;

// KEYS: device, devices. ARGV: id, name, secret hash ('' for none), now.
// A secret hash is only set when none is stored; setting one ends a reset.
const SAVE_DEVICE = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'deviceId', ARGV[1], 'displayName', ARGV[2], 'createdAt', ARGV[4], 'lastSeenAt', ARGV[4])
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'secretHash', ARGV[3]) end
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'displayName', ARGV[2], 'lastSeenAt', ARGV[4])
  if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[1], 'secretHash') == 0 then
    redis.call('HSET', KEYS[1], 'secretHash', ARGV[3])
    redis.call('HDEL', KEYS[1], 'secretResetAt')
  end
end
return redis.call('HGETALL', KEYS[1])`;

// KEYS: device. ARGV: now. -1 unknown device, else 1 when it had a secret.
const RESET_SECRET = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local had = redis.call('HEXISTS', KEYS[1], 'secretHash')
redis.call('HDEL', KEYS[1], 'secretHash')
redis.call('HSET', KEYS[1], 'secretResetAt', ARGV[1])
return had`;

// KEYS: member, crew. ARGV: crewId, deviceId.
const TRANSFER = `
if redis.call('HGET', KEYS[1], 'crewId') ~= ARGV[1] or redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'ownerDeviceId', ARGV[2])
return 1`;

// KEYS: crew. ARGV: field, value.
const SET_FIELD = `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('not_found') end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

// KEYS: crew, new code. ARGV: prefix, crewId, new code.
const CHANGE_CODE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('not_found') end
local old = redis.call('HGET', KEYS[1], 'crewCode')
if old == ARGV[3] then return 1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('crew_code_taken') end
redis.call('DEL', ARGV[1] .. 'dir:code:' .. old)
redis.call('SET', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'crewCode', ARGV[3])
return 1`;

// KEYS: member. ARGV: crewId, seq. Keeps the highest; a membership that is gone is skipped.
const MARK_DELIVERED = `
if redis.call('HGET', KEYS[1], 'crewId') ~= ARGV[1] then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'deliveredSeq')) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'deliveredSeq', ARGV[2])
return 1`;

// Events above the stored latestSeq belong to a copy of the log that lost it (an older epoch): they go, so a
// seq is never stored twice. KEYS-like arguments: events, times, all.
const FORGET_AFTER_LUA = `
local function forgetAfter(events, times, all, crewId, latest)
  local stale = redis.call('ZRANGEBYSCORE', events, '(' .. latest, '+inf')
  for _, member in ipairs(stale) do
    local seq = string.sub(member, 1, string.find(member, ':', 1, true) - 1)
    redis.call('ZREM', times, seq)
    redis.call('ZREM', all, seq .. ':' .. crewId)
  end
  redis.call('ZREMRANGEBYSCORE', events, '(' .. latest, '+inf')
end
`;

// KEYS: crew, events, times, all. ARGV: seen seq, new epoch, crewId. Renews the epoch only while the stored
// seq is below what was seen.
const RENEW_EPOCH = `${FORGET_AFTER_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local latest = tonumber(redis.call('HGET', KEYS[1], 'latestSeq'))
if latest < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[2])
  forgetAfter(KEYS[2], KEYS[3], KEYS[4], ARGV[3], latest)
end
return redis.call('HGET', KEYS[1], 'epoch')`;

// One batch of appends, in order, in one script: no other process's append comes between them, and the batch
// costs one round trip. KEYS: all, msgs, msg-times, then crew, events and times of each request. ARGV: the
// request count, the channel new events are announced on ('' for none), then per request: crewId, event JSON,
// now, dedupe field ('' for none), seen seq, new epoch, the announcement's head and sender (JSON), how many
// further client messages the event answers, and their fields. Every crew is checked first (crews are never
// deleted): a batch naming an unknown crew appends nothing. Replies, per request: a duplicate
// {'dup', '<seq>:<at>:<crewId>'}, a new event {'new', seq, at, crew code}.
const APPEND = `${FORGET_AFTER_LUA}
local all, msgs, msgTimes = KEYS[1], KEYS[2], KEYS[3]
local count, channel = tonumber(ARGV[1]), ARGV[2]
for r = 0, count - 1 do
  if redis.call('EXISTS', KEYS[4 + 3 * r]) == 0 then return redis.error_reply('not_found') end
end

local function append(crew, events, times, a)
  local crewId, event, now, dedupe = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  if dedupe ~= '' then
    local seen = redis.call('HGET', msgs, dedupe)
    if seen then return {'dup', seen} end
  end
  local latest = tonumber(redis.call('HGET', crew, 'latestSeq'))
  -- The stored seq is below one this process saw: the log lost events, so it is another copy of it.
  if latest < tonumber(ARGV[a + 4]) then redis.call('HSET', crew, 'epoch', ARGV[a + 5]) end
  local seq = latest + 1
  redis.call('HSET', crew, 'latestSeq', seq)
  forgetAfter(events, times, all, crewId, latest)
  redis.call('ZADD', events, seq, seq .. ':' .. now .. ':' .. event)
  redis.call('ZADD', times, now, seq)
  redis.call('ZADD', all, now, seq .. ':' .. crewId)
  local record = seq .. ':' .. now .. ':' .. crewId
  if dedupe ~= '' then
    redis.call('HSET', msgs, dedupe, record)
    redis.call('ZADD', msgTimes, now, dedupe)
  end
  for i = a + 9, a + 8 + tonumber(ARGV[a + 8]) do
    if redis.call('HSETNX', msgs, ARGV[i], record) == 1 then redis.call('ZADD', msgTimes, now, ARGV[i]) end
  end
  local crewCode = redis.call('HGET', crew, 'crewCode')
  if channel ~= '' then
    redis.call('PUBLISH', channel, ARGV[a + 6] .. ',' .. seq .. ',' .. cjson.encode(crewCode) .. ',' .. ARGV[a + 7] .. ',' .. event .. ']')
  end
  return {'new', seq, now, crewCode}
end

local replies = {}
local a = 3
for r = 0, count - 1 do
  replies[r + 1] = append(KEYS[4 + 3 * r], KEYS[5 + 3 * r], KEYS[6 + 3 * r], a)
  a = a + 9 + tonumber(ARGV[a + 8])
end
return replies`;

// KEYS: all, msgs, msg-times. ARGV: prefix, cutoff, batch size. Drops up to a batch of the events and of the
// client-message records stored before the cutoff; returns how many of each it dropped.
const PRUNE = `
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
for _, member in ipairs(old) do
  local i = string.find(member, ':', 1, true)
  local seq = string.sub(member, 1, i - 1)
  local crewId = string.sub(member, i + 1)
  redis.call('ZREMRANGEBYSCORE', ARGV[1] .. 'log:events:' .. crewId, seq, seq)
  redis.call('ZREM', ARGV[1] .. 'log:times:' .. crewId, seq)
  redis.call('ZREM', KEYS[1], member)
end
local fields = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
for _, field in ipairs(fields) do
  redis.call('HDEL', KEYS[2], field)
  redis.call('ZREM', KEYS[3], field)
end
return {#old, #fields}`;

/** How many events (and client-message records) one prune script drops: Redis serves nobody else while it runs. */
const PRUNE_BATCH = 500;

type Reply = string | number;
interface CrewsScripts {
  crewsCreate(crew: string, code: string, list: string, ...argv: Reply[]): Promise<string[]>;
  crewsAddMember(prefix: string, crewId: string, deviceId: string, now: number): Promise<[string, number]>;
  crewsRemoveMember(prefix: string, crewId: string, deviceId: string): Promise<[number, string]>;
  crewsSaveDevice(device: string, devices: string, id: string, name: string, secret: string, now: number): Promise<string[]>;
  crewsResetSecret(device: string, now: number): Promise<number>;
  crewsTransfer(member: string, crew: string, crewId: string, deviceId: string): Promise<number>;
  crewsSetField(crew: string, field: string, value: string): Promise<number>;
  crewsChangeCode(crew: string, code: string, prefix: string, crewId: string, crewCode: string): Promise<number>;
  crewsMarkDelivered(member: string, crewId: string, seq: number): Promise<number>;
  crewsRenewEpoch(crew: string, events: string, times: string, all: string, seen: number, epoch: string, crewId: string): Promise<string | null>;
  crewsPrune(all: string, msgs: string, msgTimes: string, prefix: string, cutoff: number, batch: number): Promise<[number, number]>;
  crewsAppend(keyCount: number, ...keysAndArgv: Reply[]): Promise<Reply[][]>;
}

/** The channel a Redis event log announces its new events on (RedisCrewStore.announceAppends). */
export function appendedChannel(prefix: string): string {
  return `${prefix}log:appended`;
}

/** A new event as the log announced it: `writer` names the relay process that appended it. */
export interface Appended {
  readonly writer: string;
  readonly crewId: string;
  /** With its seq and crew code. */
  readonly event: CrewEvent;
  readonly senderDeviceId: string | null;
}

/** The start of every announcement `writer` makes: a process passes over its own without parsing them. */
export function announcedBy(writer: string): string {
  return `${JSON.stringify([writer]).slice(0, -1)},`;
}

/** An announcement (APPEND's PUBLISH): the JSON array [writer, crewId, seq, crew code, sender, event without seq]. */
export function parseAppended(text: string): Appended {
  const [writer, crewId, seq, crewCode, sender, event] = JSON.parse(text) as [string, string, number, string, string | null, object];
  return { writer, crewId, senderDeviceId: sender, event: { ...event, seq, crew_code: crewCode } as CrewEvent };
}

/** The Lua scripts' refusals as the errors the SQLite store throws. */
function protocolError(error: unknown, crewCode?: string): unknown {
  // Redis puts ERR in front of a script's error_reply that names no error code of its own.
  const message = error instanceof Error ? error.message.replace(/^ERR /, '') : '';
  if (message.startsWith('not_found')) return new ProtocolError('not_found', 'That crew does not exist.');
  if (message.startsWith('crew_code_taken')) return new ProtocolError('crew_code_taken', `The crew code ${crewCode} is already in use.`);
  return error;
}

async function refusing<T>(work: Promise<T>, crewCode?: string): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw protocolError(error, crewCode);
  }
}

/**
 * The directory and the event log on Redis (one class, like SQLite's: they share the crew hash,
 * whose latestSeq the log advances). Several relay processes may share one Redis: every change
 * that touches more than one key is one Lua script.
 */
export class RedisCrewStore implements CrewStore, EventLog {
  private readonly scripts: CrewsScripts;
  private readonly keys;
  /** The highest latestSeq this process has seen per crew: a lower one later means the log lost events. */
  private readonly seenSeq = new Map<string, number>();
  /** Who announces new events, once announceAppends was called. */
  private writer: string | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.keys = {
      device: (deviceId: string) => `${prefix}dir:device:${deviceId}`,
      devices: `${prefix}dir:devices`,
      crew: (crewId: string) => `${prefix}dir:crew:${crewId}`,
      code: (crewCode: string) => `${prefix}dir:code:${crewCode}`,
      crews: `${prefix}dir:crews`,
      members: (crewId: string) => `${prefix}dir:members:${crewId}`,
      member: (deviceId: string) => `${prefix}dir:member:${deviceId}`,
      dataset: `${prefix}dir:dataset`,
      events: (crewId: string) => `${prefix}log:events:${crewId}`,
      times: (crewId: string) => `${prefix}log:times:${crewId}`,
      all: `${prefix}log:all`,
      msgs: `${prefix}log:msgs`,
      msgTimes: `${prefix}log:msg-times`,
    };
    redis.defineCommand('crewsCreate', { numberOfKeys: 3, lua: CREATE_CREW });
    redis.defineCommand('crewsAddMember', { numberOfKeys: 0, lua: ADD_MEMBER });
    redis.defineCommand('crewsRemoveMember', { numberOfKeys: 0, lua: REMOVE_MEMBER });
    redis.defineCommand('crewsSaveDevice', { numberOfKeys: 2, lua: SAVE_DEVICE });
    redis.defineCommand('crewsResetSecret', { numberOfKeys: 1, lua: RESET_SECRET });
    redis.defineCommand('crewsTransfer', { numberOfKeys: 2, lua: TRANSFER });
    redis.defineCommand('crewsSetField', { numberOfKeys: 1, lua: SET_FIELD });
    redis.defineCommand('crewsChangeCode', { numberOfKeys: 2, lua: CHANGE_CODE });
    redis.defineCommand('crewsMarkDelivered', { numberOfKeys: 1, lua: MARK_DELIVERED });
    redis.defineCommand('crewsRenewEpoch', { numberOfKeys: 4, lua: RENEW_EPOCH });
    // The key count comes first in each call: a batch has three keys per request.
    redis.defineCommand('crewsAppend', { lua: APPEND });
    redis.defineCommand('crewsPrune', { numberOfKeys: 3, lua: PRUNE });
    this.scripts = redis as unknown as CrewsScripts;
    // Marks the dataset as used; a Redis that comes back empty has no marker.
    void redis.set(this.keys.dataset, newEpoch(), 'NX').catch(() => undefined);
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | null> {
    const fields = await this.redis.hgetall(this.keys.device(deviceId));
    return fields.deviceId === undefined ? null : toDevice(fields);
  }

  async saveDevice(device: { deviceId: string; displayName: string; secretHash?: string | null }): Promise<DeviceRecord> {
    const { deviceId, displayName, secretHash } = device;
    const flat = await this.scripts.crewsSaveDevice(this.keys.device(deviceId), this.keys.devices, deviceId, displayName, secretHash ?? '', Date.now());
    return toDevice(pairs(flat));
  }

  async resetDeviceSecret(deviceId: string): Promise<{ hadSecret: boolean } | null> {
    const had = await this.scripts.crewsResetSecret(this.keys.device(deviceId), Date.now());
    return had === -1 ? null : { hadSecret: had === 1 };
  }

  async createCrew(crew: { crewId: string; crewCode: string; crewName: string; ownerDeviceId: string; createdByMsg?: string }): Promise<CrewRecord> {
    const now = Date.now();
    const flat = await refusing(
      this.scripts.crewsCreate(
        this.keys.crew(crew.crewId),
        this.keys.code(crew.crewCode),
        this.keys.crews,
        this.prefix,
        crew.crewId,
        crew.crewCode,
        crew.crewName,
        crew.ownerDeviceId,
        now,
        newEpoch(),
        listKey(now, crew.crewId),
        crew.createdByMsg ?? '',
      ),
      crew.crewCode,
    );
    return toCrew(pairs(flat));
  }

  async getCrew(crewId: string): Promise<CrewRecord | null> {
    const fields = await this.redis.hgetall(this.keys.crew(crewId));
    if (fields.crewId === undefined) return null;
    return this.checkedEpoch(toCrew(fields));
  }

  // A crew whose stored latestSeq is below one this process saw gets a new epoch (once).
  private async checkedEpoch(crew: CrewRecord): Promise<CrewRecord> {
    const seen = this.seenSeq.get(crew.crewId) ?? 0;
    this.seenSeq.set(crew.crewId, crew.latestSeq);
    if (crew.latestSeq >= seen) return crew;
    const k = this.keys;
    const epoch = await this.scripts.crewsRenewEpoch(k.crew(crew.crewId), k.events(crew.crewId), k.times(crew.crewId), k.all, seen, newEpoch(), crew.crewId);
    return { ...crew, epoch: epoch ?? crew.epoch };
  }

  private noteSeq(crewId: string, seq: number): void {
    if (seq > (this.seenSeq.get(crewId) ?? 0)) this.seenSeq.set(crewId, seq);
  }

  async getCrewByCode(crewCode: string): Promise<CrewRecord | null> {
    const crewId = await this.redis.get(this.keys.code(crewCode));
    return crewId === null ? null : this.getCrew(crewId);
  }

  async listCrews(options: { limit: number; after?: CrewCursor }): Promise<CrewSummary[]> {
    const min = options.after ? `(${listKey(options.after.createdAt, options.after.crewId)}` : '-';
    const entries = await this.redis.zrangebylex(this.keys.crews, min, '+', 'LIMIT', 0, options.limit);
    const crewIds = entries.map((entry) => entry.slice(entry.indexOf(':') + 1));
    const crews = await Promise.all(crewIds.map((crewId) => this.getCrew(crewId)));
    return Promise.all(
      crews
        .filter((crew): crew is CrewRecord => crew !== null)
        .map(async (crew) => {
          const [ownerName, memberCount] = await Promise.all([
            this.redis.hget(this.keys.device(crew.ownerDeviceId), 'displayName'),
            this.redis.zcard(this.keys.members(crew.crewId)),
          ]);
          return { ...crew, ownerName: ownerName ?? crew.ownerDeviceId, memberCount };
        }),
    );
  }

  async getMembership(deviceId: string): Promise<MemberRecord | null> {
    const fields = await this.redis.hgetall(this.keys.member(deviceId));
    if (fields.crewId === undefined) return null;
    const [owner, displayName] = await Promise.all([
      this.redis.hget(this.keys.crew(fields.crewId), 'ownerDeviceId'),
      this.redis.hget(this.keys.device(deviceId), 'displayName'),
    ]);
    return {
      crewId: fields.crewId,
      deviceId,
      displayName: displayName ?? '',
      isOwner: owner === deviceId,
      joinedAt: Number(fields.joinedAt),
      joinedSeq: Number(fields.joinedSeq),
      deliveredSeq: Number(fields.deliveredSeq),
    };
  }

  async listMembers(crewId: string): Promise<MemberRecord[]> {
    const deviceIds = await this.redis.zrange(this.keys.members(crewId), '0', '-1');
    const members = await Promise.all(deviceIds.map((deviceId) => this.getMembership(deviceId)));
    return members.filter((member): member is MemberRecord => member?.crewId === crewId);
  }

  async addMember(crewId: string, deviceId: string): Promise<{ leftCrewId: string | null; alreadyMember: boolean }> {
    const [left, already] = await refusing(this.scripts.crewsAddMember(this.prefix, crewId, deviceId, Date.now()));
    return { leftCrewId: left === '' ? null : left, alreadyMember: already === 1 };
  }

  async removeMember(crewId: string, deviceId: string): Promise<{ removed: boolean; newOwnerDeviceId: string | null }> {
    const [removed, newOwner] = await this.scripts.crewsRemoveMember(this.prefix, crewId, deviceId);
    return { removed: removed === 1, newOwnerDeviceId: newOwner === '' ? null : newOwner };
  }

  async transferOwnership(crewId: string, deviceId: string): Promise<boolean> {
    return (await this.scripts.crewsTransfer(this.keys.member(deviceId), this.keys.crew(crewId), crewId, deviceId)) === 1;
  }

  async renameCrew(crewId: string, crewName: string): Promise<void> {
    await refusing(this.scripts.crewsSetField(this.keys.crew(crewId), 'crewName', crewName));
  }

  async setShareHistory(crewId: string, share: boolean): Promise<void> {
    await refusing(this.scripts.crewsSetField(this.keys.crew(crewId), 'shareHistory', share ? '1' : '0'));
  }

  async changeCrewCode(crewId: string, crewCode: string): Promise<void> {
    await refusing(this.scripts.crewsChangeCode(this.keys.crew(crewId), this.keys.code(crewCode), this.prefix, crewId, crewCode), crewCode);
  }

  async markDelivered(marks: readonly DeliveredMark[]): Promise<void> {
    await Promise.all(marks.map((mark) => this.scripts.crewsMarkDelivered(this.keys.member(mark.deviceId), mark.crewId, mark.seq)));
  }

  async counts(): Promise<{ crews: number; devices: number }> {
    const [crews, devices] = await Promise.all([this.redis.zcard(this.keys.crews), this.redis.scard(this.keys.devices)]);
    return { crews, devices };
  }

  /**
   * From now on each new event's append script also publishes it on appendedChannel, as `writer`: the other
   * relay processes hear of it the moment it is stored, not after this process got the reply, fanned it out
   * and published it, so one of their own later commits seldom overtakes it (cloud/crew-sequencer.ts).
   */
  announceAppends(writer: string): void {
    this.writer = writer;
  }

  async appendEvents(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    if (batch.length === 0) return [];
    const k = this.keys;
    const keys: Reply[] = [k.all, k.msgs, k.msgTimes];
    const argv: Reply[] = [batch.length, this.writer === null ? '' : appendedChannel(this.prefix)];
    for (const request of batch) {
      keys.push(k.crew(request.crewId), k.events(request.crewId), k.times(request.crewId));
      argv.push(...this.appendArguments(request));
    }
    const replies = await refusing(this.scripts.crewsAppend(keys.length, ...keys, ...argv));
    return replies.map((reply, i) => this.appendResult(batch[i]!.crewId, reply));
  }

  appendEach(batch: readonly AppendRequest[]): Promise<(AppendResult | Error)[]> {
    return appendOneByOneOnFailure((requests) => this.appendEvents(requests), batch);
  }

  // APPEND's ARGV for one request.
  private appendArguments(request: AppendRequest): Reply[] {
    const { crewId, event, from } = request;
    const dedupe = from?.clientMsgId ? messageField(from.deviceId, from.clientMsgId) : '';
    const answers = (from?.alsoAnswers ?? []).map((other) => messageField(other.deviceId, other.clientMsgId));
    const head = this.writer === null ? '' : JSON.stringify([this.writer, crewId]).slice(0, -1);
    const sender = JSON.stringify(from?.deviceId ?? null);
    return [crewId, JSON.stringify(event), Date.now(), dedupe, this.seenSeq.get(crewId) ?? 0, newEpoch(), head, sender, answers.length, ...answers];
  }

  private appendResult(crewId: string, reply: Reply[]): AppendResult {
    if (reply[0] === 'dup') {
      const { seq, at } = splitRecord(String(reply[1]));
      return { seq, duplicate: true, at };
    }
    const seq = Number(reply[1]);
    // The script renewed the epoch if the stored seq had fallen: from here this seq is the one to hold it to.
    this.seenSeq.set(crewId, seq);
    return { seq, duplicate: false, at: Number(reply[2]), crewCode: String(reply[3]) };
  }

  async handledClientMessage(deviceId: string, clientMsgId: string): Promise<{ crewId: string; seq: number } | null> {
    const record = await this.redis.hget(this.keys.msgs, messageField(deviceId, clientMsgId));
    if (record === null) return null;
    const { seq, rest } = splitRecord(record);
    return { crewId: rest, seq };
  }

  async readEvents(crewId: string, afterSeq: number, options: { toSeq?: number; limit?: number } = {}): Promise<StoredEvent[]> {
    const to = options.toSeq ?? '+inf';
    const [crewCode, members] = await Promise.all([
      this.redis.hget(this.keys.crew(crewId), 'crewCode'),
      options.limit === undefined
        ? this.redis.zrangebyscore(this.keys.events(crewId), `(${afterSeq}`, to)
        : this.redis.zrangebyscore(this.keys.events(crewId), `(${afterSeq}`, to, 'LIMIT', 0, options.limit),
    ]);
    if (crewCode === null) return [];
    const events = members.map((member) => toEvent(crewId, crewCode, member));
    const newest = events[events.length - 1];
    if (newest) this.noteSeq(crewId, newest.seq);
    return events;
  }

  async readEventsByTime(crewId: string, fromMs: number, toMs: number, options: { limit?: number } = {}): Promise<StoredEvent[]> {
    const seqs = (await this.redis.zrangebyscore(this.keys.times(crewId), fromMs, `(${toMs}`)).map(Number).sort((a, b) => a - b);
    const wanted = options.limit === undefined ? seqs : seqs.slice(0, options.limit);
    const crewCode = await this.redis.hget(this.keys.crew(crewId), 'crewCode');
    if (crewCode === null || wanted.length === 0) return [];
    const members = await Promise.all(wanted.map((seq) => this.redis.zrangebyscore(this.keys.events(crewId), seq, seq)));
    return members.flat().map((member) => toEvent(crewId, crewCode, member));
  }

  async firstSeq(crewId: string): Promise<number | null> {
    const [, score] = await this.redis.zrange(this.keys.events(crewId), '0', '0', 'WITHSCORES');
    return score === undefined ? null : Number(score);
  }

  async position(crewId: string): Promise<LogPosition | null> {
    const crew = await this.getCrew(crewId);
    return crew && { latestSeq: crew.latestSeq, firstSeq: await this.firstSeq(crewId), epoch: crew.epoch };
  }

  async pruneEventsBefore(cutoffMs: number): Promise<number> {
    let pruned = 0;
    for (;;) {
      const [events, messages] = await this.scripts.crewsPrune(this.keys.all, this.keys.msgs, this.keys.msgTimes, this.prefix, cutoffMs, PRUNE_BATCH);
      pruned += events;
      if (events < PRUNE_BATCH && messages < PRUNE_BATCH) return pruned;
    }
  }

  async countEvents(): Promise<number> {
    return this.redis.zcard(this.keys.all);
  }
}
