import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { ProtocolError, renderEvent, type CrewEvent, type CrewState, type Generation } from '../protocol/index.js';
import type { BusEvent, RelayBus } from './bus.js';
import { CrewSequencer } from './crew-sequencer.js';
import { readCrewState } from './crew-state.js';
import { firstVisibleSeq } from './crew-visibility.js';
import type { CrewEventListener, PublishFrom } from './feature.js';
import type { Logger } from './log.js';
import { recoveryFor } from './recovery.js';
import type { RelayMetrics } from './metrics.js';
import type { Session, SessionRegistry } from './sessions.js';
import type { AppendRequest, AppendResult, CrewEventInput, DeliveredMark, Store } from './store/store.js';

interface Pending {
  readonly request: AppendRequest;
  readonly startedAt: bigint;
  resolve(result: { seq: number; duplicate: boolean }): void;
  reject(error: unknown): void;
}

const REPLAY_PAGE = 500;
/** One batch commits while the next is handed over to wait its turn, so the store and this loop work at once. */
const MAX_BATCHES_IN_FLIGHT = 2;
/** An older gadget (no `resync` in its dialect) past the held-events cap is closed with this; it reconnects from its delivered seq. */
export const CLOSE_TOO_FAR_BEHIND = 1013;
/**
 * Older gadgets' delivery marks are written at most this often, in one transaction, not in
 * every group commit: a mark lost to a crash only means a frame is sent again.
 */
const MARKS_EVERY_MS = 250;

/** A burst of sends (see Delivery.inBurst): the sockets it corked, those of its senders, and each older gadget's highest seq to prove. */
interface Burst {
  readonly sockets: Set<Socket>;
  readonly senders: Set<Socket>;
  readonly proofs: Map<Session, { readonly crewId: string; readonly seq: number }>;
}

/**
 * The senders' sockets go last: a sender's ack reaches the kernel after what its message sent
 * to the others, so a device that has its ack knows the crew's sockets have the message.
 */
function uncorkBurst(burst: Burst): void {
  for (const socket of burst.sockets) if (!burst.senders.has(socket)) socket.uncork();
  for (const socket of burst.senders) socket.uncork();
}

/** One event encoded per dialect, shared by every recipient of that dialect (null: not shown). */
type Encoded = Map<Generation, { readonly data: Buffer; readonly type: string } | null>;

/** The TCP socket under a ws socket (ws keeps it as `_socket`), to cork it for a burst. */
function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket;
}

/** Events a device caused itself are not echoed back to it by live fan-out. */
function isOwnEvent(event: CrewEvent, deviceId: string | null): boolean {
  if (event.type === 'message') return event.from_device === deviceId;
  return 'device_id' in event && event.device_id === deviceId;
}

/**
 * Where a socket's live events stand: `live` (sent as they are committed), `replaying` (held
 * so none overtakes a replay), or `awaiting_resume` (after `welcome` with a crew, held until the
 * device's next frame: a device that resumes sends `resume` first, and an event sent before it
 * would move the device's last seq past the ones the replay is about to bring).
 */
type Phase = 'live' | 'replaying' | 'awaiting_resume';

/**
 * One socket's delivery: its phase, what it was sent and what waits for it. Only Delivery sees it
 * (kept by session in a WeakMap below), so no other part can move a socket out of order.
 *
 * Recoveries (a `resume`, a resync for being too far behind) are numbered as they start, and the
 * latest one alone answers: one that a later one overtook stops without sending anything more
 * (a resume overtakes a resync under way, since it replays from the device's own seq; a resync
 * overtakes a resume or replay that cannot keep up). The socket goes live only once no replay,
 * resume or resync is left.
 */
class DeliveryState {
  private current: Phase = 'live';
  /** Highest crew seq sent on this socket: guards against sending an event twice. */
  private sentSeq = 0;
  /** Live events waiting while the phase is not live, in order. */
  private readonly held: CrewEvent[] = [];
  /** Replays and resumes in progress: live events wait until the last one ends. */
  private replays = 0;
  /** The number of the resync (too many held) under way: live events wait; null when none is. */
  private resyncing: number | null = null;
  /** Resumes and resyncs started on this socket: the number of the latest. */
  private recoveryCount = 0;

