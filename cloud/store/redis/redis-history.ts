import type { Redis } from 'ioredis';
import type { TimeRange, TopMeasure } from '../../ports.js';
import type { CommitOptions, HistoryStore, ImportRecord, Play, PlayBucket, PlayInput, PlaySource, TopArtistRow, TopTrackRow } from '../areas/history.js';
import { trackKey } from '../areas/history.js';

/*
 * Keys under `${prefix}history:` (U+001F separates a member from a URI or track key):
 *  nextId, nextPending        counters: play ids and pending-import ids, never handed out twice
 *  plays                      hash id → the play as JSON, with `imp`: its pending import's id, 0 when polled
 *  exact                      hash member␟source␟end␟trackKey → id (SQLite's history_plays_exact, invisible plays too)
 *  end:<member>, id:<member>  sorted sets of the member's play ids by endMs and by id
 *  key:<member>␟<trackKey>, uri:<member>␟<uri>
 *                             identity indexes: sorted sets of `source␟end␟imp␟id` by endMs, for the matching rule
 *  count                      hash member → visible plays
 *  pending, pendingJob        hash imp → job id of an unfinished commit; hash job id → imp
 *  pendingIds:<imp>           set of the play ids an unfinished commit wrote
 *  staging:<job>, stagingJobs hash member␟source␟end␟trackKey → staged play as JSON; set of jobs with staging
 *  imports, importsOf:<member> hash job id → `imported␟duplicate␟record`; list of the member's job ids in commit order
 *  cursors                    hash member → afterMs
 */

// Shared Lua: the matching rule (areas/history.ts, PlaySource) against the identity indexes, and
// adding and deleting one play with all its index entries. ARGV[1] is the area's key prefix.
const PLAYS_LUA = `
local P = ARGV[1]
local SEP = '\\31'
local function fmt(n) return string.format('%.0f', n) end
-- SQLite's integer division truncates toward zero.
local function minute(ms) local m = ms / 60000; if m >= 0 then return math.floor(m) else return math.ceil(m) end end
local function entryOf(source, endMs, imp, id) return source .. SEP .. endMs .. SEP .. imp .. SEP .. id end
local function parse(entry) return string.match(entry, '^([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31(.*)$') end
local function visible(imp, own)
  return imp == '0' or imp == own or redis.call('HEXISTS', P .. 'pending', imp) == 0
end
-- Entries of one identity index within the matching window of endMs, as {source, end, imp, id}.
local function near(key, endMs)
  local m = minute(endMs)
  local found = {}
  for _, e in ipairs(redis.call('ZRANGEBYSCORE', key, fmt((m - 1) * 60000), '(' .. fmt((m + 2) * 60000))) do
    local source, e_end, imp, id = parse(e)
    found[#found + 1] = {source, tonumber(e_end), imp, id}
  end
  return found
end
local function identities(member, uri, key)
  local keys = {P .. 'key:' .. member .. SEP .. key}
  if uri ~= '' then keys[2] = P .. 'uri:' .. member .. SEP .. uri end
  return keys
end
-- Is a play like this one already stored (visible, or of the import \`own\`)?
local function stored(member, source, endMs, uri, key, own)
  for _, index in ipairs(identities(member, uri, key)) do
    for _, e in ipairs(near(index, endMs)) do
      if (e[1] ~= source or e[2] == endMs) and visible(e[3], own) then return true end
    end
  end
  return false
end
local function exactOf(member, source, endStr, key) return member .. SEP .. source .. SEP .. endStr .. SEP .. key end
local function add(member, source, endStr, uri, key, body, imp)
  local field = exactOf(member, source, endStr, key)
  if redis.call('HEXISTS', P .. 'exact', field) == 1 then return 0 end
  local id = redis.call('INCR', P .. 'nextId')
  redis.call('HSET', P .. 'plays', id, body)
  redis.call('HSET', P .. 'exact', field, id)
  redis.call('ZADD', P .. 'end:' .. member, endStr, id)
  redis.call('ZADD', P .. 'id:' .. member, id, id)
  for _, index in ipairs(identities(member, uri, key)) do redis.call('ZADD', index, endStr, entryOf(source, endStr, imp, id)) end
  if imp == '0' then redis.call('HINCRBY', P .. 'count', member, 1) else redis.call('SADD', P .. 'pendingIds:' .. imp, id) end
  return 1
end
local function uriOf(play) if type(play.trackUri) == 'string' then return play.trackUri end return '' end
-- Deletes a play that is not visible (an import's); returns 1 when it was there.
local function delete(id)
  local body = redis.call('HGET', P .. 'plays', id)
  if not body then return 0 end
  local play = cjson.decode(body)
  local member, endStr, imp = play.memberId, fmt(play.endMs), tostring(play.imp)
  redis.call('HDEL', P .. 'plays', id)
  redis.call('HDEL', P .. 'exact', exactOf(member, play.source, endStr, play.trackKey))
  redis.call('ZREM', P .. 'end:' .. member, id)
  redis.call('ZREM', P .. 'id:' .. member, id)
  for _, index in ipairs(identities(member, uriOf(play), play.trackKey)) do redis.call('ZREM', index, entryOf(play.source, endStr, imp, id)) end
  redis.call('SREM', P .. 'pendingIds:' .. imp, id)
  return 1
end
-- The import's plays that match a polled play of the member stored after id \`after\` go (SQLite: PolledTwins).
local function dropTwins(member, imp, after)
  local dropped = 0
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'id:' .. member, '(' .. after, '+inf')) do
    local r = cjson.decode(redis.call('HGET', P .. 'plays', rid))
    if r.imp == 0 then
      for _, index in ipairs(identities(member, uriOf(r), r.trackKey)) do
        for _, e in ipairs(near(index, r.endMs)) do
          if e[3] == imp and (e[1] ~= r.source or e[2] == r.endMs) then dropped = dropped + delete(e[4]) end
        end
      end
    end
  end
  return dropped
end
`;

