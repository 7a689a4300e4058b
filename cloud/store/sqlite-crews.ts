import { ProtocolError, type CrewEvent } from '../../protocol/index.js';
import { runMigrations, type SqliteDatabase, writeTransaction } from './sqlite.js';
import { connectionWriter, type LogWriter } from './sqlite-writer.js';
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
} from './store.js';

/** The crews area's migrations, in order (exported for the migration tests). */
export const CREW_MIGRATIONS = [
  `CREATE TABLE devices (
     device_id TEXT PRIMARY KEY,
     display_name TEXT NOT NULL,
     secret_hash TEXT,
     created_at INTEGER NOT NULL,
     last_seen_at INTEGER NOT NULL
   );
   CREATE TABLE crews (
     crew_id TEXT PRIMARY KEY,
     crew_code TEXT NOT NULL UNIQUE,
     crew_name TEXT NOT NULL,
     owner_device_id TEXT NOT NULL REFERENCES devices(device_id),
     latest_seq INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE crew_members (
     device_id TEXT PRIMARY KEY REFERENCES devices(device_id),
     crew_id TEXT NOT NULL REFERENCES crews(crew_id) ON DELETE CASCADE,
     join_order INTEGER NOT NULL,
     joined_at INTEGER NOT NULL,
     delivered_seq INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX crew_members_by_crew ON crew_members(crew_id, join_order);
   CREATE TABLE crew_events (
     crew_id TEXT NOT NULL REFERENCES crews(crew_id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     at INTEGER NOT NULL,
     type TEXT NOT NULL,
     device_id TEXT,
     body TEXT NOT NULL,
     PRIMARY KEY (crew_id, seq)
   ) WITHOUT ROWID;
   CREATE INDEX crew_events_by_time ON crew_events(crew_id, at);
   CREATE TABLE client_messages (
     device_id TEXT NOT NULL,
     client_msg_id TEXT NOT NULL,
     crew_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (device_id, client_msg_id)
   ) WITHOUT ROWID;
   CREATE INDEX client_messages_by_time ON client_messages(at);`,
  // The operator's reset-credential (admin API): set with the secret cleared, ended by the next secret.
  `ALTER TABLE devices ADD COLUMN secret_reset_at INTEGER;
   CREATE INDEX crews_by_created ON crews(created_at, crew_id);`,
  // The epoch of each crew's log: renewed by scripts/restore.ts (renewLogEpochs) after a restore.
  `ALTER TABLE crews ADD COLUMN epoch TEXT NOT NULL DEFAULT '';
   UPDATE crews SET epoch = lower(hex(randomblob(8)));`,
  // Where each membership's view of the crew log starts (the crew's latest seq at its join), and the
  // owner's choice to show newcomers the crew's past. Members from before this migration were there:
  // they keep seeing everything (0).
  `ALTER TABLE crew_members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE crews ADD COLUMN share_history INTEGER NOT NULL DEFAULT 0;`,
  // The client message id of the create_crew that made the crew: a retry of it answers this crew.
  `ALTER TABLE crews ADD COLUMN created_by_msg TEXT;`,
];

/** Gives every crew's log a new epoch: run on a restored copy, before the relay opens it. */
export function renewLogEpochs(db: SqliteDatabase): number {
  return db.prepare('UPDATE crews SET epoch = lower(hex(randomblob(8)))').run().changes;
}

interface DeviceRow {
  device_id: string;
  display_name: string;
  secret_hash: string | null;
  secret_reset_at: number | null;
  created_at: number;
  last_seen_at: number;
}
interface CrewRow {
  crew_id: string;
  crew_code: string;
  crew_name: string;
  owner_device_id: string;
  latest_seq: number;
  created_at: number;
  epoch: string;
  share_history: number;
  created_by_msg: string | null;
}
interface CrewSummaryRow extends CrewRow {
  owner_name: string;
  member_count: number;
}
interface MemberRow {
  crew_id: string;
  device_id: string;
  display_name: string;
  owner_device_id: string;
  joined_at: number;
  joined_seq: number;
  delivered_seq: number;
}
interface EventRow {
  crew_id: string;
  seq: number;
  at: number;
  body: string;
  crew_code: string;
}

