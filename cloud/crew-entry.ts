import { ProtocolError, type InboundOf } from '../protocol/index.js';
import { newDeviceId } from './device-credentials.js';
import type { BudgetVerdict, EntryBudgetKind, EntryBudgets } from './address-budget.js';
import type { CoreDeps, Crews } from './crews.js';
import type { Acknowledgement } from './feature.js';
import type { Identity } from './identity.js';
import type { Session } from './sessions.js';
import type { CrewRecord } from './store/store.js';

/**
 * The three ways a device enters a crew: `register` (first generation: the crew is the code,
 * created on first use; no code, no crew), `create_crew` and `join_crew`. Second-generation
 * gadgets read the very next frame as the answer, so the answer goes out before any fan-out
 * or backlog: each handler sends it and returns the rest as its Acknowledgement's afterAck,
 * which the router runs right after the ack.
 */
export class CrewEntry {
  private readonly deps: CoreDeps;
  private readonly crews: Crews;
  private readonly identity: Identity;
  private readonly afterAnswer: (session: Session) => Promise<void>;

  private readonly budgets: EntryBudgets;

  /** `afterAnswer` runs right after the answer frame (features' afterCrewEntry); `budgets` bound failed joins and new crews per address. */
  constructor(deps: CoreDeps, crews: Crews, identity: Identity, afterAnswer: (session: Session) => Promise<void>, budgets: EntryBudgets) {
    this.deps = deps;
    this.budgets = budgets;
    this.crews = crews;
    this.identity = identity;
    this.afterAnswer = afterAnswer;
  }

  async register(session: Session, message: InboundOf<'register'>): Promise<Acknowledgement | void> {
    const generation = (message.protocol_version ?? 1) >= 3 ? 3 : 1;
    let issued: string | null = null;
    if (session.gen === null) {
      const deviceId = generation === 3 ? await this.identity.currentProtocolId(message.device_id, false) : (message.device_id ?? newDeviceId());
      const result = await this.identity.authenticate(session, deviceId, message.device_name, message.device_secret, generation, message.crew_code);
      if (result === false) return;
      issued = result;
    } else if (message.device_id !== undefined && session.deviceId !== message.device_id) {
      throw new ProtocolError('unauthorized', 'A connection speaks for one device; this one is already identified as another device id.');
    }
    const answer = () => session.send({ type: 'registered', device_id: session.deviceId!, ...(issued ? { device_secret: issued } : {}) });
    if (message.crew_code === undefined) {
      // The Spotify sign-in scripts register this way, only to receive their tokens.
      this.crews.detach(session);
      answer();
      return { afterAck: () => this.answered(session) };
    }
    const before = await this.deps.store.crews.getMembership(session.deviceId!);
    const crew = await this.crewUnder(session, message.crew_code, session.deviceId!, `${message.device_name}'s crew`);
    const previous = this.crews.isAttachedTo(session, crew.crewId);
    this.crews.detach(session);
    await this.deps.delivery.settled();
    const { alreadyMember } = await this.deps.store.crews.addMember(crew.crewId, session.deviceId!);
    // Creating the crew may already have moved the device, so the crew it left comes from `before`.
    const leftCrewId = before && before.crewId !== crew.crewId ? before.crewId : null;
    const fromSeq = await this.crews.fromSeqFor(session, (await this.deps.store.crews.getCrew(crew.crewId))?.latestSeq ?? 0);
    answer();
    return this.entered(session, crew.crewId, leftCrewId, !(alreadyMember && previous), fromSeq, alreadyMember);
  }

  /**
   * Without a code: a new crew under a fresh code, owned by the device. Naming a free code
   * creates the crew under it; naming one that exists puts the device into that crew (no
   * ownership) and answers with that same code, as the fleet's relay did.
   */
  async createCrew(session: Session, message: InboundOf<'create_crew'>): Promise<Acknowledgement | void> {
    if (!(await this.identity.identifyForCrew(session, message.device_id, message.display_name, message.crew_code))) return;
    const before = await this.deps.store.crews.getMembership(session.deviceId!);
    const crewName = message.crew_name ?? `${message.display_name}'s crew`;
    // A retry of the create_crew that made the device's crew (same client_msg_id, answer lost) answers that crew, not a second one.
    const retried = await this.retriedCreation(before?.crewId, session.deviceId!, message.client_msg_id);
    const crew =
      retried ??
      (message.crew_code
        ? await this.crewUnder(session, message.crew_code, session.deviceId!, crewName)
        : await this.newCrew(session, crewName, message.client_msg_id));
    const previous = this.crews.isAttachedTo(session, crew.crewId);
    this.crews.detach(session);
    await this.deps.delivery.settled();
    const { alreadyMember } = await this.deps.store.crews.addMember(crew.crewId, session.deviceId!);
    const state = await this.crews.state(crew.crewId);
    const fromSeq = await this.crews.fromSeqFor(session, state.latest_seq);
    session.send({
      type: 'crew_created',
      device_id: session.deviceId!,
      crew_code: crew.crewCode,
      crew_id: crew.crewId,
      ...(session.generation === 3 ? { crew: state } : {}),
    });
    const leftCrewId = before && before.crewId !== crew.crewId ? before.crewId : null;
    // A retry, or a create_crew naming the code of the crew the device is already in (a join that changed nothing).
    const duplicate = retried !== null || (message.crew_code !== undefined && alreadyMember);
    return this.entered(session, crew.crewId, leftCrewId, !(alreadyMember && previous), fromSeq, duplicate);
  }

