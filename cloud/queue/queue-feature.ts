import { isTrackUri, ProtocolError, type InboundMessage, type InboundType, type OutboundMessage } from '../../protocol/index.js';
import { errorFrame } from '../../protocol/parse.js';
import type { QueueChange, QueueSnapshot, QueueTrack } from '../../protocol/queue.js';
import type { CrewEvent } from '../../protocol/messages.js';
import type { QueueConfig } from '../config.js';
import type { Acknowledgement, Feature, FeatureFactory, MessageHandler, PublishFrom, RelayContext, SessionView } from '../feature.js';
import { LeasedWork, type LeaseTimings } from '../leases.js';
import type { Actor, CommandResult, QueueCommand, QueueCommands, ThrowbackSource, TrackLookup } from '../ports.js';
import { AirhornLimit } from './airhorn-limit.js';
import {
  addThrowbacks,
  addTrack,
  advance,
  clear,
  dueAt,
  emptyQueue,
  jam,
  needsFiller,
  pause,
  rememberApplied,
  removeTrack,
  resume,
  setThrowback,
  skip,
  skipVotesNeeded,
  snapshotOf,
  vote,
  voteSkip,
  wasApplied,
  type QueueResult,
  type QueueState,
} from './crew-queue.js';
import { KeyedLock } from './keyed-lock.js';
import { QueueAnnouncer } from './queue-announcer.js';
import { loadQueue, storedState } from './queue-state.js';
import { QueueScheduler } from './scheduler.js';

/** The queue's ports (cloud/ports.ts), handed in by cloud/compose.ts; without them it still runs. */
export interface QueueFeatureOptions {
  readonly now?: () => number;
  /** Old shares to fill a quiet queue (the history feature's); none: throwback adds nothing. */
  readonly throwback?: ThrowbackSource;
  /** What Spotify says of a track (the Spotify feature's); none: tracks stay as members sent them. */
  readonly lookupTrack?: TrackLookup;
  /** The clock's lease timings (tests shorten them); production uses the defaults of cloud/leases.ts. */
  readonly clockLease?: LeaseTimings;
}

/** A command stored but not yet announced: `announced` resolves with the seq of the queue_state that carries it. */
interface Pending extends CommandResult {
  readonly announced?: Promise<number>;
}

/** A change to a crew's queue, given its state and the time: the result to save, or null for none. */
type QueueOp = (state: QueueState, now: number) => Promise<QueueResult | null>;
/** Who asked for a change, and the client message id that dedupes it. */
type ChangeFrom = { deviceId: string; clientMsgId?: string };

/** A stored command once its queue_state is stored: the seq is that event's. */
async function settled({ announced, ...result }: Pending): Promise<CommandResult> {
  return announced ? { ...result, seq: await announced } : result;
}

const THROWBACK_BATCH = 5;

/**
 * The crew's shared queue as a relay feature: its socket handlers, and the crew pages and MCP
 * through QueueCommands, run the same commands through crew-queue.ts; each change is saved
 * (compare-and-set) and then fanned out as one `queue_state` crew event under the crew's seq;
 * one scheduler keeps every crew's clock.
 */
export class QueueFeature implements Feature, QueueCommands {
  readonly name = 'queue';
  readonly handlers: Partial<Record<InboundType, MessageHandler>>;
  private readonly context: RelayContext;
  private readonly options: QueueFeatureOptions;
  private readonly config: QueueConfig;
  private readonly now: () => number;
  private readonly locks = new KeyedLock();
  private readonly scheduler: QueueScheduler;
  private readonly airhorns: AirhornLimit;
  private readonly announcer: QueueAnnouncer;
  /** The clock runs in the one relay process that holds the queue-clock lease. */
  private readonly clock: LeasedWork;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(context: RelayContext, options: QueueFeatureOptions = {}) {
    this.context = context;
    this.options = options;
    this.config = context.config.queue;
    this.now = options.now ?? Date.now;
    this.scheduler = new QueueScheduler((crewId) => this.tick(crewId), this.now, context.log);
    this.airhorns = new AirhornLimit(this.config.airhorn);
    this.announcer = new QueueAnnouncer({
      publish: (crewId, state, change, from) => this.publishState(crewId, state, change, from),
      intervalMs: this.config.stateIntervalMs,
      now: this.now,
    });
    this.handlers = this.socketHandlers();
    this.clock = new LeasedWork({
      leases: context.leases,
      name: 'queue-clock',
      log: context.log,
      timings: options.clockLease,
      work: { start: () => this.startClock(), stop: async () => this.scheduler.stop() },
    });
  }