const toDevice = (r: DeviceRow): DeviceRecord => ({
  deviceId: r.device_id,
  displayName: r.display_name,
  secretHash: r.secret_hash,
  secretResetAt: r.secret_reset_at,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
});
const toCrew = (r: CrewRow): CrewRecord => ({
  crewId: r.crew_id,
  crewCode: r.crew_code,
  crewName: r.crew_name,
  ownerDeviceId: r.owner_device_id,
  latestSeq: r.latest_seq,
  createdAt: r.created_at,
  epoch: r.epoch,
  shareHistory: r.share_history === 1,
  createdByMsg: r.created_by_msg ?? null,
});
const toCrewSummary = (r: CrewSummaryRow): CrewSummary => ({ ...toCrew(r), ownerName: r.owner_name, memberCount: r.member_count });
const toMember = (r: MemberRow): MemberRecord => ({
  crewId: r.crew_id,
  deviceId: r.device_id,
  displayName: r.display_name,
  isOwner: r.owner_device_id === r.device_id,
  joinedAt: r.joined_at,
  joinedSeq: r.joined_seq,
  deliveredSeq: r.delivered_seq,
});
// The stored body has no seq/crew_code: the code can be rotated, so the current one is filled in on read.
const toEvent = (r: EventRow): StoredEvent => ({
  crewId: r.crew_id,
  seq: r.seq,
  at: r.at,
  event: { ...JSON.parse(r.body), seq: r.seq, crew_code: r.crew_code } as CrewEvent,
});

const MEMBER_SELECT = `SELECT m.crew_id, m.device_id, d.display_name, c.owner_device_id, m.joined_at, m.joined_seq, m.delivered_seq
  FROM crew_members m JOIN devices d ON d.device_id = m.device_id JOIN crews c ON c.crew_id = m.crew_id`;
