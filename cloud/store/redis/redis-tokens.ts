import type { Redis } from 'ioredis';
import type { CrewAppRecord, GrantRecord, SigninSessionRecord, TokenStore, TokenUpdate } from '../areas/tokens.js';

/**
 * Records are hashes whose fields are the record's own names; a null is a field left out.
 * Keys (after `${prefix}tokens:`): grant:<device>, live (sorted set, score 0: byte order, as
 * SQLite's ORDER BY), session:<code>, state:<state hash> → code, device-sessions:<device>,
 * session-expiry (sorted set by expiresAt), legacy:<device>, legacy-expiry, crew-app:<crew>.
 */
type Fields = Record<string, string>;

const fieldsOf = (record: object): Fields =>
  Object.fromEntries(Object.entries(record).flatMap(([name, value]) => (value === null || value === undefined ? [] : [[name, String(value)]])));

const text = (fields: Fields, name: string): string | null => fields[name] ?? null;
const number = (fields: Fields, name: string): number | null => (fields[name] === undefined ? null : Number(fields[name]));

const grantFrom = (f: Fields): GrantRecord => ({
  deviceId: f.deviceId!,
  spotifyUserId: f.spotifyUserId!,
  spotifyAccountId: text(f, 'spotifyAccountId'),
  displayName: text(f, 'displayName'),
  clientId: f.clientId!,
  refreshTokenEnc: f.refreshTokenEnc!,
  accessTokenEnc: text(f, 'accessTokenEnc'),
  accessExpiresAt: Number(f.accessExpiresAt),
  scope: f.scope!,
  status: f.status as GrantRecord['status'],
  deadReason: text(f, 'deadReason') as GrantRecord['deadReason'],
  notifyUntil: number(f, 'notifyUntil'),
  updatedAt: Number(f.updatedAt),
});

const sessionFrom = (f: Fields): SigninSessionRecord => ({
  code: f.code!,
  deviceId: f.deviceId!,
  deviceName: f.deviceName!,
  crewId: text(f, 'crewId'),
  crewCode: text(f, 'crewCode'),
  crewName: text(f, 'crewName'),
  clientId: f.clientId!,
  createdAt: Number(f.createdAt),
  expiresAt: Number(f.expiresAt),
  stateHash: text(f, 'stateHash'),
  verifierEnc: text(f, 'verifierEnc'),
  status: f.status as SigninSessionRecord['status'],
});

/** A Lua reply of HGETALL (a flat list) as fields. */
const pairs = (flat: string[]): Fields => {
  const fields: Fields = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
};

// KEYS: the grant. ARGV: expected refresh ciphertext, refresh, access, access expiry, now.
const UPDATE_TOKENS = `
if redis.call('HGET', KEYS[1], 'status') ~= 'live' or redis.call('HGET', KEYS[1], 'refreshTokenEnc') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'refreshTokenEnc', ARGV[2], 'accessTokenEnc', ARGV[3], 'accessExpiresAt', ARGV[4], 'updatedAt', ARGV[5])
return 1`;

// KEYS: the grant, the live set. ARGV: device, reason, now, '1' when a refresh ciphertext is expected, that ciphertext.
const MARK_DEAD = `
if redis.call('HGET', KEYS[1], 'status') ~= 'live' then return 0 end
if ARGV[4] == '1' and redis.call('HGET', KEYS[1], 'refreshTokenEnc') ~= ARGV[5] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'dead', 'deadReason', ARGV[2], 'updatedAt', ARGV[3])
redis.call('HDEL', KEYS[1], 'accessTokenEnc', 'notifyUntil')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`;

// KEYS: the grant. ARGV: account id. Only an existing grant gets it.
const SET_ACCOUNT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'spotifyAccountId', ARGV[1])
return 1`;

// KEYS: the session, the device's sessions, session-expiry. ARGV: session key prefix, state key prefix,
// code, state hash ('' for none), expiresAt, then the session's field/value pairs.
// The device's open and redirected sessions become replaced (their state hash stays: a late callback says so).
const CREATE_SESSION = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('UNIQUE constraint failed: a sign-in session with this code exists') end
if ARGV[4] ~= '' and redis.call('EXISTS', ARGV[2] .. ARGV[4]) == 1 then
  return redis.error_reply('UNIQUE constraint failed: a sign-in session with this state exists')
end
for _, code in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[1] .. code
  local status = redis.call('HGET', key, 'status')
  if status == 'open' or status == 'redirected' then
    redis.call('HSET', key, 'status', 'replaced')
    redis.call('HDEL', key, 'verifierEnc')
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])
if ARGV[4] ~= '' then redis.call('SET', ARGV[2] .. ARGV[4], ARGV[3]) end
return 1`;