// ARGV: prefix, imp ('0' for polled plays), staging key ('' for none), twin member ('' for none), twins after id,
// then per play: group, member, source, end, uri ('' for none), trackKey, body, staging field.
// Each group is checked against what was stored before it (SQLite's INSERT … SELECT), then added.
// Returns {added, twins dropped, last play id}.
const INSERT = `${PLAYS_LUA}
local imp = ARGV[2]
local added = 0
local i = 6
while i <= #ARGV do
  local group = ARGV[i]
  local take = {}
  local j = i
  while j <= #ARGV and ARGV[j] == group do
    if not stored(ARGV[j + 1], ARGV[j + 2], tonumber(ARGV[j + 3]), ARGV[j + 4], ARGV[j + 5], imp) then take[#take + 1] = j end
    if ARGV[3] ~= '' then redis.call('HDEL', ARGV[3], ARGV[j + 7]) end
    j = j + 8
  end
  for _, k in ipairs(take) do added = added + add(ARGV[k + 1], ARGV[k + 2], ARGV[k + 3], ARGV[k + 4], ARGV[k + 5], ARGV[k + 6], imp) end
  i = j
end
if ARGV[3] ~= '' and redis.call('EXISTS', ARGV[3]) == 0 then redis.call('SREM', P .. 'stagingJobs', string.sub(ARGV[3], #P + 9)) end
local dropped = 0
if ARGV[4] ~= '' then dropped = dropTwins(ARGV[4], imp, ARGV[5]) end
return {added, dropped, tonumber(redis.call('GET', P .. 'nextId') or '0')}`;

// ARGV: prefix, imp, member, twins after id, job id, imported so far, staged, record JSON.
// The last step of a commit: twins go, the import is recorded and its plays become visible at once.
const FINISH = `${PLAYS_LUA}
local imp, member, job = ARGV[2], ARGV[3], ARGV[5]
if redis.call('HEXISTS', P .. 'imports', job) == 1 then return redis.error_reply('IMPORT_EXISTS import ' .. job .. ' is already recorded') end
local imported = tonumber(ARGV[6]) - dropTwins(member, imp, ARGV[4])
local duplicate = tonumber(ARGV[7]) - imported
redis.call('HSET', P .. 'imports', job, imported .. SEP .. duplicate .. SEP .. ARGV[8])
redis.call('RPUSH', P .. 'importsOf:' .. member, job)
redis.call('HINCRBY', P .. 'count', member, imported)
redis.call('HDEL', P .. 'pending', imp)
redis.call('HDEL', P .. 'pendingJob', job)
redis.call('DEL', P .. 'pendingIds:' .. imp)
return {imported, duplicate}`;

