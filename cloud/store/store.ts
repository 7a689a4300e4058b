import { ProtocolError, type CrewEvent } from '../../protocol/index.js';
import { isRedisUnavailable } from './redis/redis-errors.js';
import type { HistoryStore } from './areas/history.js';
import type { McpStore } from './areas/mcp.js';
import type { QueueStore } from './areas/queue.js';
import type { TokenStore } from './areas/tokens.js';
import type { TelegramStore } from './areas/telegram.js';

/** A crew event as the relay hands it to the store: no seq or crew code yet. */
export type CrewEventInput = WithoutFanOut<CrewEvent>;
// Distributes over the union so each event keeps its own fields.
type WithoutFanOut<E> = E extends unknown ? Omit<E, 'seq' | 'crew_code'> : never;

export interface DeviceRecord {
  readonly deviceId: string;
  readonly displayName: string;
  /** sha256 of the device secret (hex); null for first/second-generation gadgets that never had one. */
  readonly secretHash: string | null;
  /**
   * Set when the operator reset the credential (admin API) and no new secret has been
   * issued yet: the next current-protocol hello with this id gets one. Null otherwise.
   */
  readonly secretResetAt: number | null;
  readonly createdAt: number;
  /** The last time the device identified itself (hello, register, create/join, rename). */
  readonly lastSeenAt: number;
}

export interface CrewRecord {
  readonly crewId: string;
  readonly crewCode: string;
  readonly crewName: string;
  readonly ownerDeviceId: string;
  /** The seq of the newest event ever appended (pruning never lowers it). */
  readonly latestSeq: number;
  readonly createdAt: number;
  /** Names this copy of the crew's log; a restore from backup renews it (CrewState.epoch). */
  readonly epoch: string;
  /** The owner chose to show members who join later the crew's log from its start (off by default). */
  readonly shareHistory: boolean;
  /** The client message id of the owner's create_crew that made it (a retry answers this crew), or null. */
  readonly createdByMsg: string | null;
}

/** One row of the operator's crew listing. */
export interface CrewSummary extends CrewRecord {
  readonly ownerName: string;
  readonly memberCount: number;
}

/** Where a crew listing page starts: after this crew in (createdAt, crewId) order. */
export interface CrewCursor {
  readonly createdAt: number;
  readonly crewId: string;
}

export interface MemberRecord {
  readonly crewId: string;
  readonly deviceId: string;
  readonly displayName: string;
  readonly isOwner: boolean;
  readonly joinedAt: number;
  /**
   * The crew's latest seq when this membership began: without the owner's shareHistory the member
   * reads only later events (cloud/crew-visibility.ts). 0 for memberships from before it was
   * recorded (they were there). Re-joining a crew the device is already in does not change it.
   */
  readonly joinedSeq: number;
  /** The last seq sent to this member while it spoke an older dialect (no resume of its own). */
  readonly deliveredSeq: number;
}

export interface StoredEvent {
  readonly crewId: string;
  readonly seq: number;
  /** When the relay stored it (ms since epoch). */
  readonly at: number;
  /** The event with `seq` and the crew's current `crew_code` filled in. */
  readonly event: CrewEvent;
}

/** Who caused an appended event; its client_msg_id, when given, is recorded under the event's seq. */
export interface AppendFrom {
  readonly deviceId: string;
  readonly clientMsgId?: string;
  /**
   * Further commands this one event answers (queue changes coalesced into one queue_state):
   * each client_msg_id is recorded under the same seq, so a retry of any is answered with it.
   */
  readonly alsoAnswers?: readonly { readonly deviceId: string; readonly clientMsgId: string }[];
}

export interface AppendRequest {
  readonly crewId: string;
  readonly event: CrewEventInput;
  /** With a clientMsgId, a second append from the same device returns the first seq. */
  readonly from?: AppendFrom;
}

export interface AppendResult {
  readonly seq: number;
  readonly duplicate: boolean;
  readonly at: number;
  /** The crew's code when the event was appended (not read for a duplicate): fan-out stamps it. */
  readonly crewCode?: string;
}

