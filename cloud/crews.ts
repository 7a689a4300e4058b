import { ProtocolError, type CrewState, type InboundOf } from '../protocol/index.js';
import type { RelayConfig } from './config.js';
import { readCrewState } from './crew-state.js';
import { firstVisibleSeq, setShareHistory } from './crew-visibility.js';
import { newCrewCode, newCrewId } from './crew-codes.js';
import { isLegacyId } from './device-credentials.js';
import type { Delivery } from './delivery.js';
import type { Acknowledgement, PublishFrom } from './feature.js';
import type { Logger } from './log.js';
import type { Session, SessionRegistry } from './sessions.js';
import type { CrewRecord, Store } from './store/store.js';

export interface CoreDeps {
  readonly config: RelayConfig;
  readonly store: Store;
  readonly registry: SessionRegistry;
  readonly delivery: Delivery;
  readonly log: Logger;
  /** True once the relay is stopping: presence is no longer published. */
  readonly stopping: () => boolean;
}

const CODE_ATTEMPTS = 50;
const OFFLINE_RETRY_FIRST_MS = 500;
const OFFLINE_RETRY_MAX_MS = 60_000;

/** A crew as the operations on it need it. */
export interface CrewRef {
  readonly crewId: string;
  readonly crewCode: string;
}

export function requireCrew(session: Session): NonNullable<Session['crew']> {
  if (!session.crew) throw new ProtocolError('not_in_crew', 'This device is not a member of a crew; create or join one first.');
  return session.crew;
}

function requireOwner(session: Session): NonNullable<Session['crew']> {
  const crew = requireCrew(session);
  if (!crew.isOwner) throw new ProtocolError('not_owner', 'Only the crew owner may do this.');
  return crew;
}

/** Crew membership and presence: create, join, leave, rename, remove, rotate, online/offline. */
export class Crews {
  private readonly deps: CoreDeps;

  constructor(deps: CoreDeps) {
    this.deps = deps;
  }

  private get store() {
    return this.deps.store.crews;
  }

  state(crewId: string): Promise<CrewState> {
    return readCrewState(this.store, this.deps.registry, crewId);
  }

  /** Takes the session out of its crew's fan-out (it stays a member in the store). */
  detach(session: Session): void {
    if (session.crew) this.deps.registry.detach(session, session.crew.crewId);
    session.crew = null;
  }

  /**
   * The session's device is now online in `crew`: it gets what it has not seen since
   * `fromSeq`, then the crew hears `member_joined`. Called after the answer was sent.
   */
  async goOnline(session: Session, crew: CrewRecord, fromSeq: number, announce = true, awaitResume = false): Promise<void> {
    session.crew = { crewId: crew.crewId, crewCode: crew.crewCode, isOwner: crew.ownerDeviceId === session.deviceId };
    await this.deps.delivery.attach(session, fromSeq, awaitResume);
    if (!announce) return;
    await this.deps.delivery.publish(
      crew.crewId,
      { type: 'member_joined', device_id: session.deviceId!, display_name: session.displayName },
      { deviceId: session.deviceId! },
    );
  }

  /**
   * Where an older-dialect member resumes from (what it was last sent, never before what it may
   * see); current-protocol devices use `resume` instead.
   */
  async fromSeqFor(session: Session, latestSeq: number): Promise<number> {
    if (session.generation === 3) return latestSeq;
    await this.deps.delivery.saveDeliveryMarks();
    const member = await this.store.getMembership(session.deviceId!);
    const crew = member ? await this.store.getCrew(member.crewId) : null;
    if (!member || !crew) return latestSeq;
    return Math.max(member.deliveredSeq, firstVisibleSeq(member, crew) - 1);
  }

  isAttachedTo(session: Session, crewId: string): boolean {
    return session.crew?.crewId === crewId;
  }

  /** The socket closed: the crew hears `member_offline` unless a newer socket took over. */
  async goOffline(session: Session): Promise<void> {
    const crew = session.crew;
    const current = this.deps.registry.isCurrent(session);
    this.deps.registry.remove(session);
    if (!current) return;
    const offline = await this.deps.registry.wentOffline(session.deviceId!);
    if (!crew || !offline || this.deps.stopping()) return;
    await this.publishOffline(crew.crewId, session.deviceId!, session.displayName, 0);
  }

  /** Devices of a relay process that died without a goodbye: each one's crew hears member_offline. */
  async announceOrphaned(deviceIds: readonly string[]): Promise<void> {
    for (const deviceId of deviceIds) {
      if (this.deps.registry.isOnline(deviceId)) continue;
      try {
        const member = await this.store.getMembership(deviceId);
        if (member) await this.publishOffline(member.crewId, deviceId, member.displayName, 0);
      } catch (error) {
        this.deps.log.error({ err: error, deviceId }, 'announcing a device of a stopped relay process offline failed');
      }
    }
  }