// ARGV: prefix, imp, how many. Deletes up to that many plays of an unfinished commit; returns how many.
const DROP_PENDING = `${PLAYS_LUA}
local dropped = 0
for _, id in ipairs(redis.call('SPOP', P .. 'pendingIds:' .. ARGV[2], ARGV[3])) do dropped = dropped + delete(id) end
return dropped`;

interface HistoryScripts {
  historyInsert(...args: (string | number)[]): Promise<[number, number, number]>;
  historyFinish(...args: (string | number)[]): Promise<[number, number]>;
  historyDropPending(prefix: string, imp: string, count: number): Promise<number>;
}

// Sources in the order their plays are added: the most precise one is kept (as in SQLite).
const COMMIT_ORDER: readonly PlaySource[] = ['recently_played', 'import_extended', 'import_account'];
const SEP = '\u001f';
/**
 * Plays per commit slice. A slice is one Lua script and Redis serves no one else while it runs: about ten
 * calls per play, so 2,000 plays blocked it for ~150 ms on a dev machine and 500 for a few tens of ms.
 */
export const DEFAULT_SLICE_ROWS = 500;
/** Ids or plays per read. */
const PAGE = 1000;

interface StoredPlay extends Omit<Play, 'id'> {
  /** The pending import that wrote it; 0 for a polled play. */
  readonly imp: number;
}

interface Candidate {
  readonly play: PlayInput;
  readonly key: string;
  readonly field: string;
}

const candidate = (play: PlayInput): Candidate => {
  const key = trackKey(play.artist, play.track);
  return { play, key, field: [play.memberId, play.source, String(play.endMs), key].join(SEP) };
};

// Where UTF-16 order and UTF-8 byte order part: surrogates sort below U+E000–U+FFFF in UTF-16, above in UTF-8.
const PARTS_ORDER = /[\uD800-\uFFFF]/;
/** SQLite compares text by its UTF-8 bytes (BINARY); JavaScript's `<` by UTF-16 units, the same below U+D800. */
const binary = (a: string, b: string) => {
  if (a === b) return 0;
  if (PARTS_ORDER.test(a) || PARTS_ORDER.test(b)) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : 1;
};
const listened = (p: Play) => p.msPlayed ?? p.durationMs ?? 0;
/** SQLite's LIMIT: a negative one is no limit. */
const first = <T>(rows: T[], limit: number) => (limit < 0 ? rows : rows.slice(0, limit));
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The history area on Redis. Plays are JSON in one hash by id (INCR, so ids only grow); each member has
 * sorted sets of play ids by end time and by id; identity indexes (per member and URI, per member and
 * track key, entries scored by end time) serve the matching rule, checked and applied in one Lua script
 * per batch so that dedupe is atomic. An import's slices write plays tagged with a pending id; a play is
 * visible while its pending id is not in `pending`, so the last slice's script makes the whole import
 * visible at once by deleting that one field. Queries (listPlays, topTracks, topArtists, playBuckets,
 * playedTracks) run in the relay process over the members' plays in the range, read with ZRANGEBYSCORE
 * then HMGET in pages: a query layer sized for crews of ~8 members, not for scanning the whole relay.
 */