// KEYS: the session. ARGV: state key prefix, code, state hash, verifier ciphertext.
const BEGIN_ATTEMPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'open' and status ~= 'redirected' then return 0 end
local owner = redis.call('GET', ARGV[1] .. ARGV[3])
if owner and owner ~= ARGV[2] then return redis.error_reply('UNIQUE constraint failed: a sign-in session with this state exists') end
local old = redis.call('HGET', KEYS[1], 'stateHash')
if old and old ~= ARGV[3] and redis.call('GET', ARGV[1] .. old) == ARGV[2] then redis.call('DEL', ARGV[1] .. old) end
redis.call('SET', ARGV[1] .. ARGV[3], ARGV[2])
redis.call('HSET', KEYS[1], 'stateHash', ARGV[3], 'verifierEnc', ARGV[4], 'status', 'redirected')
return 1`;

// ARGV: state key prefix, session key prefix, state hash. The one taker gets the session, now exchanging.
const TAKE_BY_STATE = `
local code = redis.call('GET', ARGV[1] .. ARGV[3])
if not code then return false end
local key = ARGV[2] .. code
if redis.call('HGET', key, 'stateHash') ~= ARGV[3] or redis.call('HGET', key, 'status') ~= 'redirected' then return false end
redis.call('HSET', key, 'status', 'exchanging')
return redis.call('HGETALL', key)`;

// KEYS: the session. ARGV: state key prefix, code, status. A failed exchange clears the state: it must not work twice.
const FINISH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[3])
redis.call('HDEL', KEYS[1], 'verifierEnc')
if ARGV[3] == 'open' then
  local state = redis.call('HGET', KEYS[1], 'stateHash')
  if state then
    if redis.call('GET', ARGV[1] .. state) == ARGV[2] then redis.call('DEL', ARGV[1] .. state) end
    redis.call('HDEL', KEYS[1], 'stateHash')
  end
end
return 1`;

// KEYS: session-expiry, legacy-expiry. ARGV: session, state, device-sessions and legacy key prefixes, cutoff, batch.
// Deletes up to a batch of each expired before the cutoff; returns how many sessions and held tokens it deleted.
const PRUNE = `
local cutoff = '(' .. ARGV[5]
local codes = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, ARGV[6])
for _, code in ipairs(codes) do
  local key = ARGV[1] .. code
  local device, state = unpack(redis.call('HMGET', key, 'deviceId', 'stateHash'))
  if state and redis.call('GET', ARGV[2] .. state) == code then redis.call('DEL', ARGV[2] .. state) end
  if device then redis.call('SREM', ARGV[3] .. device, code) end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], code)
end
local devices = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cutoff, 'LIMIT', 0, ARGV[6])
for _, device in ipairs(devices) do
  redis.call('DEL', ARGV[4] .. device)
  redis.call('ZREM', KEYS[2], device)
end
return {#codes, #devices}`;

interface TokenScripts {
  tokensUpdate(grant: string, expected: string, refresh: string, access: string, expiresAt: number, now: number): Promise<number>;
  tokensMarkDead(grant: string, live: string, deviceId: string, reason: string, now: number, expects: string, expected: string): Promise<number>;
  tokensSetAccount(grant: string, accountId: string): Promise<number>;
  tokensCreateSession(
    session: string,
    deviceSessions: string,
    expiry: string,
    sessionPrefix: string,
    statePrefix: string,
    code: string,
    stateHash: string,
    expiresAt: number,
    ...fields: string[]
  ): Promise<number>;
  tokensBeginAttempt(session: string, statePrefix: string, code: string, stateHash: string, verifierEnc: string): Promise<number>;
  tokensTakeByState(statePrefix: string, sessionPrefix: string, stateHash: string): Promise<string[] | null>;
  tokensFinish(session: string, statePrefix: string, code: string, status: string): Promise<number>;
  tokensPrune(
    sessionExpiry: string,
    legacyExpiry: string,
    sessionPrefix: string,
    statePrefix: string,
    deviceSessionsPrefix: string,
    legacyPrefix: string,
    cutoff: number,
    batch: number,
  ): Promise<[number, number]>;
}