export interface DeliveredMark {
  readonly crewId: string;
  readonly deviceId: string;
  readonly seq: number;
}

/**
 * The directory: devices and their credentials, crews, memberships (with each older gadget's
 * delivered seq). One of the store's ports; SQLite: sqlite-crews.ts, Redis: redis/redis-crews.ts.
 */
export interface CrewStore {
  getDevice(deviceId: string): Promise<DeviceRecord | null>;
  /**
   * Creates the device, or updates its display name and last-seen time. A secret hash is only
   * set when none is stored (setting one ends a reset), never replaced or cleared here.
   */
  saveDevice(device: { deviceId: string; displayName: string; secretHash?: string | null }): Promise<DeviceRecord>;
  /**
   * The one way a secret hash is cleared (the operator's reset-credential): clears it and
   * marks the device reset. Null when the device is unknown.
   */
  resetDeviceSecret(deviceId: string): Promise<{ hadSecret: boolean } | null>;

  /** Throws ProtocolError('crew_code_taken') when the code is in use. The owner becomes the first member. */
  createCrew(crew: { crewId: string; crewCode: string; crewName: string; ownerDeviceId: string; createdByMsg?: string }): Promise<CrewRecord>;
  /** The crew with its log's latest seq and epoch (the same as EventLog.position's). */
  getCrew(crewId: string): Promise<CrewRecord | null>;
  /** Crews in (createdAt, crewId) order, starting after `after`, with owner name and member count. */
  listCrews(options: { limit: number; after?: CrewCursor }): Promise<CrewSummary[]>;
  getCrewByCode(crewCode: string): Promise<CrewRecord | null>;
  /** The crew a device is a member of (a device is in at most one crew). */
  getMembership(deviceId: string): Promise<MemberRecord | null>;
  /** Members in join order. */
  listMembers(crewId: string): Promise<MemberRecord[]>;
  /**
   * Makes the device a member, leaving any other crew in the same transaction.
   * Returns the crew it left (null when none, or when it was already in this crew).
   */
  addMember(crewId: string, deviceId: string): Promise<{ leftCrewId: string | null; alreadyMember: boolean }>;
  /** Removes a membership. When the owner leaves, the longest-standing member becomes owner. */
  removeMember(crewId: string, deviceId: string): Promise<{ removed: boolean; newOwnerDeviceId: string | null }>;
  /** Hands ownership to a member of the crew; false (nothing changed) when it is not one. */
  transferOwnership(crewId: string, deviceId: string): Promise<boolean>;
  renameCrew(crewId: string, crewName: string): Promise<void>;
  /** The owner's "share history with newcomers" setting; not_found when the crew does not exist. */
  setShareHistory(crewId: string, share: boolean): Promise<void>;
  /** Throws ProtocolError('crew_code_taken') when the new code is in use. */
  changeCrewCode(crewId: string, crewCode: string): Promise<void>;
  /** Older gadgets' delivered seqs (memberships that are gone are skipped). */
  markDelivered(marks: readonly DeliveredMark[]): Promise<void>;
  /** Numbers for the landing page and metrics. */
  counts(): Promise<{ crews: number; devices: number }>;
}

/** Where a crew's log stands. */
export interface LogPosition {
  /** The seq of the newest event ever appended (0 before the first; pruning never lowers it). */
  readonly latestSeq: number;
  /** The oldest seq still stored, or null when the log is empty. */
  readonly firstSeq: number | null;
  /** Names this copy of the log: a restore from backup, or a Redis that lost events, renews it. */
  readonly epoch: string;
}

/**
 * Each crew's durable event log: per-crew seq, deduplicated by (device, client_msg_id).
 * One of the store's ports; SQLite: sqlite-crews.ts, Redis: redis/redis-crews.ts.
 */