export class RedisHistoryStore implements HistoryStore {
  private readonly p: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.p = `${prefix}history:`;
    redis.defineCommand('historyInsert', { numberOfKeys: 0, lua: INSERT });
    redis.defineCommand('historyFinish', { numberOfKeys: 0, lua: FINISH });
    redis.defineCommand('historyDropPending', { numberOfKeys: 0, lua: DROP_PENDING });
  }

  private get scripts(): HistoryScripts {
    return this.redis as unknown as HistoryScripts;
  }

  async addPlays(plays: readonly PlayInput[]): Promise<{ added: number; duplicate: number }> {
    const unique = new Map<string, Candidate>();
    for (const play of plays) {
      const c = candidate(play);
      if (!unique.has(c.field)) unique.set(c.field, c);
    }
    const groups = COMMIT_ORDER.map((source) => [...unique.values()].filter((c) => c.play.source === source).sort(byEnd));
    const [added] = await this.insert('0', '', groups, '', 0);
    return { added, duplicate: plays.length - added };
  }

  async stageImport(jobId: string, plays: readonly PlayInput[]): Promise<number> {
    let staged = 0;
    for (let from = 0; from < plays.length; from += PAGE) {
      const batch = this.redis.multi().sadd(`${this.p}stagingJobs`, jobId);
      for (const play of plays.slice(from, from + PAGE)) {
        const c = candidate(play);
        batch.hsetnx(this.staging(jobId), c.field, JSON.stringify(play));
      }
      const results = (await batch.exec()) ?? [];
      for (const [error, value] of results.slice(1)) {
        if (error) throw error;
        staged += Number(value);
      }
    }
    return staged;
  }

  /** Slices of `sliceRows` staged plays, source by source in (end, track key) order, as in SQLite. */
  async commitImport(record: ImportRecord, options: CommitOptions = {}): Promise<{ imported: number; duplicate: number }> {
    const sliceRows = options.sliceRows ?? DEFAULT_SLICE_ROWS;
    const imp = String(await this.redis.incr(`${this.p}nextPending`));
    if ((await this.redis.hsetnx(`${this.p}pendingJob`, record.jobId, imp)) === 0) {
      throw new Error(`import ${record.jobId} is already being committed: discard it before committing it again`);
    }
    await this.redis.hset(`${this.p}pending`, imp, record.jobId);
    let after = Number((await this.redis.get(`${this.p}nextId`)) ?? 0);
    const staged = await this.stagedOf(record);
    let imported = 0;
    let moved = 0;
    for (const source of COMMIT_ORDER) {
      const rows = staged.filter((c) => c.play.source === source).sort(byEnd);
      for (let from = 0, last = false; !last; from += sliceRows) {
        options.signal?.throwIfAborted();
        const slice = rows.slice(from, from + sliceRows);
        last = slice.length < sliceRows;
        const [added, dropped, lastId] = await this.insert(imp, this.staging(record.jobId), [slice], record.memberId, after);
        imported += added - dropped;
        moved += slice.length;
        after = lastId;
        options.onSlice?.(moved);
        await nextTurn();
      }
    }
    options.signal?.throwIfAborted();
    const { jobId, memberId, fileName, startedAt, counts } = record;
    const json = JSON.stringify({ jobId, memberId, fileName, startedAt, counts });
    const [total, duplicate] = await this.scripts.historyFinish(this.p, imp, memberId, after, jobId, imported, moved, json);
    return { imported: total, duplicate };
  }

  async discardImport(jobId: string): Promise<void> {
    await this.redis.multi().del(this.staging(jobId)).srem(`${this.p}stagingJobs`, jobId).exec();
    const imp = await this.redis.hget(`${this.p}pendingJob`, jobId);
    if (imp !== null) await this.dropPending(imp, jobId);
  }

  async discardAllStaging(): Promise<number> {
    let dropped = 0;
    for (const jobId of await this.redis.smembers(`${this.p}stagingJobs`)) {
      const [[, count] = []] = (await this.redis.multi().hlen(this.staging(jobId)).del(this.staging(jobId)).srem(`${this.p}stagingJobs`, jobId).exec()) ?? [];
      dropped += Number(count);
    }
    const pending = await this.redis.hgetall(`${this.p}pending`);
    for (const [imp, jobId] of Object.entries(pending)) dropped += await this.dropPending(imp, jobId);
    return dropped;
  }

  async listImports(memberId: string): Promise<ImportRecord[]> {
    const jobs = await this.redis.lrange(`${this.p}importsOf:${memberId}`, 0, -1);
    if (jobs.length === 0) return [];
    const records = (await this.redis.hmget(`${this.p}imports`, ...jobs)).flatMap((value) => (value === null ? [] : [importRecord(value)]));
    // Array.sort is stable: equal start times stay in commit order, as SQLite's index gives them.
    return records.sort((a, b) => a.startedAt - b.startedAt);
  }

  async getCursor(memberId: string): Promise<number | null> {
    const value = await this.redis.hget(`${this.p}cursors`, memberId);
    return value === null ? null : Number(value);
  }

  async setCursor(memberId: string, afterMs: number): Promise<void> {
    await this.redis.hset(`${this.p}cursors`, memberId, afterMs);
  }

  async listPlays(memberIds: readonly string[], range: TimeRange, limit: number): Promise<Play[]> {
    const plays = await this.playsIn(memberIds, range);
    return first(
      plays.sort((a, b) => b.endMs - a.endMs || b.id - a.id),
      limit,
    );
  }

  async playsAfterId(memberId: string, afterId: number, limit: number): Promise<Play[]> {
    const found: Play[] = [];
    for (let after = afterId; limit < 0 || found.length < limit; ) {
      const [[, ids], [, pending]] = ((await this.redis
        .multi()
        .zrangebyscore(`${this.p}id:${memberId}`, `(${after}`, '+inf', 'LIMIT', 0, PAGE)
        .hkeys(`${this.p}pending`)
        .exec()) ?? []) as [[unknown, string[]], [unknown, string[]]];
      found.push(...(await this.visiblePlays(ids, new Set(pending))));
      if (ids.length < PAGE) break;
      after = Number(ids[ids.length - 1]);
    }
    return first(found, limit);
  }

  async countPlays(memberId: string): Promise<number> {
    return Number((await this.redis.hget(`${this.p}count`, memberId)) ?? 0);
  }

  async topTracks(memberIds: readonly string[], range: TimeRange, by: TopMeasure, limit: number): Promise<TopTrackRow[]> {
    const groups = new Map<string, TopTrackRow>();
    for (const p of await this.playsIn(memberIds, range)) {
      const row = groups.get(p.trackKey);
      groups.set(p.trackKey, {
        track: row && binary(row.track, p.track) <= 0 ? row.track : p.track,
        artist: row && binary(row.artist, p.artist) <= 0 ? row.artist : p.artist,
        trackUri: maxUri(row?.trackUri ?? null, p.trackUri),
        plays: (row?.plays ?? 0) + 1,
        msPlayed: (row?.msPlayed ?? 0) + listened(p),
      });
    }
    const rows = [...groups.entries()].sort(([ka, a], [kb, b]) => measure(b, by) - measure(a, by) || binary(ka, kb));
    return first(
      rows.map(([, row]) => row),
      limit,
    );
  }

  async topArtists(memberIds: readonly string[], range: TimeRange, by: TopMeasure, limit: number): Promise<TopArtistRow[]> {
    const groups = new Map<string, TopArtistRow>();
    for (const p of await this.playsIn(memberIds, range)) {
      const key = p.trackKey.slice(0, Math.max(0, p.trackKey.indexOf(SEP)));
      const row = groups.get(key);
      groups.set(key, {
        artist: row && binary(row.artist, p.artist) <= 0 ? row.artist : p.artist,
        plays: (row?.plays ?? 0) + 1,
        msPlayed: (row?.msPlayed ?? 0) + listened(p),
      });
    }
    return first(
      [...groups.values()].sort((a, b) => measure(b, by) - measure(a, by) || binary(a.artist, b.artist)),
      limit,
    );
  }

  /** Each play in the bucket its end time falls in (whole buckets from the epoch, as SQLite's integer division). */
  async playBuckets(memberIds: readonly string[], range: TimeRange, bucketMs: number): Promise<PlayBucket[]> {
    const buckets = new Map<number, { plays: number; msPlayed: number }>();
    for (const p of await this.playsIn(memberIds, range)) {
      const bucket = Math.floor(p.endMs / bucketMs);
      const row = buckets.get(bucket) ?? { plays: 0, msPlayed: 0 };
      buckets.set(bucket, { plays: row.plays + 1, msPlayed: row.msPlayed + listened(p) });
    }
    return [...buckets.entries()].sort(([a], [b]) => a - b).map(([bucket, row]) => ({ startMs: bucket * bucketMs, ...row }));
  }

  async playedTracks(memberIds: readonly string[], range: TimeRange): Promise<{ uris: string[]; trackKeys: string[] }> {
    const plays = await this.playsIn(memberIds, range);
    const uris = new Set(plays.flatMap((p) => (p.trackUri === null ? [] : [p.trackUri])));
    return { uris: [...uris], trackKeys: [...new Set(plays.map((p) => p.trackKey))] };
  }

  private staging(jobId: string): string {
    return `${this.p}staging:${jobId}`;
  }

  private async insert(imp: string, staging: string, groups: readonly Candidate[][], twinsOf: string, after: number): Promise<[number, number, number]> {
    const args: (string | number)[] = [this.p, imp, staging, twinsOf, after];
    groups.forEach((group, i) => {
      for (const { play, key, field } of group) {
        const body: StoredPlay = { ...play, trackKey: key, imp: Number(imp) };
        args.push(i, play.memberId, play.source, String(play.endMs), play.trackUri ?? '', key, JSON.stringify(body), field);
      }
    });
    const [added, dropped, lastId] = await this.scripts.historyInsert(...args);
    return [Number(added), Number(dropped), Number(lastId)];
  }

  /** The job's staged plays of the record's member (SQLite commits only those; others stay staged). */
  private async stagedOf(record: ImportRecord): Promise<Candidate[]> {
    const staged = await this.redis.hgetall(this.staging(record.jobId));
    return Object.values(staged)
      .map((json) => candidate(JSON.parse(json) as PlayInput))
      .filter((c) => c.play.memberId === record.memberId);
  }

  /** Deletes an unfinished commit's plays a page at a time, its pending id last: none of them is ever visible. */
  private async dropPending(imp: string, jobId: string): Promise<number> {
    let dropped = 0;
    for (let count = -1; count !== 0; await nextTurn()) {
      count = Number(await this.scripts.historyDropPending(this.p, imp, DEFAULT_SLICE_ROWS));
      dropped += count;
    }
    await this.redis.multi().hdel(`${this.p}pending`, imp).hdel(`${this.p}pendingJob`, jobId).del(`${this.p}pendingIds:${imp}`).exec();
    return dropped;
  }

  /** The visible plays of these members in the range, read as of one moment (one MULTI for the ids and pending imports). */
  private async playsIn(memberIds: readonly string[], range: TimeRange): Promise<Play[]> {
    const members = [...new Set(memberIds)];
    if (members.length === 0) return [];
    const batch = this.redis.multi();
    for (const member of members) batch.zrangebyscore(`${this.p}end:${member}`, range.fromMs, `(${range.toMs}`);
    batch.hkeys(`${this.p}pending`);
    const results = ((await batch.exec()) ?? []).map(([error, value]) => {
      if (error) throw error;
      return value as string[];
    });
    const pending = new Set(results.pop());
    return this.visiblePlays(results.flat(), pending);
  }

  private async visiblePlays(ids: readonly string[], pending: ReadonlySet<string>): Promise<Play[]> {
    const plays: Play[] = [];
    for (let from = 0; from < ids.length; from += PAGE) {
      const page = ids.slice(from, from + PAGE);
      const bodies = await this.redis.hmget(`${this.p}plays`, ...page);
      bodies.forEach((body, i) => {
        if (body === null) return;
        const { imp, ...play } = JSON.parse(body) as StoredPlay;
        if (imp === 0 || !pending.has(String(imp))) plays.push({ id: Number(page[i]), ...play });
      });
    }
    return plays;
  }
}

const byEnd = (a: Candidate, b: Candidate) => a.play.endMs - b.play.endMs || binary(a.key, b.key) || binary(a.play.memberId, b.play.memberId);
const measure = (row: { plays: number; msPlayed: number }, by: TopMeasure) => (by === 'plays' ? row.plays : row.msPlayed);
const maxUri = (a: string | null, b: string | null) => (a === null ? b : b === null || binary(a, b) >= 0 ? a : b);

function importRecord(value: string): ImportRecord {
  const [imported, duplicate, json] = value.split(SEP) as [string, string, string];
  const record = JSON.parse(json) as ImportRecord;
  const counts = { ...record.counts, imported: Number(imported), duplicate: (record.counts.duplicate ?? 0) + Number(duplicate) };
  return { ...record, counts };
}