/** How many expired sessions (and held tokens) one prune script deletes before the next runs. */
const PRUNE_BATCH = 500;

/**
 * The tokens area on Redis. Every compare-and-set (refresh, dead grant, single-use state,
 * replacing a device's older sessions) is one Lua script, the row-level UPDATE … WHERE of SQLite.
 */
export class RedisTokenStore implements TokenStore {
  private readonly keys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    const area = `${prefix}tokens:`;
    this.keys = {
      grant: (deviceId: string) => `${area}grant:${deviceId}`,
      live: `${area}live`,
      sessionPrefix: `${area}session:`,
      statePrefix: `${area}state:`,
      deviceSessionsPrefix: `${area}device-sessions:`,
      sessionExpiry: `${area}session-expiry`,
      legacyPrefix: `${area}legacy:`,
      legacyExpiry: `${area}legacy-expiry`,
      crewApp: (crewId: string) => `${area}crew-app:${crewId}`,
    };
    redis.defineCommand('tokensUpdate', { numberOfKeys: 1, lua: UPDATE_TOKENS });
    redis.defineCommand('tokensMarkDead', { numberOfKeys: 2, lua: MARK_DEAD });
    redis.defineCommand('tokensSetAccount', { numberOfKeys: 1, lua: SET_ACCOUNT });
    redis.defineCommand('tokensCreateSession', { numberOfKeys: 3, lua: CREATE_SESSION });
    redis.defineCommand('tokensBeginAttempt', { numberOfKeys: 1, lua: BEGIN_ATTEMPT });
    redis.defineCommand('tokensTakeByState', { numberOfKeys: 0, lua: TAKE_BY_STATE });
    redis.defineCommand('tokensFinish', { numberOfKeys: 1, lua: FINISH });
    redis.defineCommand('tokensPrune', { numberOfKeys: 2, lua: PRUNE });
  }

  private get scripts(): TokenScripts {
    return this.redis as unknown as TokenScripts;
  }

  private session(code: string): string {
    return this.keys.sessionPrefix + code;
  }

  async getGrant(deviceId: string): Promise<GrantRecord | null> {
    const fields = await this.redis.hgetall(this.keys.grant(deviceId));
    return fields.deviceId === undefined ? null : grantFrom(fields);
  }

  async saveGrant(grant: GrantRecord): Promise<void> {
    const key = this.keys.grant(grant.deviceId);
    const multi = this.redis.multi().del(key).hset(key, fieldsOf(grant));
    if (grant.status === 'live') multi.zadd(this.keys.live, 0, grant.deviceId);
    else multi.zrem(this.keys.live, grant.deviceId);
    await execAll(multi);
  }

  async updateTokens(deviceId: string, expectedRefreshEnc: string, update: TokenUpdate): Promise<boolean> {
    const key = this.keys.grant(deviceId);
    return (await this.scripts.tokensUpdate(key, expectedRefreshEnc, update.refreshTokenEnc, update.accessTokenEnc, update.accessExpiresAt, Date.now())) === 1;
  }

  async markGrantDead(deviceId: string, reason: 'revoked' | 'app_changed', expectedRefreshEnc?: string): Promise<boolean> {
    const expects = expectedRefreshEnc === undefined ? '0' : '1';
    const marked = await this.scripts.tokensMarkDead(
      this.keys.grant(deviceId),
      this.keys.live,
      deviceId,
      reason,
      Date.now(),
      expects,
      expectedRefreshEnc ?? '',
    );
    return marked === 1;
  }

  async clearNotify(deviceId: string): Promise<void> {
    await this.redis.hdel(this.keys.grant(deviceId), 'notifyUntil');
  }

  async setAccountId(deviceId: string, accountId: string): Promise<void> {
    await this.scripts.tokensSetAccount(this.keys.grant(deviceId), accountId);
  }

  async listLiveGrants(): Promise<string[]> {
    return this.redis.zrange(this.keys.live, '0', '-1');
  }

  async createSession(session: SigninSessionRecord): Promise<void> {
    const fields = Object.entries(fieldsOf(session)).flat();
    await this.scripts.tokensCreateSession(
      this.session(session.code),
      this.keys.deviceSessionsPrefix + session.deviceId,
      this.keys.sessionExpiry,
      this.keys.sessionPrefix,
      this.keys.statePrefix,
      session.code,
      session.stateHash ?? '',
      session.expiresAt,
      ...fields,
    );
  }

  async getSession(code: string): Promise<SigninSessionRecord | null> {
    const fields = await this.redis.hgetall(this.session(code));
    return fields.code === undefined ? null : sessionFrom(fields);
  }

  async getSessionByState(stateHash: string): Promise<SigninSessionRecord | null> {
    const code = await this.redis.get(this.keys.statePrefix + stateHash);
    const session = code === null ? null : await this.getSession(code);
    return session?.stateHash === stateHash ? session : null;
  }

  async beginAttempt(code: string, stateHash: string, verifierEnc: string): Promise<boolean> {
    return (await this.scripts.tokensBeginAttempt(this.session(code), this.keys.statePrefix, code, stateHash, verifierEnc)) === 1;
  }

  async takeSessionByState(stateHash: string): Promise<SigninSessionRecord | null> {
    const taken = await this.scripts.tokensTakeByState(this.keys.statePrefix, this.keys.sessionPrefix, stateHash);
    return taken ? sessionFrom(pairs(taken)) : null;
  }

  async finishSession(code: string, status: 'completed' | 'open'): Promise<void> {
    await this.scripts.tokensFinish(this.session(code), this.keys.statePrefix, code, status);
  }

  async pruneSessions(expiredBefore: number): Promise<number> {
    let sessions = 0;
    for (;;) {
      const [prunedSessions, prunedHeld] = await this.scripts.tokensPrune(
        this.keys.sessionExpiry,
        this.keys.legacyExpiry,
        this.keys.sessionPrefix,
        this.keys.statePrefix,
        this.keys.deviceSessionsPrefix,
        this.keys.legacyPrefix,
        expiredBefore,
        PRUNE_BATCH,
      );
      sessions += prunedSessions;
      if (prunedSessions < PRUNE_BATCH && prunedHeld < PRUNE_BATCH) return sessions;
    }
  }

  async holdLegacyTokens(deviceId: string, tokensEnc: string, expiresAt: number): Promise<void> {
    const key = this.keys.legacyPrefix + deviceId;
    await execAll(
      this.redis
        .multi()
        .hset(key, { tokensEnc, expiresAt: String(expiresAt) })
        .zadd(this.keys.legacyExpiry, expiresAt, deviceId),
    );
  }

  async takeLegacyTokens(deviceId: string, now: number): Promise<string | null> {
    const key = this.keys.legacyPrefix + deviceId;
    const [held] = await execAll(this.redis.multi().hmget(key, 'tokensEnc', 'expiresAt').del(key).zrem(this.keys.legacyExpiry, deviceId));
    const [tokensEnc, expiresAt] = held as (string | null)[];
    return tokensEnc != null && Number(expiresAt) > now ? tokensEnc : null;
  }

  async getCrewApp(crewId: string): Promise<CrewAppRecord | null> {
    const f = await this.redis.hgetall(this.keys.crewApp(crewId));
    if (f.crewId === undefined) return null;
    return { crewId: f.crewId, clientId: f.clientId!, clientSecretEnc: text(f, 'clientSecretEnc'), updatedAt: Number(f.updatedAt) };
  }

  async saveCrewApp(app: CrewAppRecord): Promise<void> {
    const key = this.keys.crewApp(app.crewId);
    await execAll(this.redis.multi().del(key).hset(key, fieldsOf(app)));
  }

  async removeCrewApp(crewId: string): Promise<boolean> {
    return (await this.redis.del(this.keys.crewApp(crewId))) === 1;
  }
}

/** Runs a MULTI and returns its replies, throwing the first command's error instead of handing it back. */
async function execAll(multi: ReturnType<Redis['multi']>): Promise<unknown[]> {
  const replies = await multi.exec();
  if (!replies) throw new Error('The Redis transaction was aborted.');
  return replies.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}