  get phase(): Phase {
    return this.current;
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** The number of the latest resume or resync (a replay started now is overtaken by any later one). */
  get recoveries(): number {
    return this.recoveryCount;
  }

  /** Whether no resume or resync started after `recovery`. */
  isLatest(recovery: number): boolean {
    return this.recoveryCount === recovery;
  }

  /** Joining a crew: sent from `fromSeq`, live events held for the replay (and the resume window). */
  startAttach(fromSeq: number, awaitResume: boolean): void {
    this.sentSeq = fromSeq;
    this.current = awaitResume ? 'awaiting_resume' : 'replaying';
  }

  /**
   * A `resume` came: the resume window is over, live events are held until it ends (endReplay),
   * and it overtakes a resync under way. Returns its number.
   */
  startResume(): number {
    this.current = 'replaying';
    this.replays += 1;
    this.resyncing = null;
    this.recoveryCount += 1;
    return this.recoveryCount;
  }

  /** A replay starts: live events are held until it ends (a socket still in its resume window stays in it). */
  startReplay(): void {
    this.replays += 1;
    if (this.current === 'live') this.current = 'replaying';
  }

  /** A replay or resume ended (answered, overtaken or failed). */
  endReplay(): void {
    this.replays -= 1;
  }

  /** The device's first frame after `welcome` was not `resume`; false when there was no window open. */
  endResumeWindow(): boolean {
    if (this.current !== 'awaiting_resume') return false;
    this.current = 'replaying';
    return true;
  }

  /** Holds a live event; returns how many now wait. */
  hold(event: CrewEvent): number {
    return this.held.push(event);
  }

  /** Too many held while no resync is under way: drops what was held; returns the resync's number, null when one is under way. */
  startResync(): number | null {
    if (this.resyncing !== null) return null;
    this.held.length = 0;
    this.recoveryCount += 1;
    this.resyncing = this.recoveryCount;
    return this.resyncing;
  }

  /** The resync was sent (or the socket closed): the resume window is over too. Nothing when a resume overtook it. */
  endResync(resync: number): void {
    if (this.resyncing !== resync) return;
    this.resyncing = null;
    if (this.current === 'awaiting_resume') this.current = 'replaying';
  }

  /** The socket goes live unless a resume window, a replay or a resync still holds it; returns the events that waited. */
  release(): CrewEvent[] {
    if (this.current === 'awaiting_resume' || this.resyncing !== null || this.replays > 0) return [];
    this.current = 'live';
    return this.held.splice(0);
  }

  /** Whether `seq` is new to this socket; if so it counts as sent. */
  claim(seq: number): boolean {
    if (seq <= this.sentSeq) return false;
    this.sentSeq = seq;
    return true;
  }

  /** The device took a state at `seq` (resync): nothing up to it is sent again. */
  skipTo(seq: number): void {
    this.sentSeq = Math.max(this.sentSeq, seq);
  }

  /** A resume replays from `seq`: what came after it is sent (again), whatever was sent before. */
  rewindTo(seq: number): void {
    this.sentSeq = seq;
  }
}

/**
 * Group commit → ack → fan-out. Appends made in the same tick are written in one
 * transaction, so a burst of shares costs one fsync; each publish resolves after its
 * event is durable and has been sent to the crew's sockets on this process. A socket that is
 * not live (replaying, or in its resume window) gets live events after its replay, in order,
 * each seq at most once; past MAX_HELD_EVENTS waiting it is told to resync instead.
 */
export class Delivery {
  private pending: Pending[] = [];
  private delivered = new Map<string, DeliveredMark>();
  private scheduled = false;
  private marksTimer: NodeJS.Timeout | null = null;
  /** The settling of the batches handed to the store, in order (and delivery-mark writes). */
  private flushing: Promise<void> = Promise.resolve();
  /** Batches handed to the store and not yet settled. */
  private inFlight = 0;
  /** Publishes made and settled so far (they settle in the order they were made): what settled() waits on. */
  private publishedCount = 0;
  private settledCount = 0;
  private readonly settleWaiters: { readonly upTo: number; readonly resolve: () => void }[] = [];
  /** Told of each event this process committed (once-per-event work: the queue). */
  private readonly listeners = new Set<CrewEventListener>();
  /** Told of every event of the crews, committed here or by another relay process, in seq order (live streams). */
  private readonly liveListeners = new Set<CrewEventListener>();
  /** With other relay processes: puts their events and this process's own in seq order per crew. */
  private readonly sequencer: CrewSequencer | null;
  private readonly store: Store;
  private readonly registry: SessionRegistry;
  private readonly metrics: RelayMetrics;
  private readonly log: Logger;
  private readonly maxHeld: number;
  /** While a batch is settled (or held events released): its sockets and delivery proofs, sent together at its end. */
  private burst: Burst | null = null;
  /** Each session's delivery state, written here only. */
  private readonly states = new WeakMap<Session, DeliveryState>();