  async start(): Promise<void> {
    this.unsubscribe.push(this.context.onCrewEvent((event, crewId) => this.onCrewEvent(event, crewId)));
    // Several processes: a change made in another one reaches the clock's holder as its queue_state.
    if (this.clock.shared) this.unsubscribe.push(this.context.onLiveCrewEvent((event, crewId) => this.follow(event, crewId)));
    await this.clock.start();
  }

  async stop(): Promise<void> {
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    await this.clock.stop();
    await this.announcer.stop();
  }

  /**
   * Gained the clock: every crew whose clock runs is put on the scheduler. One lease for the
   * whole relay (not one per crew): the clock is one timer for every crew, cheap to run in one
   * process, and per-crew leases would cost a renewal per crew every few seconds. Its writes
   * need no token: save() is a compare-and-set on the queue's version, so a paused former holder
   * that wakes and ticks either finds the crew already advanced (its save is refused, it reloads
   * and finds nothing due) or makes the very advance the new holder would have made.
   */
  private async startClock(): Promise<void> {
    for (const active of await this.context.store.queue.listActive()) await this.restore(active.crewId);
    this.scheduler.start();
  }

  /** The clock's holder reschedules a crew whose queue changed (in any process) from what is stored. */
  private follow(event: CrewEvent, crewId: string): void {
    if (event.type !== 'queue_state' || this.clock.token === null) return;
    loadQueue(this.context.store.queue, crewId).then(
      (stored) => stored && this.schedule(crewId, stored.state, this.now()),
      (error: unknown) => this.context.log.warn({ err: error, crewId }, 'could not reschedule a queue changed elsewhere; its clock runs from the next change'),
    );
  }

  /** The crew's queue as it is now. */
  async snapshot(crewId: string): Promise<QueueSnapshot> {
    const stored = await loadQueue(this.context.store.queue, crewId);
    return snapshotOf(stored?.state ?? emptyQueue(), this.now());
  }

  /** Runs one queue command for a member: the socket handlers and the HTTP API both come here. */
  async run(crewId: string, actor: Actor, command: QueueCommand): Promise<CommandResult> {
    return settled(await this.begin(crewId, actor, command));
  }

  /** Like run(), but resolves once the change is stored, with its announcement still to come. */
  private async begin(crewId: string, actor: Actor, command: QueueCommand): Promise<Pending> {
    this.context.metrics.queueAction(command.type);
    if (command.type === 'airhorn') return this.airhorn(crewId, actor, command.client_msg_id);
    const from = { deviceId: actor.deviceId, clientMsgId: command.client_msg_id };
    const done = await this.commit(crewId, async (state, now) => this.apply(crewId, state, actor, command, now), from);
    return done ?? { duplicate: false };
  }