export interface EventLog {
  /** Appends events in one transaction: per-crew seq, deduplicated by (device, client_msg_id). */
  appendEvents(batch: readonly AppendRequest[]): Promise<AppendResult[]>;
  /**
   * The batch as appendEvents does, or, when it fails, each request on its own: each request's
   * result or its error, in order. The relay's group commit uses it, so one bad request fails
   * only itself. The embedded store answers it in one step of its writer, so no batch handed
   * over after it gets lower seqs; on Redis the sequencer puts fan-out in seq order anyway.
   */
  appendEach(batch: readonly AppendRequest[]): Promise<(AppendResult | Error)[]>;
  /** The event a device's client_msg_id was stored as (appendEvents), null when it was not. */
  handledClientMessage(deviceId: string, clientMsgId: string): Promise<{ crewId: string; seq: number } | null>;
  /** Events with afterSeq < seq <= toSeq (toSeq defaults to the newest), in seq order. */
  readEvents(crewId: string, afterSeq: number, options?: { toSeq?: number; limit?: number }): Promise<StoredEvent[]>;
  /** Events stored with fromMs <= at < toMs, in seq order. */
  readEventsByTime(crewId: string, fromMs: number, toMs: number, options?: { limit?: number }): Promise<StoredEvent[]>;
  /** The oldest seq still stored, or null when the crew's log is empty. */
  firstSeq(crewId: string): Promise<number | null>;
  /** The log's latest seq, oldest stored seq and epoch; null when the crew does not exist. */
  position(crewId: string): Promise<LogPosition | null>;
  /** Deletes events stored before the cutoff (retention); returns how many. */
  pruneEventsBefore(cutoffMs: number): Promise<number>;
  /** How many events are stored over all crews. */
  countEvents(): Promise<number>;
}

export interface Store {
  readonly kind: 'sqlite' | 'redis';
  /** The directory: devices, credentials, crews and memberships. */
  readonly crews: CrewStore;
  /** Each crew's event log. */
  readonly log: EventLog;
  /** Members' plays, history imports and collector cursors (cloud/history). */
  readonly history: HistoryStore;
  /** The crew queues and their clocks (cloud/store/areas/queue.ts). */
  readonly queue: QueueStore;
  /** Spotify grants, sign-in sessions and crews' own apps, secrets encrypted (cloud/store/areas/tokens.ts). */
  readonly tokens: TokenStore;
  /** Which crew members are Telegram users of the bot (cloud/store/areas/telegram.ts). */
  readonly telegram: TelegramStore;
  /** Members' personal MCP tokens, hashed, and the mixtapes their assistants made (cloud/store/areas/mcp.ts). */
  readonly mcp: McpStore;
  // A feature area adds its interface in areas/<area>.ts, a member here, and its SQLite part in sqlite-store.ts.
  /** Throws when the store is unreachable (/ready). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const SQLITE_FILE_NAME = 'leeloo.db';

/**
 * A store that cannot write (a full disk, a read-only or failing file system) refuses with
 * `unavailable`, the code a client retries on, not `internal_error`. Null for other errors.
 */
export function storeUnavailable(error: unknown): ProtocolError | null {
  if (error instanceof ProtocolError) return error.code === 'unavailable' ? error : null;
  if (isRedisUnavailable(error)) return new ProtocolError('unavailable', 'The relay cannot reach its Redis store right now; try again shortly.');
  const code = (error as { code?: unknown } | null)?.code;
  // The other connection (the writer thread, a backup) held the write lock past busy_timeout.
  if (code === 'SQLITE_BUSY') return new ProtocolError('unavailable', "The relay's store is busy right now; try again shortly.");
  if (typeof code !== 'string' || !/^(SQLITE_(FULL|IOERR|READONLY|CANTOPEN)|ENOSPC|EROFS|EDQUOT)/.test(code)) return null;
  return new ProtocolError('unavailable', 'The relay cannot write to its store right now (its disk is full or read-only); try again shortly.');
}

/** appendEach from appendEvents: the batch, or one by one when it fails (each request's result or its error, in order). */
export async function appendOneByOneOnFailure(
  append: (batch: readonly AppendRequest[]) => Promise<AppendResult[]>,
  batch: readonly AppendRequest[],
): Promise<(AppendResult | Error)[]> {
  try {
    return await append(batch);
  } catch {
    return Promise.all(
      batch.map((request) =>
        append([request]).then(
          (results) => results[0]!,
          (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
        ),
      ),
    );
  }
}