  constructor(deps: { store: Store; registry: SessionRegistry; metrics: RelayMetrics; log: Logger; maxHeldEvents: number; bus: RelayBus }) {
    this.maxHeld = deps.maxHeldEvents;
    this.store = deps.store;
    this.registry = deps.registry;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.sequencer = deps.bus.shared
      ? new CrewSequencer({
          log: deps.store.log,
          deliver: (crewId, event, sender) => this.deliverLive(crewId, event, sender),
          hasSessions: (crewId) => deps.registry.crewSessions(crewId).size > 0,
          logger: deps.log,
        })
      : null;
  }

  /** An event another relay process committed (the bus). */
  receive(message: BusEvent): void {
    this.sequencer?.offer(message.crewId, message.event, message.senderDeviceId);
  }

  /** The bus was away: what the other processes committed meanwhile is read from the log. */
  catchUp(): void {
    this.sequencer?.catchUp();
  }

  close(): void {
    this.sequencer?.close();
  }

  publish(crewId: string, event: CrewEventInput, from?: PublishFrom): Promise<{ seq: number; duplicate: boolean }> {
    return new Promise((resolve, reject) => {
      this.pending.push({ request: { crewId, event, from }, startedAt: process.hrtime.bigint(), resolve, reject });
      this.publishedCount += 1;
      this.schedule();
    });
  }

  /** Live events held for every open session together (the held-events gauge). */
  heldEvents(): number {
    let held = 0;
    for (const session of this.registry.all) held += this.states.get(session)?.heldCount ?? 0;
    return held;
  }

  private stateOf(session: Session): DeliveryState {
    let state = this.states.get(session);
    if (!state) this.states.set(session, (state = new DeliveryState()));
    return state;
  }