  private async apply(crewId: string, state: QueueState, actor: Actor, command: QueueCommand, now: number): Promise<QueueResult> {
    const limits = this.config.limits;
    switch (command.type) {
      case 'queue_add': {
        const { type: _type, client_msg_id: _id, ...track } = command;
        return addTrack(state, actor, await this.completeTrack(crewId, track, actor.deviceId), now, limits);
      }
      case 'queue_vote':
        return vote(state, actor, command.item_id, command.vote);
      case 'queue_jam':
        return jam(state, actor, command.item_id, command.jam);
      case 'queue_remove':
        return removeTrack(state, actor, command.item_id);
      case 'queue_skip':
        return skip(state, actor, now, command.item_id, limits);
      case 'queue_skip_vote':
        return voteSkip(state, actor, command.item_id, command.skip, await this.skipVotesNeeded(crewId, actor), now, limits);
      case 'queue_pause':
        return pause(state, actor, now);
      case 'queue_resume':
        return resume(state, actor, now);
      case 'queue_clear':
        return clear(state, actor);
      case 'queue_throwback':
        return setThrowback(state, actor, command.enabled);
      case 'airhorn':
        throw new ProtocolError('internal_error', 'An airhorn is not a queue change.');
    }
  }

  /** A majority (LEELOO_SKIP_VOTE_PERCENT) of the crew's members online now, the voter counted as online. */
  private async skipVotesNeeded(crewId: string, voter: Actor): Promise<number> {
    const members = await this.context.store.crews.listMembers(crewId);
    const online = members.filter((m) => m.deviceId === voter.deviceId || this.context.isOnline(m.deviceId)).length;
    return skipVotesNeeded(online, this.config.skipVotePercent);
  }

  /** A lookup that fails or finds nothing leaves the track as it was: the clock then runs on the default duration. */
  private async completeTrack(crewId: string, track: QueueTrack, adder: string): Promise<QueueTrack> {
    if (track.duration_ms !== undefined && track.track && track.artist) return track;
    const found = await this.lookUp(crewId, adder, track.spotify_uri);
    if (!found) return track;
    return {
      ...track,
      track: track.track || found.track || track.track,
      artist: track.artist || found.artist || track.artist,
      album: track.album || found.album || '',
      album_art_url: track.album_art_url || found.album_art_url || '',
      duration_ms: track.duration_ms ?? found.duration_ms,
    };
  }

  /** What Spotify says of a track, asked with the adder's token, else the owner's; null when nobody can ask. */
  async lookUp(crewId: string, adder: string, spotifyUri: string): Promise<Partial<QueueTrack> | null> {
    if (!this.options.lookupTrack) return null;
    const owner = (await this.context.store.crews.getCrew(crewId))?.ownerDeviceId;
    const holders = owner && owner !== adder ? [adder, owner] : [adder];
    return this.options.lookupTrack(crewId, spotifyUri, holders).catch((error: unknown) => {
      this.context.log.warn({ err: error, crewId }, 'track lookup failed; the queue uses what the member sent');
      return null;
    });
  }

  private async airhorn(crewId: string, actor: Actor, clientMsgId: string | undefined): Promise<CommandResult> {
    const verdict = this.airhorns.take(crewId, actor.deviceId, this.now());
    if (!verdict.ok) {
      const who = verdict.scope === 'member' ? 'You sounded the airhorn' : 'Your crew sounded the airhorn too often';
      throw new AirhornRefused(`${who} a moment ago; try again in ${Math.ceil(verdict.retryAfterMs / 1000)} s.`, verdict.retryAfterMs);
    }
    const event = { type: 'airhorn' as const, from_device: actor.deviceId, from_name: actor.name, timestamp: this.now() };
    const { seq, duplicate } = await this.context.publish(crewId, event, { deviceId: actor.deviceId, clientMsgId });
    return { seq, duplicate };
  }

  /**
   * Loads, changes, saves (compare-and-set on the version) and announces a crew's queue,
   * one change at a time per crew. A retried client_msg_id is recognised from the state
   * itself, so it is never applied twice even across a crash. The announcement is awaited
   * outside the crew's lock: changes made meanwhile share the next queue_state (QueueAnnouncer).
   */
  private async mutate(crewId: string, op: QueueOp, from?: ChangeFrom, fillerTried = false): Promise<CommandResult | null> {
    const pending = await this.commit(crewId, op, from, fillerTried);
    return pending && settled(pending);
  }

