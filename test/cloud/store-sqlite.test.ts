import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite, runMigrations } from '../../cloud/store/sqlite.js';
import type { SqliteDatabase } from '../../cloud/store/sqlite.js';
import { openSqliteStore } from '../../cloud/store/sqlite-store.js';
import { CREW_MIGRATIONS } from '../../cloud/store/sqlite-crews.js';
import { firstVisibleSeq, visibleFromSeq } from '../../cloud/crew-visibility.js';
import { openStore } from '../../cloud/store/open-store.js';
import { testRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { storeContract } from './store-contract.js';

let dir: string | undefined;
const file = () => path.join(dir!, 'leeloo.db');

storeContract({
  name: 'sqlite',
  async open() {
    dir = await makeTempDir('leeloo-store-');
    return openSqliteStore(file());
  },
  async reopen() {
    return openSqliteStore(file());
  },
  async cleanup() {
    if (dir) await removeTempDir(dir);
    dir = undefined;
  },
});

let redis: TestRedis | undefined;
storeContract({
  name: 'redis',
  async open() {
    redis = await testRedis();
    return openStore({ dataDir: '/nonexistent', redisUrl: TEST_REDIS_URL, redisPrefix: redis.prefix });
  },
  async reopen() {
    return openStore({ dataDir: '/nonexistent', redisUrl: TEST_REDIS_URL, redisPrefix: redis!.prefix });
  },
  async cleanup() {
    await redis?.cleanup();
    redis = undefined;
  },
});

describe('sqlite file and migrations', () => {
  afterEach(async () => {
    if (dir) await removeTempDir(dir);
    dir = undefined;
  });

  it('opens in WAL mode with durable commits and foreign keys', async () => {
    dir = await makeTempDir('leeloo-store-');
    const db = openSqlite(file());
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBeGreaterThan(0);
    db.close();
  });

  it('applies each migration once and records it per area', async () => {
    dir = await makeTempDir('leeloo-store-');
    const db = openSqlite(file());
    const list = ['CREATE TABLE t (x INTEGER)', 'ALTER TABLE t ADD COLUMN y INTEGER'];
    expect(runMigrations(db, 'test', list)).toBe(2);
    expect(runMigrations(db, 'test', list)).toBe(0);
    expect(runMigrations(db, 'test', [...list, 'CREATE TABLE u (z INTEGER)'])).toBe(1);
    expect(db.prepare("SELECT version FROM schema_migrations WHERE area = 'test' ORDER BY version").pluck().all()).toEqual([1, 2, 3]);
    db.close();
  });

  it('rolls back a failing migration without recording it', async () => {
    dir = await makeTempDir('leeloo-store-');
    const db = openSqlite(file());
    expect(() => runMigrations(db, 'test', ['CREATE TABLE t (x INTEGER); CREATE TABLE t (x INTEGER)'])).toThrow();
    expect(db.prepare("SELECT COUNT(*) FROM schema_migrations WHERE area = 'test'").pluck().get()).toBe(0);
    expect(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 't'").pluck().get()).toBe(0);
    db.close();
  });

  it('reopening an existing store runs no migration again', async () => {
    dir = await makeTempDir('leeloo-store-');
    const applied = (db: SqliteDatabase) => db.prepare("SELECT version, applied_at FROM schema_migrations WHERE area = 'crews' ORDER BY version").all();
    const first = openSqliteStore(file());
    const before = applied(first.db);
    await first.close();
    const store = openSqliteStore(file());
    expect(before.length).toBeGreaterThanOrEqual(3);
    expect(applied(store.db)).toEqual(before);
    await store.close();
  });

  it('creates the data dir 0700 and the database files 0600, and tightens a database file left readable', async () => {
    dir = await makeTempDir('leeloo-store-');
    const dataDir = path.join(dir, 'srv', 'leeloo');
    const mode = (file: string) => fs.statSync(file).mode & 0o777;
    const store = await openStore({ dataDir, redisUrl: undefined });
    await store.crews.saveDevice({ deviceId: 'ana', displayName: 'Ana' });
    expect(mode(path.join(dir, 'srv'))).toBe(0o700);
    expect(mode(dataDir)).toBe(0o700);
    for (const file of ['leeloo.db', 'leeloo.db-wal', 'leeloo.db-shm']) expect(mode(path.join(dataDir, file)), file).toBe(0o600);
    await store.close();
    fs.chmodSync(path.join(dataDir, 'leeloo.db'), 0o644);
    await (await openStore({ dataDir, redisUrl: undefined })).close();
    expect(mode(path.join(dataDir, 'leeloo.db'))).toBe(0o600);
  });

  it('migrates stored Spotify grants to the stable account id: old rows keep their data, with the account id still to read', async () => {
    dir = await makeTempDir('leeloo-store-');
    // A store as tokens migration 1 left it, with a grant made before Spotify's account_id.
    const db = openSqlite(file());
    db.exec(`CREATE TABLE spotify_grants (device_id TEXT PRIMARY KEY, spotify_user_id TEXT NOT NULL, display_name TEXT,
      client_id TEXT NOT NULL, refresh_token_enc TEXT NOT NULL, access_token_enc TEXT, access_expires_at INTEGER NOT NULL,
      scope TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('live', 'dead')), dead_reason TEXT, notify_until INTEGER,
      updated_at INTEGER NOT NULL);
      CREATE TABLE spotify_signin_sessions (code TEXT PRIMARY KEY, device_id TEXT NOT NULL, device_name TEXT NOT NULL, crew_id TEXT,
      crew_code TEXT, crew_name TEXT, client_id TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
      state_hash TEXT UNIQUE, verifier_enc TEXT, status TEXT NOT NULL);
      CREATE TABLE spotify_crew_apps (crew_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, client_secret_enc TEXT, updated_at INTEGER NOT NULL);
      INSERT INTO schema_migrations VALUES ('tokens', 1, 0);
      INSERT INTO spotify_grants VALUES ('dev-1', 'anna', 'Anna', 'app-1', 'v1.x.y.z.w', NULL, 0, 'scope', 'live', NULL, NULL, 1);`);
    db.close();
    const store = openSqliteStore(file());
    expect(await store.tokens.getGrant('dev-1')).toMatchObject({
      spotifyUserId: 'anna',
      spotifyAccountId: null,
      refreshTokenEnc: 'v1.x.y.z.w',
      status: 'live',
    });
    await store.tokens.setAccountId('dev-1', 'acct-anna');
    expect((await store.tokens.getGrant('dev-1'))?.spotifyAccountId).toBe('acct-anna');
    expect(store.db.prepare("SELECT MAX(version) FROM schema_migrations WHERE area = 'tokens'").pluck().get()).toBe(3);
    await store.close();
  });

  it('members from before join positions were recorded keep seeing the whole log; later joins start at theirs', async () => {
    dir = await makeTempDir('leeloo-store-');
    // A store as crews migration 3 left it: a crew with history and two members.
    const db = openSqlite(file());
    runMigrations(db, 'crews', CREW_MIGRATIONS.slice(0, 3));
    db.exec(`INSERT INTO devices (device_id, display_name, created_at, last_seen_at) VALUES ('ana', 'Ana', 1, 1), ('bo', 'Bo', 1, 1), ('cy', 'Cy', 1, 1);
      INSERT INTO crews (crew_id, crew_code, crew_name, owner_device_id, latest_seq, created_at, epoch) VALUES ('c1', 'LEELOO-AAAA', 'Crew', 'ana', 2, 1, 'e1');
      INSERT INTO crew_members (device_id, crew_id, join_order, joined_at, delivered_seq) VALUES ('ana', 'c1', 1, 1, 0), ('bo', 'c1', 2, 5, 1);
      INSERT INTO crew_events (crew_id, seq, at, type, device_id, body) VALUES
        ('c1', 1, 10, 'message', 'ana', '{"type":"message","from_device":"ana","from_name":"Ana","timestamp":10,"msg_type":"text","payload":{"text":"one"}}'),
        ('c1', 2, 20, 'message', 'ana', '{"type":"message","from_device":"ana","from_name":"Ana","timestamp":20,"msg_type":"text","payload":{"text":"two"}}');`);
    db.close();
    const store = openSqliteStore(file());
    const crew = (await store.crews.getCrew('c1'))!;
    expect(crew.shareHistory).toBe(false);
    for (const id of ['ana', 'bo']) {
      const member = (await store.crews.getMembership(id))!;
      expect(member.joinedSeq).toBe(0);
      expect(firstVisibleSeq(member, crew)).toBe(1);
    }
    await store.crews.addMember('c1', 'cy');
    expect(firstVisibleSeq((await store.crews.getMembership('cy'))!, crew)).toBe(3);
    expect(await visibleFromSeq(store.crews, 'bo', 'c1')).toBe(1);
    expect(await visibleFromSeq(store.crews, 'cy', 'c1')).toBe(3);
    await store.close();
  });

  it('gives MCP tokens made before the crew page lists them an id, an empty name and no last use', async () => {
    dir = await makeTempDir('leeloo-store-');
    // Back to what mcp migration 1 left: a token row without id, name or last use.
    const fresh = openSqliteStore(file());
    fresh.db.exec(`DROP TABLE mcp_tokens; DROP TABLE mcp_mixtapes; DELETE FROM schema_migrations WHERE area = 'mcp' AND version > 1;
      CREATE TABLE mcp_tokens (token_hash TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(device_id), created_at INTEGER NOT NULL);`);
    await fresh.crews.saveDevice({ deviceId: 'dev-1', displayName: 'Ana' });
    fresh.db.prepare('INSERT INTO mcp_tokens VALUES (?, ?, ?)').run('ab'.repeat(32), 'dev-1', 7);
    await fresh.close();
    const store = openSqliteStore(file());
    expect(await store.mcp.listTokens('dev-1')).toEqual([
      { tokenId: 'ab'.repeat(8), tokenHash: 'ab'.repeat(32), deviceId: 'dev-1', name: '', createdAt: 7, lastUsedAt: null },
    ]);
    expect(await store.mcp.revokeToken('dev-1', 'ab'.repeat(8))).toBe(true);
    await store.close();
  });

  it("keeps a member's weekly mixtape, one per week, with how many of its tracks Spotify took", async () => {
    dir = await makeTempDir('leeloo-store-');
    const store = openSqliteStore(file());
    await store.crews.saveDevice({ deviceId: 'dev-1', displayName: 'Ana' });
    const record = {
      deviceId: 'dev-1',
      week: '2026-11-30',
      playlistId: 'p1',
      playlistUri: 'spotify:playlist:p1',
      url: null,
      name: 'LEELOO crew mixtape',
      uris: ['spotify:track:a', 'spotify:track:b'],
      added: 0,
      createdAt: 5,
    };
    await store.mcp.saveMixtape(record);
    await expect(store.mcp.saveMixtape({ ...record, playlistId: 'p2' })).rejects.toThrow(/UNIQUE/);
    await store.mcp.noteMixtapeAdded('dev-1', '2026-11-30', 2);
    await store.close();
    const reopened = openSqliteStore(file());
    expect(await reopened.mcp.findMixtape('dev-1', '2026-11-30')).toEqual({ ...record, added: 2 });
    expect(await reopened.mcp.findMixtape('dev-1', '2026-12-07')).toBeNull();
    await reopened.close();
  });

  it('opens the Redis store when REDIS_URL is set, its keys under LEELOO_REDIS_PREFIX', async () => {
    const test = await testRedis();
    try {
      const store = await openStore({ dataDir: '/nonexistent', redisUrl: TEST_REDIS_URL, redisPrefix: test.prefix });
      expect(store.kind).toBe('redis');
      await store.crews.saveDevice({ deviceId: 'dev-r', displayName: 'R' });
      await store.ping();
      await store.close();
      expect(await test.redis.exists(`${test.prefix}dir:device:dev-r`)).toBe(1);
    } finally {
      await test.cleanup();
    }
  });
});