  onCrewEvent(listener: CrewEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onLiveCrewEvent(listener: CrewEventListener): () => void {
    this.liveListeners.add(listener);
    return () => this.liveListeners.delete(listener);
  }

  /**
   * Resolves once everything published before the call is committed and sent. A device
   * entering a crew waits for it, so the seq it joins from counts every event published
   * before it entered (the writer thread may still hold some: none reaches it afterwards).
   */
  settled(): Promise<void> {
    if (this.settledCount >= this.publishedCount) return Promise.resolve();
    this.schedule();
    return new Promise((resolve) => this.settleWaiters.push({ upTo: this.publishedCount, resolve }));
  }

  private wakeSettleWaiters(): void {
    while (this.settleWaiters.length > 0 && this.settleWaiters[0]!.upTo <= this.settledCount) this.settleWaiters.shift()!.resolve();
  }

  /** Resolves when everything published so far is written and delivery marks are saved. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.delivered.size > 0 || this.scheduled) {
      this.schedule();
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.flushing;
      if (this.pending.length === 0) await this.saveDeliveryMarks();
    }
    await this.flushing;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /**
   * Hands what is pending to the store as one batch, now: the store commits it while this
   * loop settles the batch before it. With MAX_BATCHES_IN_FLIGHT handed over, what is
   * pending waits to join the next batch (more would only make the batches smaller).
   * Batches settle in the order they were made, so each crew's events go out in seq order.
   */
  private flush(): void {
    if (this.pending.length === 0 || this.inFlight >= MAX_BATCHES_IN_FLIGHT) return;
    const batch = this.pending;
    this.pending = [];
    this.inFlight += 1;
    const appended = this.append(batch);
    this.flushing = this.flushing
      .then(() => appended)
      .then((results) => this.settleBatch(batch, results))
      .catch((error: unknown) => this.log.error({ err: error, batch: batch.length }, 'settling a committed batch failed'))
      .finally(() => {
        this.inFlight -= 1;
        // Counted even if settling failed part-way, so a ping or an entry waiting on settled() is not held for ever.
        this.settledCount += batch.length;
        // In the check phase, after the burst's sockets are uncorked: what waited (a pong) leaves after the acks.
        if (this.settleWaiters.length > 0) setImmediate(() => this.wakeSettleWaiters());
        if (this.pending.length > 0) this.schedule();
      });
  }

  /** Writes the delivery marks waiting for their batch now (also when an older gadget comes back). */
  saveDeliveryMarks(): Promise<void> {
    if (this.marksTimer) clearTimeout(this.marksTimer);
    this.marksTimer = null;
    this.flushing = this.flushing.then(() => this.saveDeliveredMarks());
    return this.flushing;
  }

  /** The batch's results in its order; never rejects: one bad request fails only itself (the store's appendEach). */
  private async append(batch: Pending[]): Promise<(AppendResult | Error)[]> {
    const started = process.hrtime.bigint();
    let results: (AppendResult | Error)[];
    try {
      results = await this.store.log.appendEach(batch.map((p) => p.request));
    } catch (error) {
      // The store could not take the batch at all (closed, unreachable): each request gets that answer.
      results = batch.map(() => (error instanceof Error ? error : new Error(String(error))));
    }
    this.metrics.storeWriteSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    return results;
  }

  private settleBatch(batch: Pending[], results: (AppendResult | Error)[]): void {
    this.inBurst(() => {
      for (const [i, p] of batch.entries()) this.settle(p, results[i]!);
    });
  }

  /**
   * Every frame `send` sends to one socket leaves in one write, with one delivery-proof ping
   * for the highest seq an older gadget got (its pong proves the frames before it). The
   * sockets stay corked until the next check phase: the acks of the batch's publishes, sent
   * as their promises resolve, join that same write.
   */
  private inBurst(send: () => void): void {
    if (this.burst) return send();
    const burst: Burst = (this.burst = { sockets: new Set(), senders: new Set(), proofs: new Map() });
    try {
      send();
    } finally {
      this.burst = null;
      for (const [session, proof] of burst.proofs) session.askDeliveryProof(proof.crewId, proof.seq);
      if (burst.sockets.size > 0) setImmediate(() => uncorkBurst(burst));
    }
  }

  private settle(p: Pending, result: AppendResult | Error): void {
    if (result instanceof Error) {
      p.reject(result instanceof ProtocolError ? result : new ProtocolError('unavailable'));
      if (!(result instanceof ProtocolError)) this.log.error({ err: result }, 'crew event append failed');
      return;
    }
    if (!result.duplicate) {
      const event = { ...p.request.event, seq: result.seq, crew_code: result.crewCode ?? '' } as CrewEvent;
      const { crewId } = p.request;
      const sender = p.request.from?.deviceId ?? null;
      if (this.sequencer) this.sequencer.offer(crewId, event, sender);
      else this.deliverLive(crewId, event, sender);
      this.metrics.fanOutSeconds.observe(Number(process.hrtime.bigint() - p.startedAt) / 1e9);
      this.notify(this.listeners, event, crewId);
    }
    // Its ack joins the burst too, and leaves after the frames the burst sends to the others.
    const sender = p.request.from && this.registry.deviceSession(p.request.from.deviceId);
    if (sender) this.cork(sender, true);
    p.resolve({ seq: result.seq, duplicate: result.duplicate });
  }

  private fanOut(crewId: string, event: CrewEvent, senderDeviceId: string | null): void {
    const encoded: Encoded = new Map();
    for (const session of this.registry.crewSessions(crewId)) {
      if (session.deviceId === senderDeviceId) continue;
      const state = this.stateOf(session);
      if (state.phase === 'live') {
        this.sendEvent(session, state, event, false, encoded);
        continue;
      }
      const resync = state.hold(event) > this.maxHeld ? state.startResync() : null;
      if (resync !== null) void this.tooFarBehind(session, state, resync);
    }
  }

  /**
   * More live events wait for this socket than MAX_HELD_EVENTS (it said hello and never
   * resumed, or its replay cannot keep up): what was held is dropped, its replay stops, and it
   * is told to resync from the crew's current state; live events go on after that. A `resume`
   * that comes while the state is read overtakes it: its replay answers instead.
   */
  private async tooFarBehind(session: Session, state: DeliveryState, resync: number): Promise<void> {
    const crew = session.crew!;
    this.log.info({ crewId: crew.crewId, deviceId: session.deviceId, held: this.maxHeld }, 'a socket fell too far behind its crew; telling it to resync');
    try {
      if (session.generation < 3) return session.close(CLOSE_TOO_FAR_BEHIND, 'too far behind; reconnect');
      const current = await readCrewState(this.store.crews, this.registry, crew.crewId);
      if (!state.isLatest(resync)) return;
      state.skipTo(current.latest_seq);
      session.send({ type: 'resync', crew_code: crew.crewCode, reason: 'too_far_behind', crew: current });
    } catch (error) {
      this.log.error({ err: error, crewId: crew.crewId }, 'a socket too far behind could not be told to resync; closing it');
      session.close(CLOSE_TOO_FAR_BEHIND, 'too far behind; reconnect');
    } finally {
      state.endResync(resync);
      this.release(session);
    }
  }

  /** An event in its crew's seq order: to this process's sockets and live listeners. */
  private deliverLive(crewId: string, event: CrewEvent, senderDeviceId: string | null): void {
    this.fanOut(crewId, event, senderDeviceId);
    this.notify(this.liveListeners, event, crewId);
  }

  private notify(listeners: ReadonlySet<CrewEventListener>, event: CrewEvent, crewId: string): void {
    for (const listener of listeners) {
      try {
        listener(event, crewId);
      } catch (error) {
        this.log.error({ err: error, crewId }, 'crew event listener failed');
      }
    }
  }

  /** Sends one event in the session's dialect, at most once per seq; `encoded` shares the encoding. */
  private sendEvent(session: Session, state: DeliveryState, event: CrewEvent, includeOwn: boolean, encoded: Encoded = new Map()): boolean {
    if (!session.crew || event.seq === undefined || !state.claim(event.seq)) return false;
    const own = isOwnEvent(event, session.deviceId);
    const rendered = own && !includeOwn ? null : this.encode(event, session.generation, encoded);
    if (rendered) {
      this.cork(session);
      session.sendEncoded(rendered.data, rendered.type);
    }
    // Counted as delivered only once the gadget's pong proves it (see confirmDelivered).
    if (session.generation < 3 && session.deviceId) {
      const proof = { crewId: session.crew.crewId, seq: event.seq };
      if (this.burst) this.burst.proofs.set(session, proof);
      else session.askDeliveryProof(proof.crewId, proof.seq);
    }
    return rendered !== null;
  }

  private encode(event: CrewEvent, generation: Generation, encoded: Encoded): { data: Buffer; type: string } | null {
    let frame = encoded.get(generation);
    if (frame === undefined) {
      const rendered = renderEvent(event, generation);
      frame = rendered ? { data: Buffer.from(JSON.stringify(rendered)), type: rendered.type } : null;
      encoded.set(generation, frame);
    }
    return frame;
  }

  /** Corks the session's socket for the burst under way (a sender's socket is uncorked after the others: see uncorkBurst). */
  private cork(session: Session, sender = false): void {
    const socket = this.burst && socketOf(session.ws);
    if (!socket) return;
    if (sender) this.burst!.senders.add(socket);
    if (this.burst!.sockets.has(socket)) return;
    socket.cork();
    this.burst!.sockets.add(socket);
  }

  /**
   * An older gadget answered a delivery-proof ping: it has everything up to `seq`. What it
   * never confirmed is sent again, in order, when it comes back (from its delivered seq).
   */
  confirmDelivered(session: Session, proof: { crewId: string; seq: number }): void {
    if (session.generation === 3 || !session.deviceId) return;
    this.markDelivered(proof.crewId, session.deviceId, proof.seq);
  }

  private markDelivered(crewId: string, deviceId: string, seq: number): void {
    this.delivered.set(`${crewId}\n${deviceId}`, { crewId, deviceId, seq });
    if (this.marksTimer) return;
    this.marksTimer = setTimeout(() => void this.saveDeliveryMarks(), MARKS_EVERY_MS);
    this.marksTimer.unref();
  }

  private async saveDeliveredMarks(): Promise<void> {
    if (this.delivered.size === 0) return;
    const marks = [...this.delivered.values()];
    this.delivered = new Map();
    try {
      await this.store.crews.markDelivered(marks);
    } catch (error) {
      this.log.error({ err: error, marks: marks.length }, 'saving delivery marks failed');
    }
  }

  /**
   * Joins a session to its crew's live fan-out and sends what it has not seen since
   * `fromSeq` (older dialects: what they missed while away). Live events wait meanwhile.
   */
  async attach(session: Session, fromSeq: number, awaitResume = false): Promise<void> {
    if (!session.crew) return;
    // Attach first, holding live events, so nothing committed during the read is missed.
    this.stateOf(session).startAttach(fromSeq, awaitResume);
    this.registry.attach(session, session.crew.crewId);
    this.sequencer?.track(session.crew.crewId);
    await this.replay(session, fromSeq, Number.MAX_SAFE_INTEGER, false, this.stateOf(session).recoveries, () => undefined);
  }

  /**
   * The current protocol's resume: everything after afterSeq in order (never from before what the
   * device may see: `resumed.after_seq` says where the replay started), then `resumed`; or
   * `resync` when the device is ahead of this log, the history it needs is gone, or its
   * seq belongs to another copy of the log (a restore from backup renewed the epoch).
   */
  async resume(session: Session, requestedAfterSeq: number, crewState: () => Promise<CrewState>, epoch?: string): Promise<void> {
    const crew = session.crew!;
    const state = this.stateOf(session);
    // Hold live events until this resume ends, so none overtakes the replay.
    const recovery = state.startResume();
    // A resync (too far behind) that starts meanwhile answers instead: nothing more is sent from here.
    const overtaken = () => session.closing || !state.isLatest(recovery);
    try {
      const record = await this.store.crews.getCrew(crew.crewId);
      const latest = record?.latestSeq ?? 0;
      // A resume from before the device's join replays from its join on (cloud/crew-visibility.ts).
      const member = await this.store.crews.getMembership(session.deviceId!);
      const floor = record && member?.crewId === crew.crewId ? Math.min(latest, firstVisibleSeq(member, record) - 1) : latest;
      const afterSeq = requestedAfterSeq > latest ? requestedAfterSeq : Math.max(requestedAfterSeq, floor);
      const firstSeq = await this.store.log.firstSeq(crew.crewId);
      const verdict = recoveryFor({ afterSeq, latestSeq: latest, firstSeq, sameEpoch: epoch === undefined || epoch === record?.epoch });
      if (overtaken()) return;
      if (!verdict.replay) {
        const current = await crewState();
        if (overtaken()) return;
        state.skipTo(current.latest_seq);
        session.send({ type: 'resync', crew_code: crew.crewCode, reason: verdict.reason, crew: current });
        return;
      }
      state.rewindTo(afterSeq);
      await this.replay(session, afterSeq, latest, true, recovery, (replayed) => {
        session.send({ type: 'resumed', crew_code: crew.crewCode, after_seq: afterSeq, latest_seq: latest, replayed, epoch: record?.epoch });
      });
    } finally {
      state.endReplay();
      this.release(session);
    }
  }

  /** The device's first frame after `welcome` was not `resume`: what was held goes out now. */
  endResumeWindow(session: Session): void {
    if (this.stateOf(session).endResumeWindow()) this.release(session);
  }

  private release(session: Session): void {
    const state = this.stateOf(session);
    const held = state.release();
    if (held.length > 0) this.inBurst(() => held.forEach((event) => this.sendEvent(session, state, event, false)));
  }

  /** Sends afterSeq < seq ≤ toSeq, then `then`; stops when a resume or resync after `recovery` overtakes it. */
  private async replay(session: Session, afterSeq: number, toSeq: number, includeOwn: boolean, recovery: number, then: (sent: number) => void): Promise<void> {
    const state = this.stateOf(session);
    state.startReplay();
    // A resync (too far behind) during the replay ends it (the device takes the state instead), as a later resume does.
    const overtaken = () => session.closing || !state.isLatest(recovery);
    let cursor = afterSeq;
    let sent = 0;
    try {
      for (;;) {
        const page = await this.store.log.readEvents(session.crew!.crewId, cursor, { toSeq, limit: REPLAY_PAGE });
        if (overtaken()) return;
        for (const stored of page) {
          if (this.sendEvent(session, state, stored.event, includeOwn)) sent += 1;
          await session.drained();
          if (overtaken()) return;
        }
        if (page.length < REPLAY_PAGE) break;
        cursor = page[page.length - 1]!.seq;
      }
      then(sent);
    } finally {
      state.endReplay();
      this.release(session);
    }
  }
}