  /** The crew this device owns that its create_crew with this client message id made, or null. */
  private async retriedCreation(crewId: string | undefined, deviceId: string, clientMsgId: string | undefined): Promise<CrewRecord | null> {
    if (!crewId || !clientMsgId) return null;
    const crew = await this.deps.store.crews.getCrew(crewId);
    return crew && crew.ownerDeviceId === deviceId && crew.createdByMsg === clientMsgId ? crew : null;
  }

  async joinCrew(session: Session, message: InboundOf<'join_crew'>): Promise<Acknowledgement | void> {
    // A spent budget refuses before the lookup, so refusals say nothing about which codes exist.
    this.admit(session, 'join_failures');
    const crew = await this.deps.store.crews.getCrewByCode(message.crew_code);
    if (!crew) {
      this.spend(session, 'join_failures');
      // A second-generation gadget reads this as the answer, before it has identified.
      session.fail('invalid_crew_code', `No crew has the code ${message.crew_code}.`, message.client_msg_id, { ref_type: 'join_crew' });
      return;
    }
    if (!(await this.identity.identifyForCrew(session, message.device_id, message.display_name, message.crew_code))) return;
    const previous = this.crews.isAttachedTo(session, crew.crewId);
    this.crews.detach(session);
    await this.deps.delivery.settled();
    const { leftCrewId, alreadyMember } = await this.deps.store.crews.addMember(crew.crewId, session.deviceId!);
    const state = await this.crews.state(crew.crewId);
    const fromSeq = await this.crews.fromSeqFor(session, state.latest_seq);
    const online = state.members.filter((m) => m.online);
    session.send({
      type: 'crew_joined',
      device_id: session.deviceId!,
      crew_code: crew.crewCode,
      crew_id: crew.crewId,
      crew_members: online.length,
      member_names: online.filter((m) => m.device_id !== session.deviceId).map((m) => m.display_name),
      ...(session.generation === 3 ? { crew: state } : {}),
    });
    // Joining the crew the device is in changes nothing: a retry is acked as a duplicate.
    return this.entered(session, crew.crewId, leftCrewId, !(alreadyMember && previous), fromSeq, alreadyMember);
  }

  /** Throws `rate_limited` when the address has spent this budget. */
  private admit(session: Session, kind: EntryBudgetKind): void {
    refuseUnless(this.budgets.check(kind, session.remoteAddress));
  }

  /** Charges the address's budget; throws `rate_limited` when it is spent. */
  private spend(session: Session, kind: EntryBudgetKind): void {
    refuseUnless(this.budgets.take(kind, session.remoteAddress));
  }

  private async newCrew(session: Session, crewName: string, createdByMsg?: string): Promise<CrewRecord> {
    this.spend(session, 'new_crews');
    return this.crews.createCrew(session.deviceId!, crewName, createdByMsg);
  }

  /** The crew that has `code`, created (owned by `deviceId`) when none has it yet. */
  private async crewUnder(session: Session, code: string, deviceId: string, crewName: string): Promise<CrewRecord> {
    // Either answer (joined, created) tells whether the code was free: both budgets must allow it.
    this.admit(session, 'join_failures');
    this.admit(session, 'new_crews');
    const existing = await this.deps.store.crews.getCrewByCode(code);
    if (existing) return existing;
    this.spend(session, 'new_crews');
    const created = await this.crews.createCrewUnder(deviceId, crewName, code);
    // Two gadgets of one crew booting together: the second finds the first one's crew.
    return created ?? (await this.deps.store.crews.getCrewByCode(code)) ?? this.crews.createCrew(deviceId, crewName);
  }

  /**
   * The answer was sent: after its ack, the features' held frames, then the crews hear of the
   * move and the backlog follows. `duplicate`: the entry changed nothing (a retry), as its ack says.
   */
  private entered(session: Session, crewId: string, leftCrewId: string | null, announce: boolean, fromSeq: number, duplicate = false): Acknowledgement {
    return {
      duplicate,
      afterAck: async () => {
        await this.answered(session);
        await this.enter(session, crewId, leftCrewId, announce, fromSeq);
      },
    };
  }

  /** Right after the answer frame (and its ack), before backlog and fan-out: frames held for the device follow it. */
  private async answered(session: Session): Promise<void> {
    try {
      await this.afterAnswer(session);
    } catch (error) {
      this.deps.log.error({ err: error, deviceId: session.deviceId }, 'after-entry step failed');
    }
  }

  /** After the answer: the old crew hears the device left, the new one that it is online. */
  private async enter(session: Session, crewId: string, leftCrewId: string | null, announce: boolean, fromSeq: number): Promise<void> {
    if (leftCrewId) await this.crews.announceLeft(leftCrewId, session);
    const crew = await this.deps.store.crews.getCrew(crewId);
    if (!crew) throw new ProtocolError('not_found', 'That crew no longer exists.');
    await this.crews.goOnline(session, crew, fromSeq, announce);
  }
}

function refuseUnless(verdict: BudgetVerdict): void {
  if (verdict.ok) return;
  const minutes = Math.ceil(verdict.retryAfterMs / 60_000);
  throw new ProtocolError(
    'rate_limited',
    `Too many failed joins or new crews from this address; try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
    verdict.retryAfterMs,
  );
}