const EVENT_SELECT = `SELECT e.crew_id, e.seq, e.at, e.body, c.crew_code FROM crew_events e JOIN crews c ON c.crew_id = e.crew_id`;

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error as { code: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * The directory and the event log of the embedded store (one class: they share tables).
 * better-sqlite3 is synchronous; the interface is async for Redis. The log's writes go through
 * `writer` (a store in a file: the writer thread, sqlite-writer.ts).
 */
export class SqliteCrewStore implements CrewStore, EventLog {
  private readonly db: SqliteDatabase;
  private readonly q;
  private readonly writer: LogWriter;

  constructor(db: SqliteDatabase, writer?: LogWriter) {
    this.db = db;
    runMigrations(db, 'crews', CREW_MIGRATIONS);
    this.q = this.prepare(db);
    this.writer = writer ?? connectionWriter(db);
  }

  private prepare(db: SqliteDatabase) {
    return {
      device: db.prepare('SELECT * FROM devices WHERE device_id = ?'),
      insertDevice: db.prepare(
        `INSERT INTO devices (device_id, display_name, secret_hash, created_at, last_seen_at) VALUES (@deviceId, @displayName, @secretHash, @now, @now)
         ON CONFLICT(device_id) DO UPDATE SET display_name = excluded.display_name, last_seen_at = excluded.last_seen_at,
           secret_hash = COALESCE(devices.secret_hash, excluded.secret_hash),
           secret_reset_at = CASE WHEN devices.secret_hash IS NULL AND excluded.secret_hash IS NOT NULL THEN NULL ELSE devices.secret_reset_at END`,
      ),
      resetSecret: db.prepare('UPDATE devices SET secret_hash = NULL, secret_reset_at = ? WHERE device_id = ?'),
      listCrews: db.prepare(
        `SELECT c.*, COALESCE(d.display_name, c.owner_device_id) AS owner_name,
           (SELECT COUNT(*) FROM crew_members m WHERE m.crew_id = c.crew_id) AS member_count
         FROM crews c LEFT JOIN devices d ON d.device_id = c.owner_device_id
         WHERE (c.created_at, c.crew_id) > (?, ?) ORDER BY c.created_at, c.crew_id LIMIT ?`,
      ),
      insertCrew: db.prepare(
        'INSERT INTO crews (crew_id, crew_code, crew_name, owner_device_id, created_at, epoch, created_by_msg) VALUES (@crewId, @crewCode, @crewName, @ownerDeviceId, @now, lower(hex(randomblob(8))), @createdByMsg)',
      ),
      crew: db.prepare('SELECT * FROM crews WHERE crew_id = ?'),
      crewByCode: db.prepare('SELECT * FROM crews WHERE crew_code = ?'),
      membership: db.prepare(`${MEMBER_SELECT} WHERE m.device_id = ?`),
      members: db.prepare(`${MEMBER_SELECT} WHERE m.crew_id = ? ORDER BY m.join_order`),
      deleteMember: db.prepare('DELETE FROM crew_members WHERE crew_id = ? AND device_id = ?'),
      insertMember: db.prepare(
        `INSERT INTO crew_members (device_id, crew_id, join_order, joined_at, joined_seq, delivered_seq)
         SELECT @deviceId, @crewId, COALESCE((SELECT MAX(join_order) FROM crew_members WHERE crew_id = @crewId), 0) + 1, @now, c.latest_seq, c.latest_seq
         FROM crews c WHERE c.crew_id = @crewId`,
      ),
      firstMember: db.prepare('SELECT device_id FROM crew_members WHERE crew_id = ? ORDER BY join_order LIMIT 1').pluck(),
      setOwner: db.prepare('UPDATE crews SET owner_device_id = ? WHERE crew_id = ?'),
      rename: db.prepare('UPDATE crews SET crew_name = ? WHERE crew_id = ?'),
      shareHistory: db.prepare('UPDATE crews SET share_history = ? WHERE crew_id = ?'),
      changeCode: db.prepare('UPDATE crews SET crew_code = ? WHERE crew_id = ?'),
      clientMessage: db.prepare('SELECT crew_id, seq, at FROM client_messages WHERE device_id = ? AND client_msg_id = ?'),
      eventsAfter: db.prepare(`${EVENT_SELECT} WHERE e.crew_id = ? AND e.seq > ? AND e.seq <= ? ORDER BY e.seq LIMIT ?`),
      eventsByTime: db.prepare(`${EVENT_SELECT} WHERE e.crew_id = ? AND e.at >= ? AND e.at < ? ORDER BY e.seq LIMIT ?`),
      firstSeq: db.prepare('SELECT MIN(seq) FROM crew_events WHERE crew_id = ?').pluck(),
      pruneEvents: db.prepare('DELETE FROM crew_events WHERE at < ?'),
      pruneClientMessages: db.prepare('DELETE FROM client_messages WHERE at < ?'),
      counts: db.prepare('SELECT (SELECT COUNT(*) FROM crews) AS crews, (SELECT COUNT(*) FROM devices) AS devices'),
      countEvents: db.prepare('SELECT COUNT(*) FROM crew_events').pluck(),
    };
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | null> {
    const row = this.q.device.get(deviceId) as DeviceRow | undefined;
    return row ? toDevice(row) : null;
  }

  async saveDevice(device: { deviceId: string; displayName: string; secretHash?: string | null }): Promise<DeviceRecord> {
    this.q.insertDevice.run({ ...device, secretHash: device.secretHash ?? null, now: Date.now() });
    return toDevice(this.q.device.get(device.deviceId) as DeviceRow);
  }

  async resetDeviceSecret(deviceId: string): Promise<{ hadSecret: boolean } | null> {
    return writeTransaction(this.db, () => {
      const row = this.q.device.get(deviceId) as DeviceRow | undefined;
      if (!row) return null;
      this.q.resetSecret.run(Date.now(), deviceId);
      return { hadSecret: row.secret_hash !== null };
    });
  }

  async listCrews(options: { limit: number; after?: CrewCursor }): Promise<CrewSummary[]> {
    const after = options.after ?? { createdAt: -1, crewId: '' };
    return (this.q.listCrews.all(after.createdAt, after.crewId, options.limit) as CrewSummaryRow[]).map(toCrewSummary);
  }

  async createCrew(crew: { crewId: string; crewCode: string; crewName: string; ownerDeviceId: string; createdByMsg?: string }): Promise<CrewRecord> {
    const now = Date.now();
    try {
      writeTransaction(this.db, () => {
        this.q.insertCrew.run({ ...crew, createdByMsg: crew.createdByMsg ?? null, now });
        this.moveMember(crew.crewId, crew.ownerDeviceId, now);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ProtocolError('crew_code_taken', `The crew code ${crew.crewCode} is already in use.`);
      throw error;
    }
    return toCrew(this.q.crew.get(crew.crewId) as CrewRow);
  }

  async getCrew(crewId: string): Promise<CrewRecord | null> {
    const row = this.q.crew.get(crewId) as CrewRow | undefined;
    return row ? toCrew(row) : null;
  }

  async getCrewByCode(crewCode: string): Promise<CrewRecord | null> {
    const row = this.q.crewByCode.get(crewCode) as CrewRow | undefined;
    return row ? toCrew(row) : null;
  }

  async getMembership(deviceId: string): Promise<MemberRecord | null> {
    const row = this.q.membership.get(deviceId) as MemberRow | undefined;
    return row ? toMember(row) : null;
  }

  async listMembers(crewId: string): Promise<MemberRecord[]> {
    return (this.q.members.all(crewId) as MemberRow[]).map(toMember);
  }

  async addMember(crewId: string, deviceId: string): Promise<{ leftCrewId: string | null; alreadyMember: boolean }> {
    return writeTransaction(this.db, () => this.moveMember(crewId, deviceId, Date.now()));
  }

  // Runs inside a transaction: one crew per device, so joining leaves the old crew.
  private moveMember(crewId: string, deviceId: string, now: number): { leftCrewId: string | null; alreadyMember: boolean } {
    if (!this.q.crew.get(crewId)) throw new ProtocolError('not_found', 'That crew does not exist.');
    const current = this.q.membership.get(deviceId) as MemberRow | undefined;
    if (current?.crew_id === crewId) return { leftCrewId: null, alreadyMember: true };
    if (current) this.leave(current.crew_id, deviceId);
    this.q.insertMember.run({ crewId, deviceId, now });
    return { leftCrewId: current?.crew_id ?? null, alreadyMember: false };
  }

  private leave(crewId: string, deviceId: string): { removed: boolean; newOwnerDeviceId: string | null } {
    const removed = this.q.deleteMember.run(crewId, deviceId).changes > 0;
    const crew = this.q.crew.get(crewId) as CrewRow | undefined;
    if (!removed || !crew || crew.owner_device_id !== deviceId) return { removed, newOwnerDeviceId: null };
    // The crew keeps its history even when empty; ownership passes to the longest-standing member.
    const next = this.q.firstMember.get(crewId) as string | undefined;
    if (next) this.q.setOwner.run(next, crewId);
    return { removed, newOwnerDeviceId: next ?? null };
  }

  async removeMember(crewId: string, deviceId: string): Promise<{ removed: boolean; newOwnerDeviceId: string | null }> {
    return writeTransaction(this.db, () => this.leave(crewId, deviceId));
  }

  async transferOwnership(crewId: string, deviceId: string): Promise<boolean> {
    return writeTransaction(this.db, () => {
      const member = this.q.membership.get(deviceId) as MemberRow | undefined;
      return member?.crew_id === crewId && this.q.setOwner.run(deviceId, crewId).changes > 0;
    });
  }

  async renameCrew(crewId: string, crewName: string): Promise<void> {
    if (this.q.rename.run(crewName, crewId).changes === 0) throw new ProtocolError('not_found', 'That crew does not exist.');
  }

  async setShareHistory(crewId: string, share: boolean): Promise<void> {
    if (this.q.shareHistory.run(share ? 1 : 0, crewId).changes === 0) throw new ProtocolError('not_found', 'That crew does not exist.');
  }

  async changeCrewCode(crewId: string, crewCode: string): Promise<void> {
    try {
      if (this.q.changeCode.run(crewCode, crewId).changes === 0) throw new ProtocolError('not_found', 'That crew does not exist.');
    } catch (error) {
      if (isUniqueViolation(error)) throw new ProtocolError('crew_code_taken', `The crew code ${crewCode} is already in use.`);
      throw error;
    }
  }

  appendEvents(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    return this.writer.append(batch);
  }

  appendEach(batch: readonly AppendRequest[]): Promise<(AppendResult | Error)[]> {
    return this.writer.appendEach(batch);
  }

  async handledClientMessage(deviceId: string, clientMsgId: string): Promise<{ crewId: string; seq: number } | null> {
    const row = this.q.clientMessage.get(deviceId, clientMsgId) as { crew_id: string; seq: number } | undefined;
    return row ? { crewId: row.crew_id, seq: row.seq } : null;
  }

  async readEvents(crewId: string, afterSeq: number, options: { toSeq?: number; limit?: number } = {}): Promise<StoredEvent[]> {
    const rows = this.q.eventsAfter.all(crewId, afterSeq, options.toSeq ?? Number.MAX_SAFE_INTEGER, options.limit ?? -1) as EventRow[];
    return rows.map(toEvent);
  }

  async readEventsByTime(crewId: string, fromMs: number, toMs: number, options: { limit?: number } = {}): Promise<StoredEvent[]> {
    return (this.q.eventsByTime.all(crewId, fromMs, toMs, options.limit ?? -1) as EventRow[]).map(toEvent);
  }

  async firstSeq(crewId: string): Promise<number | null> {
    return (this.q.firstSeq.get(crewId) as number | null | undefined) ?? null;
  }

  markDelivered(marks: readonly DeliveredMark[]): Promise<void> {
    return this.writer.markDelivered(marks);
  }

  /** A one-row commit where the log is written (the store's readiness). */
  probeWriter(): Promise<void> {
    return this.writer.probe();
  }

  async pruneEventsBefore(cutoffMs: number): Promise<number> {
    return writeTransaction(this.db, () => {
      this.q.pruneClientMessages.run(cutoffMs);
      return this.q.pruneEvents.run(cutoffMs).changes;
    });
  }

  async counts(): Promise<{ crews: number; devices: number }> {
    return this.q.counts.get() as { crews: number; devices: number };
  }

  async countEvents(): Promise<number> {
    return this.q.countEvents.get() as number;
  }

  async position(crewId: string): Promise<LogPosition | null> {
    const crew = await this.getCrew(crewId);
    return crew && { latestSeq: crew.latestSeq, firstSeq: await this.firstSeq(crewId), epoch: crew.epoch };
  }
}
