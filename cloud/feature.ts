import type express from 'express';
import type { CrewEvent, ErrorCode, Generation, InboundMessage, InboundType, OutboundMessage } from '../protocol/index.js';
import type { SpotifyCallOutcome } from '../spotify/spotify-http.js';
import type { RelayConfig } from './config.js';
import type { Leases } from './leases.js';
import type { Logger } from './log.js';
import type { AppendFrom, CrewEventInput, Store } from './store/store.js';

export type { CrewEventInput };

/**
 * A feature (Spotify, queue, history) plugs into the relay with the lifecycle of STYLE.md:
 * the constructor stores dependencies and does nothing else, start() subscribes and starts
 * timers, stop() undoes exactly that. A feature that fails to start is logged; the rest run.
 */
export interface Feature {
  readonly name: string;
  /** Socket message types this feature answers (types must be in protocol Inbound, not core types). */
  readonly handlers?: Partial<Record<InboundType, MessageHandler>>;
  /** HTTP routes, mounted at the root of the app. */
  readonly router?: express.Router;
  /**
   * Called right after the relay answered a register/create_crew/join_crew (the answer is the
   * gadget's next frame) and acked it, before the crew's backlog: for frames owed to the device itself.
   */
  afterCrewEntry?(session: SessionView): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Builds a feature once the relay's context exists (a test lists the few it needs). */
export type FeatureFactory = (context: RelayContext) => Feature;

/**
 * Builds several features at once, in order, handing each the ports of the ones before it:
 * cloud/compose.ts is the relay's. They start in this order and stop in reverse.
 */
export type FeatureComposition = (context: RelayContext) => readonly Feature[];

/**
 * What a command produced: the router acks it (`{client_msg_id, seq, duplicate}`) when it
 * carries a client_msg_id, features never do. A handler that refused the command (sent an
 * `error`) returns nothing.
 */
export interface Acknowledgement {
  readonly seq?: number;
  readonly duplicate?: boolean;
  /**
   * Frames the sender must receive after the ack (a Spotify command's answer; an entry's
   * held frames and backlog, after its answer): the router runs this right after acking,
   * in the socket's turn, and answers a rejection as the handler's error would be. It also
   * runs for a message without client_msg_id (no ack then). Not together with `later`.
   */
  readonly afterAck?: () => Promise<void>;
  /**
   * A command that is stored but whose crew event is still to come (a queue change waits for
   * its crew's next coalesced queue_state): the router acks it when this settles and handles
   * the socket's next frames meanwhile; a rejection is answered as the handler's error would be.
   */
  readonly later?: Promise<Acknowledgement>;
}

/** Only called for sessions that said hello/register (the relay answers `not_registered` otherwise). */
export type MessageHandler = (session: SessionView, message: InboundMessage) => Promise<Acknowledgement | void>;

export interface SessionCrew {
  readonly crewId: string;
  readonly crewCode: string;
  readonly isOwner: boolean;
}

export interface SessionView {
  readonly deviceId: string | null;
  readonly generation: Generation;
  readonly crew: SessionCrew | null;
  send(message: OutboundMessage): void;
  /** Sends an `error` frame with the code and a sentence. */
  fail(code: ErrorCode, sentence?: string, clientMsgId?: string): void;
}

/** Called after an event is committed and fanned out, once per event (never for duplicates). */
export type CrewEventListener = (event: CrewEvent, crewId: string) => void;

/** Who caused a published event (not echoed to that device), and the commands it answers. */
export type PublishFrom = AppendFrom;

/** Counters the features report into (cloud/metrics.ts renders them on /metrics). */
export interface FeatureMetrics {
  spotifyCall(outcome: SpotifyCallOutcome): void;
  spotifyRefreshFailed(reason: string): void;
  queueAction(action: string): void;
  historyImport(outcome: string): void;
}

export interface RelayContext {
  readonly config: RelayConfig;
  readonly store: Store;
  readonly log: Logger;
  readonly metrics: FeatureMetrics;
  /**
   * For work that runs in one relay process at a time (the queue clock, history collection): cloud/leases.ts
   * LeasedWork. createRelay always gives one; none (a feature's own test host): one process, LocalLeases.
   */
  readonly leases?: Leases;
  /** Stores the event under the crew's next seq, then fans it out. Resolves after commit. */
  publish(crewId: string, event: CrewEventInput, from?: PublishFrom): Promise<{ seq: number; duplicate: boolean }>;
  /** Sends to one device if it is connected to this process (false if not). */
  sendToDevice(deviceId: string, message: OutboundMessage): boolean;
  isOnline(deviceId: string): boolean;
  /**
   * Subscribes to the crew events this relay process committed (each event reaches one
   * process's listeners: once-per-event work); returns the unsubscribe function.
   */
  onCrewEvent(listener: CrewEventListener): () => void;
  /**
   * Subscribes to every crew event, whichever relay process committed it, in each crew's seq
   * order (what this process's live streams show); returns the unsubscribe function.
   */
  onLiveCrewEvent(listener: CrewEventListener): () => void;
  /**
   * Where phones reach the relay, for links: PUBLIC_URL, or else this process's own
   * address (the real port once listening) — right on one machine, wrong behind a proxy.
   */
  publicUrl(): string;
}