  /** mutate() up to the save: resolves once the change is stored, with its queue_state still to come. */
  private async commit(crewId: string, op: QueueOp, from?: ChangeFrom, fillerTried = false): Promise<Pending | null> {
    const saved = await this.locks.run(crewId, async () => {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const stored = await loadQueue(this.context.store.queue, crewId);
        const state = stored?.state ?? emptyQueue();
        const key = from?.clientMsgId ? `${from.deviceId}:${from.clientMsgId}` : null;
        if (key && wasApplied(state, key)) return 'duplicate' as const;
        const now = this.now();
        const result = await op(state, now);
        if (!result) return null;
        const next = key ? rememberApplied(result.state, key) : result.state;
        if (!(await this.context.store.queue.save(crewId, storedState(next), stored ? state.version : 0, dueAt(next)))) continue;
        const announced = this.announcer.announce(crewId, next, result.change, from);
        this.schedule(crewId, next, now, fillerTried);
        return { announced, queue: snapshotOf(next, now) };
      }
      throw new ProtocolError('conflict', 'The crew queue kept changing under this request; try again.');
    });
    if (saved === null) return null;
    if (saved === 'duplicate') return { duplicate: true };
    return { duplicate: false, queue: saved.queue, announced: saved.announced };
  }

  /** One queue_state carrying the crew's queue as of now; its version is then marked announced. */
  private async publishState(crewId: string, state: QueueState, change: QueueChange, from?: PublishFrom): Promise<number> {
    const event = { type: 'queue_state' as const, change, queue: snapshotOf(state, this.now()) };
    const { seq } = await this.context.publish(crewId, event, from);
    await this.context.store.queue.markAnnounced(crewId, state.version);
    return seq;
  }

  /** The clock's next end; an idle crew with throwback on gets one immediate try at filling. */
  private schedule(crewId: string, state: QueueState, now: number, fillerTried = false): void {
    const idleFiller = !fillerTried && state.nowPlaying === null && needsFiller(state, now);
    this.scheduler.set(crewId, idleFiller ? now : dueAt(state));
  }

  /** The scheduler's call: fill from throwback if the queue runs dry, then advance the clock. */
  private async tick(crewId: string): Promise<void> {
    const result = await this.mutate(
      crewId,
      async (state, now) => {
        let current = state;
        let change: QueueChange | null = null;
        if (needsFiller(current, now)) {
          const playedLately = new Set(current.played.map((p) => p.uri));
          const tracks = (await this.throwbackTracks(crewId, now)).filter((t) => !playedLately.has(t.spotify_uri));
          const filled = addThrowbacks(current, tracks, now, this.config.limits);
          if (filled) ({ state: current, change } = filled);
        }
        const advanced = advance(current, now, this.config.limits);
        if (advanced) return advanced;
        return change ? { state: current, change } : null;
      },
      undefined,
      true,
    );
    if (!result) {
      const stored = await loadQueue(this.context.store.queue, crewId);
      this.scheduler.set(crewId, stored ? dueAt(stored.state) : null);
    }
  }

  private async throwbackTracks(crewId: string, nowMs: number): Promise<QueueTrack[]> {
    if (!this.options.throwback) return [];
    try {
      return await this.options.throwback(crewId, { nowMs, timeZone: this.config.timeZone, limit: THROWBACK_BATCH });
    } catch (error) {
      this.context.log.warn({ err: error, crewId }, 'throwback could not read the crew history; the queue stays empty');
      return [];
    }
  }

  /** At start: announce a change a crash left unannounced, and put the crew's clock back on the scheduler. */
  private async restore(crewId: string): Promise<void> {
    const stored = await loadQueue(this.context.store.queue, crewId);
    if (!stored) return;
    const now = this.now();
    if (stored.state.version > stored.announcedVersion) {
      await this.announcer.announce(crewId, stored.state, { kind: 'restored', by: null });
    }
    this.schedule(crewId, stored.state, now);
  }

  /** Every share (song_push, or a first-generation share_music stored as one) also enqueues. */
  private onCrewEvent(event: CrewEvent, crewId: string): void {
    if (event.type !== 'message' || event.msg_type !== 'song_push') return;
    const actor: Actor = { deviceId: event.from_device, name: event.from_name, isOwner: false };
    const { spotify_uri, track, artist, album, album_art_url } = event.payload;
    if (!isTrackUri(spotify_uri)) return;
    const key = `share-seq-${event.seq ?? event.timestamp}`;
    this.mutate(
      crewId,
      async (state, now) => {
        const queued = state.nowPlaying?.uri === spotify_uri || state.pending.some((e) => e.uri === spotify_uri);
        if (queued) return null;
        return addTrack(
          state,
          actor,
          await this.completeTrack(crewId, { spotify_uri, track, artist, album, album_art_url }, actor.deviceId),
          now,
          this.config.limits,
        );
      },
      { deviceId: event.from_device, clientMsgId: key },
    ).catch((error: unknown) => {
      this.context.log.info({ crewId, code: (error as ProtocolError).code }, `a share was not added to the queue: ${(error as Error).message}`);
    });
  }

  private socketHandlers(): Partial<Record<InboundType, MessageHandler>> {
    const command: MessageHandler = (session, message) => this.onCommand(session, message as QueueCommand);
    return {
      queue_get: (session) => this.onGet(session),
      queue_add: command,
      queue_vote: command,
      queue_jam: command,
      queue_remove: command,
      queue_skip: command,
      queue_skip_vote: command,
      queue_pause: command,
      queue_resume: command,
      queue_clear: command,
      queue_throwback: command,
      airhorn: command,
    };
  }

  private async actorOf(session: SessionView): Promise<{ crewId: string; actor: Actor } | null> {
    const membership = session.deviceId ? await this.context.store.crews.getMembership(session.deviceId) : null;
    if (!membership) return null;
    return { crewId: membership.crewId, actor: { deviceId: membership.deviceId, name: membership.displayName, isOwner: membership.isOwner } };
  }

  private async onCommand(session: SessionView, message: QueueCommand): Promise<Acknowledgement | void> {
    const member = await this.actorOf(session);
    if (!member) return session.fail('not_in_crew', 'Join a crew before using its queue.', message.client_msg_id);
    try {
      // Acked when its queue_state is stored; the gadget's next frames are handled meanwhile.
      const { seq, duplicate, announced } = await this.begin(member.crewId, member.actor, message);
      return announced ? { later: announced.then((carried) => ({ seq: carried, duplicate: false })) } : { seq, duplicate };
    } catch (error) {
      session.send(commandErrorFrame(error, message));
    }
  }

  private async onGet(session: SessionView): Promise<void> {
    const member = await this.actorOf(session);
    if (!member) return session.fail('not_in_crew', 'Join a crew before asking for its queue.');
    session.send({ type: 'queue_state', change: { kind: 'snapshot', by: null }, queue: await this.snapshot(member.crewId) });
  }
}

/** A refused airhorn: `rate_limited` with the wait. */
export class AirhornRefused extends ProtocolError {
  declare readonly retryAfterMs: number;
  constructor(sentence: string, retryAfterMs: number) {
    super('rate_limited', sentence, retryAfterMs);
  }
}

function commandErrorFrame(error: unknown, message: InboundMessage): OutboundMessage {
  const extra = { client_msg_id: 'client_msg_id' in message ? message.client_msg_id : undefined, ref_type: message.type };
  if (error instanceof AirhornRefused) return errorFrame('rate_limited', error.message, { ...extra, retry_after_ms: error.retryAfterMs });
  if (error instanceof ProtocolError) return errorFrame(error.code, error.message, extra);
  throw error;
}

/** The queue feature alone, for a relay that lists features one by one (tests); cloud/compose.ts hands it its ports. */
export function queueFeatureFactory(options: QueueFeatureOptions = {}): FeatureFactory {
  return (context) => new QueueFeature(context, options);
}