  /**
   * A member_offline the store refused (`unavailable`: a full or failing disk) is tried again,
   * each wait twice the last up to a minute, until it is stored, the device is back online
   * (the crew then knows it is there) or the relay stops.
   */
  private async publishOffline(crewId: string, deviceId: string, displayName: string, attempt: number): Promise<void> {
    try {
      await this.deps.delivery.publish(crewId, { type: 'member_offline', device_id: deviceId, display_name: displayName }, { deviceId });
    } catch (error) {
      if (!(error instanceof ProtocolError) || error.code !== 'unavailable') throw error;
      const retryInMs = Math.min(OFFLINE_RETRY_MAX_MS, OFFLINE_RETRY_FIRST_MS * 2 ** attempt);
      this.deps.log.warn({ crewId, deviceId, retryInMs }, 'member_offline was not stored (the store refused it); trying again');
      const timer = setTimeout(() => {
        if (this.deps.stopping() || this.deps.registry.isOnline(deviceId)) return;
        this.publishOffline(crewId, deviceId, displayName, attempt + 1).catch((e: unknown) =>
          this.deps.log.error({ err: e, crewId }, 'presence update failed'),
        );
      }, retryInMs);
      timer.unref();
    }
  }

  /** Creates a crew under a fresh code; `createdByMsg`: the create_crew's client message id, so a retry finds it. */
  async createCrew(ownerDeviceId: string, crewName: string, createdByMsg?: string): Promise<CrewRecord> {
    for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt += 1) {
      const created = await this.tryCreate(ownerDeviceId, crewName, newCrewCode(), createdByMsg);
      if (created) return created;
    }
    throw new ProtocolError('conflict', 'The relay could not find a free crew code; try again.');
  }

  /** Creates a crew under the code a gadget named; null when that code is taken. */
  createCrewUnder(ownerDeviceId: string, crewName: string, crewCode: string): Promise<CrewRecord | null> {
    return this.tryCreate(ownerDeviceId, crewName, crewCode);
  }

  private async tryCreate(ownerDeviceId: string, crewName: string, crewCode: string, createdByMsg?: string): Promise<CrewRecord | null> {
    try {
      return await this.store.createCrew({ crewId: newCrewId(), crewCode, crewName, ownerDeviceId, ...(createdByMsg ? { createdByMsg } : {}) });
    } catch (error) {
      if (error instanceof ProtocolError && error.code === 'crew_code_taken') return null;
      throw error;
    }
  }

  /** Tells the crew a device left it (for joins that move a device between crews). */
  async announceLeft(crewId: string, session: Session, removed = false): Promise<number> {
    const { seq } = await this.deps.delivery.publish(
      crewId,
      { type: 'member_left', device_id: session.deviceId!, display_name: session.displayName, removed },
      { deviceId: session.deviceId! },
    );
    return seq;
  }

  async leave(session: Session, message: InboundOf<'leave_crew'>): Promise<Acknowledgement> {
    const crew = requireCrew(session);
    const { newOwnerDeviceId } = await this.store.removeMember(crew.crewId, session.deviceId!);
    this.detach(session);
    session.send({ type: 'crew_left', crew_code: crew.crewCode, removed: false });
    const { seq, duplicate } = await this.deps.delivery.publish(
      crew.crewId,
      { type: 'member_left', device_id: session.deviceId!, display_name: session.displayName, removed: false },
      { deviceId: session.deviceId!, clientMsgId: message.client_msg_id },
    );
    this.promoteOwner(crew.crewId, newOwnerDeviceId);
    return { seq, duplicate };
  }

  private promoteOwner(crewId: string, deviceId: string | null): void {
    if (!deviceId) return;
    for (const s of this.deps.registry.crewSessions(crewId)) {
      if (s.deviceId === deviceId && s.crew) s.crew = { ...s.crew, isOwner: true };
    }
  }

  async rename(session: Session, message: InboundOf<'rename_crew'>): Promise<Acknowledgement> {
    const crew = requireOwner(session);
    await this.store.renameCrew(crew.crewId, message.crew_name);
    const { seq, duplicate } = await this.deps.delivery.publish(
      crew.crewId,
      { type: 'crew_renamed', crew_name: message.crew_name },
      { deviceId: session.deviceId!, clientMsgId: message.client_msg_id },
    );
    return { seq, duplicate };
  }

  /** The owner's crew settings (today: share history with newcomers). */
  async setSettings(session: Session, message: InboundOf<'set_crew_settings'>): Promise<Acknowledgement> {
    const crew = requireCrew(session);
    return setShareHistory(
      { crews: this.store, log: this.deps.store.log, publish: (crewId, event, from) => this.deps.delivery.publish(crewId, event, from) },
      crew,
      message.share_history,
      { deviceId: session.deviceId!, clientMsgId: message.client_msg_id },
    );
  }

  async removeMember(session: Session, message: InboundOf<'remove_member'>): Promise<Acknowledgement> {
    const crew = requireOwner(session);
    if (message.device_id === session.deviceId) {
      throw new ProtocolError('conflict', 'The owner cannot remove themselves; use leave_crew instead.');
    }
    const { seq, duplicate } = await this.removeFromCrew(crew, message.device_id, { deviceId: session.deviceId!, clientMsgId: message.client_msg_id });
    return { seq, duplicate };
  }

  /**
   * Takes a member out of the crew: its socket (if here) gets `crew_left {removed: true}`, the
   * crew `member_left {removed: true}`. `by` is the owner's socket (not echoed to it, deduplicated
   * by its client_msg_id); without it (the admin API) every member hears it. Ownership passes on
   * when the owner is removed (the admin API may do that).
   */
  async removeFromCrew(crew: CrewRef, deviceId: string, by?: PublishFrom): Promise<{ seq: number; duplicate: boolean; newOwnerDeviceId: string | null }> {
    const target = (await this.store.listMembers(crew.crewId)).find((m) => m.deviceId === deviceId);
    if (!target) throw new ProtocolError('not_found', `Device ${deviceId} is not a member of this crew.`);
    const { newOwnerDeviceId } = await this.store.removeMember(crew.crewId, target.deviceId);
    const targetSession = this.deps.registry.deviceSession(target.deviceId);
    if (targetSession?.crew?.crewId === crew.crewId) {
      this.detach(targetSession);
      targetSession.send({ type: 'crew_left', crew_code: crew.crewCode, removed: true });
    }
    const { seq, duplicate } = await this.deps.delivery.publish(
      crew.crewId,
      { type: 'member_left', device_id: target.deviceId, display_name: target.displayName, removed: true },
      by,
    );
    this.promoteOwner(crew.crewId, newOwnerDeviceId);
    return { seq, duplicate, newOwnerDeviceId };
  }

  async rotateCode(session: Session, message: InboundOf<'rotate_code'>): Promise<Acknowledgement> {
    const crew = requireOwner(session);
    const { newCode, seq, duplicate } = await this.rotate(crew, { deviceId: session.deviceId!, clientMsgId: message.client_msg_id });
    if (session.crew) session.crew = { ...session.crew, crewCode: newCode };
    // The owner learns the new code from the ack's event too: it is not fanned out to the sender.
    session.send({ type: 'crew_code_changed', old_crew_code: crew.crewCode, new_crew_code: newCode, seq, crew_code: newCode });
    return { seq, duplicate };
  }

  /**
   * Gives the crew a fresh code and tells it (`crew_code_changed`); the old code stops working
   * at once. `by` as for removeFromCrew: without it (the admin API) the owner hears it too.
   */
  async rotate(crew: CrewRef, by?: PublishFrom): Promise<{ newCode: string; seq: number; duplicate: boolean }> {
    await this.refuseRotationWithLegacyMembers(crew);
    const newCode = await this.freshCode(crew.crewId);
    for (const s of this.deps.registry.crewSessions(crew.crewId)) if (s.crew) s.crew = { ...s.crew, crewCode: newCode };
    const { seq, duplicate } = await this.deps.delivery.publish(
      crew.crewId,
      { type: 'crew_code_changed', old_crew_code: crew.crewCode, new_crew_code: newCode },
      by,
    );
    return { newCode, seq, duplicate };
  }

  /**
   * First- and second-generation gadgets know their crew only by its code and can never learn
   * a new one: while such a gadget is a member, the code stays (the owner removes it first).
   */
  private async refuseRotationWithLegacyMembers(crew: CrewRef): Promise<void> {
    const legacy: string[] = [];
    for (const member of await this.store.listMembers(crew.crewId)) {
      const device = await this.store.getDevice(member.deviceId);
      if (device && isLegacyId(device)) legacy.push(member.displayName);
    }
    if (legacy.length === 0) return;
    throw new ProtocolError(
      'conflict',
      `The crew code cannot change while older gadgets are members (${legacy.join(', ')}): they cannot learn a new code. Remove them first, or keep the code.`,
    );
  }

  private async freshCode(crewId: string): Promise<string> {
    for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt += 1) {
      const code = newCrewCode();
      try {
        await this.store.changeCrewCode(crewId, code);
        return code;
      } catch (error) {
        if (!(error instanceof ProtocolError && error.code === 'crew_code_taken')) throw error;
      }
    }
    throw new ProtocolError('conflict', 'The relay could not find a free crew code; try again.');
  }

  async setDisplayName(session: Session, message: InboundOf<'set_display_name'>): Promise<Acknowledgement> {
    await this.store.saveDevice({ deviceId: session.deviceId!, displayName: message.display_name });
    session.displayName = message.display_name;
    if (!session.crew) return {};
    const { seq, duplicate } = await this.deps.delivery.publish(
      session.crew.crewId,
      { type: 'member_renamed', device_id: session.deviceId!, display_name: message.display_name },
      { deviceId: session.deviceId!, clientMsgId: message.client_msg_id },
    );
    return { seq, duplicate };
  }
}
