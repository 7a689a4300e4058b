import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import {
  CREW_EVENT_TYPES,
  PROTOCOL_VERSION,
  parseOutbound,
  type CrewState,
  type ErrorCode,
  type InboundMessage,
  type OutboundMessage,
  type OutboundOf,
} from '../protocol/index.js';
import { Backoff } from './backoff.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { IdentityStore } from './identity.js';
import { LastSeqStore } from './last-seq.js';
import { Outbox, type OutboxEntry, type OutgoingInput } from './outbox.js';
import type { ConnectionState } from './state.js';

export type CrewReason = 'welcome' | 'created' | 'joined' | 'resync';

export type RelayClientEvent =
  | { kind: 'connection'; connection: ConnectionState }
  | { kind: 'identity'; deviceId: string }
  | { kind: 'crew'; crew: CrewState | null; reason: CrewReason | 'left' }
  /** A crew event, in seq order, each exactly once. */
  | { kind: 'event'; message: OutboundMessage }
  /** Any other frame (Spotify, queue …) for the parts that handle it. */
  | { kind: 'frame'; message: OutboundMessage }
  | { kind: 'outbox'; pending: number }
  | { kind: 'acked'; clientMsgId: string; seq: number | null }
  | { kind: 'rejected'; clientMsgId: string; code: ErrorCode; message: string };

export interface RelayClientOptions {
  url: string;
  deviceName: string;
  /** The crew to join when this device is in none; null creates a crew. */
  crewCode: string | null;
  dataDir: string;
  log: Logger;
  clock?: Clock;
  random?: () => number;
  pingIntervalMs?: number;
  deadAfterMs?: number;
  /** A connection that stays up this long resets the backoff. */
  stableAfterMs?: number;
  baseDelayMs?: number;
  capDelayMs?: number;
}

/** Codes after which a queued message is worth sending again; anything else refuses it for good. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['rate_limited', 'unavailable', 'internal_error', 'not_registered', 'not_in_crew']);

const CREW_EVENTS: ReadonlySet<string> = new Set(CREW_EVENT_TYPES);

type Phase = 'idle' | 'handshake' | 'joining' | 'resuming' | 'ready';

/**
 * The device's connection to the relay, in the current protocol: hello with the stored
 * credential, create or join a crew, resume from the last seq seen, then deliver the
 * outbox. Reconnects with full-jitter backoff; a connection that sends nothing for
 * deadAfterMs is dropped. Every incoming crew event is handed on once, in order.
 */
export class RelayClient {
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly identityStore: IdentityStore;
  private readonly lastSeq: LastSeqStore;
  readonly outbox: Outbox;
  private readonly listeners = new Set<(event: RelayClientEvent) => void>();

  private socket: WebSocket | null = null;
  private phase: Phase = 'idle';
  private running = false;
  private deviceIdValue: string | null = null;
  private deviceSecret: string | null = null;
  private crew: CrewState | null = null;
  /** The log epoch each crew seq was seen in (kept while the process runs; sent with resume). */
  private readonly logEpochs = new Map<string, string>();
  private sentThisConnection = new Set<string>();
  /** When the relay last sent a frame this device could read (garbage does not count as alive). */
  private lastFrameAt = 0;
  private unreadableFrames = 0;
  /** Why this client dropped the socket itself, for the status screen. */
  private dropDetail: string | null = null;
  /** The relay refused the stored credential: read identity.json again before the next try. */
  private credentialRefused = false;
  private inbox: Promise<void> = Promise.resolve();
  private timers = {
    reconnect: null as TimerHandle | null,
    heartbeat: null as TimerHandle | null,
    stable: null as TimerHandle | null,
    retry: null as TimerHandle | null,
    pace: null as TimerHandle | null,
  };
  /** The relay's announced rate (welcome), and the tokens this connection has left of it. */
  private pace: { perSecond: number; burst: number; tokens: number; at: number } | null = null;
  private connectionValue: ConnectionState = { status: 'offline', detail: 'Not started.', retryAt: null };

  constructor(private readonly options: RelayClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.backoff = new Backoff(options.baseDelayMs ?? 1000, options.capDelayMs ?? 60_000, options.random ?? Math.random);
    this.identityStore = new IdentityStore(options.dataDir);
    this.lastSeq = new LastSeqStore(options.dataDir);
    this.outbox = new Outbox(path.join(options.dataDir, 'outbox'), options.log);
  }

  get deviceId(): string | null {
    return this.deviceIdValue;
  }

  get connection(): ConnectionState {
    return this.connectionValue;
  }

  get crewState(): CrewState | null {
    return this.crew;
  }

  /**
   * Whether the client is still working at its connection: connected, connecting, or
   * with a reconnect timer set, or deliberately offline on an error a person must fix.
   * A client that is running with none of these is wedged (the systemd watchdog asks).
   */
  get alive(): boolean {
    if (!this.running) return false;
    return this.socket !== null || this.timers.reconnect !== null || this.connectionValue.status === 'error';
  }

  onEvent(listener: (event: RelayClientEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    await mkdir(this.options.dataDir, { recursive: true, mode: 0o700 });
    await this.lastSeq.load();
    await this.outbox.open();
    this.emit({ kind: 'outbox', pending: this.outbox.size });
    this.running = true;
    if (await this.loadIdentity()) this.connect();
  }

  /**
   * Reads identity.json. A damaged file is not replaced by a new registration (that
   * would orphan this device's place in its crew): the screen says what to do and the
   * client stays offline, still queueing what the owner shares.
   */
  private async loadIdentity(): Promise<boolean> {
    try {
      const identity = await this.identityStore.load();
      // No file (first start, or removed to register anew): hello without a credential.
      this.deviceIdValue = identity?.device_id ?? null;
      this.deviceSecret = identity?.device_secret ?? null;
      if (identity) this.emit({ kind: 'identity', deviceId: identity.device_id });
      return true;
    } catch (error) {
      this.options.log.error({ err: (error as Error).message }, 'cannot use the stored device identity');
      this.setConnection({ status: 'error', detail: (error as Error).message, retryAt: null });
      return false;
    }
  }

  private async reconnect(): Promise<void> {
    this.timers.reconnect = null;
    if (this.credentialRefused) {
      this.credentialRefused = false;
      if (!(await this.loadIdentity())) return;
    }
    this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const key of Object.keys(this.timers) as (keyof typeof this.timers)[]) {
      this.clock.clearTimeout(this.timers[key]);
      this.timers[key] = null;
    }
    const socket = this.socket;
    this.socket = null;
    if (socket) await closeSocket(socket);
    await this.inbox;
    await this.lastSeq.flush();
    this.setConnection({ status: 'offline', detail: 'Stopped.', retryAt: null });
  }

  /** Queues a state-changing message durably; it is sent now if connected, else after reconnect. */
  async send(input: OutgoingInput): Promise<OutboxEntry> {
    const entry = await this.outbox.add(input, this.clock.now());
    this.emit({ kind: 'outbox', pending: this.outbox.size });
    this.flushOutbox();
    return entry;
  }

  /** Sends a message that is worthless later (token requests, pings). False when not connected. */
  sendNow(message: InboundMessage): boolean {
    if (this.phase !== 'ready' || !this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  // -------------------------------------------------------------------------
  // Connection lifecycle
  // -------------------------------------------------------------------------

  private connect(): void {
    if (!this.running) return;
    this.setConnection({ status: 'connecting', detail: `Connecting to ${this.options.url}`, retryAt: null });
    const socket = new WebSocket(this.options.url, { handshakeTimeout: 10_000, maxPayload: 1024 * 1024 });
    this.socket = socket;
    this.sentThisConnection = new Set();
    this.unreadableFrames = 0;
    this.dropDetail = null;
    this.phase = 'handshake';
    socket.on('open', () => this.onOpen(socket));
    socket.on('message', (data, isBinary) => {
      if (socket !== this.socket || isBinary) return;
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      this.inbox = this.inbox
        .then(() => this.onFrame(text))
        .catch((error: Error) => {
          this.options.log.error({ err: error.message }, 'failed to handle a relay frame');
        });
    });
    socket.on('error', (error) => this.options.log.debug({ err: error.message }, 'relay socket error'));
    socket.on('close', (code, reason) => this.onClose(socket, code, reason.toString()));
  }

  private onOpen(socket: WebSocket): void {
    if (socket !== this.socket) return;
    this.lastFrameAt = this.clock.now();
    this.scheduleHeartbeat();
    const hello: InboundMessage = {
      type: 'hello',
      protocol_version: PROTOCOL_VERSION,
      device_name: this.options.deviceName,
      ...(this.deviceIdValue ? { device_id: this.deviceIdValue } : {}),
      ...(this.deviceSecret ? { device_secret: this.deviceSecret } : {}),
    };
    socket.send(JSON.stringify(hello));
  }

  private onClose(socket: WebSocket, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.phase = 'idle';
    this.clock.clearTimeout(this.timers.heartbeat);
    this.clock.clearTimeout(this.timers.stable);
    this.clock.clearTimeout(this.timers.retry);
    this.clock.clearTimeout(this.timers.pace);
    this.pace = null;
    if (!this.running) return;
    const delay = this.backoff.next();
    const retryAt = this.clock.now() + delay;
    const detail = this.connectionValue.status === 'error' ? this.connectionValue.detail : (this.dropDetail ?? closeSentence(code, reason));
    this.options.log.info({ code, delay }, 'relay connection closed; reconnecting');
    this.setConnection({ status: this.connectionValue.status === 'error' ? 'error' : 'offline', detail, retryAt });
    this.timers.reconnect = this.clock.setTimeout(() => void this.reconnect(), delay);
  }

  /** One timer: ping, or drop the socket when the relay has been silent too long. */
  private scheduleHeartbeat(): void {
    const interval = this.options.pingIntervalMs ?? 25_000;
    const deadAfter = this.options.deadAfterMs ?? 60_000;
    this.timers.heartbeat = this.clock.setTimeout(
      () => {
        const socket = this.socket;
        if (!socket) return;
        if (this.clock.now() - this.lastFrameAt >= deadAfter) {
          this.options.log.warn({ silentMs: this.clock.now() - this.lastFrameAt, unreadable: this.unreadableFrames }, 'relay connection is dead; dropping it');
          this.dropDetail =
            this.unreadableFrames > 0 ? 'The relay answers in frames this device cannot read; is relay.url a LEELOO relay?' : 'The relay stopped answering.';
          socket.terminate();
          return;
        }
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'ping' }));
        this.scheduleHeartbeat();
      },
      Math.min(interval, deadAfter),
    );
  }

  private markReady(): void {
    this.phase = 'ready';
    this.setConnection({ status: 'online', detail: `Connected to ${this.options.url}`, retryAt: null });
    this.timers.stable = this.clock.setTimeout(() => this.backoff.reset(), this.options.stableAfterMs ?? 30_000);
    this.flushOutbox();
  }

  /** Sends every queued message not yet sent on this connection, in queue order. */
  private flushOutbox(): void {
    const socket = this.socket;
    if (this.phase !== 'ready' || !socket || socket.readyState !== WebSocket.OPEN) return;
    for (const entry of this.outbox.list()) {
      if (this.sentThisConnection.has(entry.clientMsgId)) continue;
      if (!this.takePace()) {
        // The rest follows at the relay's announced rate.
        this.clock.clearTimeout(this.timers.pace);
        this.timers.pace = this.clock.setTimeout(() => this.flushOutbox(), Math.ceil(1000 / this.pace!.perSecond));
        return;
      }
      this.sentThisConnection.add(entry.clientMsgId);
      socket.send(JSON.stringify(entry.message));
    }
  }

  /** One frame's worth of the relay's announced rate; always true when it announced none. */
  private takePace(): boolean {
    const pace = this.pace;
    if (!pace) return true;
    const now = this.clock.now();
    pace.tokens = Math.min(pace.burst, pace.tokens + ((now - pace.at) / 1000) * pace.perSecond);
    pace.at = now;
    if (pace.tokens < 1) return false;
    pace.tokens -= 1;
    return true;
  }

  private fail(detail: string): void {
    this.setConnection({ status: 'error', detail, retryAt: null });
    this.socket?.close(1000, 'client gives up on this connection');
  }

  // -------------------------------------------------------------------------
  // Frames
  // -------------------------------------------------------------------------

  private async onFrame(text: string): Promise<void> {
    const parsed = parseOutbound(text);
    if (!parsed.ok) {
      // Logged once per connection: a relay that only sends garbage would flood the journal.
      const level = this.unreadableFrames++ === 0 ? 'warn' : 'debug';
      this.options.log[level]({ code: parsed.code, err: parsed.message }, 'relay sent a frame this device cannot read');
      return;
    }
    this.lastFrameAt = this.clock.now();
    const message = parsed.message;
    switch (message.type) {
      case 'welcome':
        return this.onWelcome(message);
      case 'crew_created':
      case 'crew_joined':
        return this.onCrewEntered(message);
      case 'resumed':
        if (this.phase === 'resuming') this.markReady();
        return;
      case 'resync':
        return this.onResync(message);
      case 'ack':
        return this.onAck(message.client_msg_id, message.seq ?? null);
      case 'error':
        return this.onError(message);
      case 'crew_left':
        this.crew = null;
        this.emit({ kind: 'crew', crew: null, reason: 'left' });
        return;
      case 'pong':
        return;
      default:
        if (CREW_EVENTS.has(message.type)) return this.onCrewEvent(message);
        this.emit({ kind: 'frame', message });
    }
  }

  private async onWelcome(message: OutboundOf<'welcome'>): Promise<void> {
    if (message.rate_limit) {
      // Half the burst and 80 % of the rate: resume, pings and the crew's own frames share the bucket.
      const burst = Math.max(1, Math.floor(message.rate_limit.burst / 2));
      this.pace = { perSecond: message.rate_limit.per_second * 0.8, burst, tokens: burst, at: this.clock.now() };
    }
    if (message.device_secret) {
      // Saved before anything else: a secret the relay issued but we lost locks this device out.
      await this.identityStore.save({ device_id: message.device_id, device_secret: message.device_secret });
      this.deviceSecret = message.device_secret;
    }
    if (message.device_id !== this.deviceIdValue) {
      this.deviceIdValue = message.device_id;
      this.emit({ kind: 'identity', deviceId: message.device_id });
    }
    if (message.crew) return this.enterCrew(message.crew, 'welcome');
    this.phase = 'joining';
    const { crewCode, deviceName } = this.options;
    const request: InboundMessage = crewCode
      ? { type: 'join_crew', crew_code: crewCode, display_name: deviceName }
      : { type: 'create_crew', display_name: deviceName };
    this.socket?.send(JSON.stringify(request));
  }

  private async onCrewEntered(message: OutboundOf<'crew_created'> | OutboundOf<'crew_joined'>): Promise<void> {
    const crew = message.crew ?? crewFromLegacy(message, this.options.deviceName);
    await this.enterCrew(crew, message.type === 'crew_created' ? 'created' : 'joined');
  }

  private async enterCrew(crew: CrewState, reason: CrewReason): Promise<void> {
    this.crew = crew;
    this.emit({ kind: 'crew', crew, reason });
    const seen = await this.lastSeenOf(crew);
    if (seen === null && reason !== 'welcome') {
      // A new member starts from now; the crew's past is not replayed onto its screen.
      await this.lastSeq.set(seqKey(crew), crew.latest_seq);
      if (crew.epoch) this.logEpochs.set(seqKey(crew), crew.epoch);
      this.markReady();
      return;
    }
    // After `welcome` the relay holds live events until this device says where it is, so
    // a member that knows no seq (its file was lost) still resumes, from the crew's present.
    this.phase = 'resuming';
    // The epoch our seq came from: a relay restored from a backup has a new one and answers resync.
    const epoch = this.logEpochs.get(seqKey(crew));
    this.socket?.send(JSON.stringify({ type: 'resume', crew_code: crew.crew_code, after_seq: seen ?? crew.latest_seq, ...(epoch ? { epoch } : {}) }));
    if (crew.epoch) this.logEpochs.set(seqKey(crew), crew.epoch);
  }

  /**
   * The last seq applied in this crew. Kept under the crew id, which survives a code
   * rotation the gadget slept through; files from before crew ids are keyed by code.
   */
  private async lastSeenOf(crew: CrewState): Promise<number | null> {
    const byKey = this.lastSeq.get(seqKey(crew));
    if (byKey !== null || !crew.crew_id) return byKey;
    const byCode = this.lastSeq.get(crew.crew_code);
    if (byCode !== null) await this.lastSeq.rename(crew.crew_code, crew.crew_id);
    return byCode;
  }

  private async onResync(message: OutboundOf<'resync'>): Promise<void> {
    this.options.log.warn({ reason: message.reason }, 'relay asked for a resync; taking its current crew state');
    this.crew = message.crew;
    await this.lastSeq.set(seqKey(message.crew), message.crew.latest_seq);
    if (message.crew.epoch) this.logEpochs.set(seqKey(message.crew), message.crew.epoch);
    this.emit({ kind: 'crew', crew: message.crew, reason: 'resync' });
    if (this.phase !== 'ready') this.markReady();
  }

  private async onCrewEvent(message: OutboundMessage): Promise<void> {
    const seq = 'seq' in message && typeof message.seq === 'number' ? message.seq : null;
    const key = this.crew ? seqKey(this.crew) : null;
    if (seq !== null && key) {
      const seen = this.lastSeq.get(key) ?? 0;
      if (seq <= seen) return;
      // A failed write must not lose the event: it is shown now, and the seq on disk
      // catches up with the next write (a restart in between replays, deduplicated by key).
      await this.lastSeq.set(key, seq).catch((error: Error) => {
        this.options.log.warn({ err: error.message }, 'could not record the last seq seen');
      });
    }
    if (message.type === 'crew_code_changed' && this.crew) {
      const keyedByCode = !this.crew.crew_id;
      this.crew = { ...this.crew, crew_code: message.new_crew_code };
      if (keyedByCode) await this.lastSeq.rename(message.old_crew_code, message.new_crew_code);
    }
    this.emit({ kind: 'event', message });
  }

  private async onAck(clientMsgId: string, seq: number | null): Promise<void> {
    if (!(await this.outbox.remove(clientMsgId))) return;
    this.emit({ kind: 'acked', clientMsgId, seq });
    this.emit({ kind: 'outbox', pending: this.outbox.size });
  }

  private async onError(message: OutboundOf<'error'>): Promise<void> {
    const id = message.client_msg_id;
    if (id && this.outbox.has(id)) return this.onOutboxError(id, message);
    this.options.log.warn({ code: message.code, ref: message.ref_type }, message.message);
    if (this.phase === 'handshake' && message.code === 'unauthorized') {
      this.credentialRefused = true;
      return this.fail('The relay refused this device’s credential (identity.json). Restore the file or register anew.');
    }
    if (this.phase === 'joining' && message.code === 'invalid_crew_code') {
      return this.fail(`No crew has the code ${this.options.crewCode}; check device.crewCode in the config.`);
    }
    if (this.phase !== 'ready') return this.fail(`The relay refused the connection: ${message.message}`);
    // An answer to a sendNow() request (crew link, airhorn, token): the part that asked handles it.
    this.emit({ kind: 'frame', message });
  }

  private async onOutboxError(id: string, message: OutboundOf<'error'>): Promise<void> {
    if (RETRYABLE.has(message.code)) {
      // Sent again on this connection after a pause, or on the next one.
      this.clock.clearTimeout(this.timers.retry);
      this.timers.retry = this.clock.setTimeout(() => {
        this.sentThisConnection.clear();
        this.flushOutbox();
      }, message.retry_after_ms ?? 5000);
      return;
    }
    await this.outbox.remove(id);
    this.options.log.warn({ code: message.code, clientMsgId: id }, `relay refused a queued message: ${message.message}`);
    this.emit({ kind: 'rejected', clientMsgId: id, code: message.code, message: message.message });
    this.emit({ kind: 'outbox', pending: this.outbox.size });
  }

  private setConnection(connection: ConnectionState): void {
    this.connectionValue = connection;
    this.emit({ kind: 'connection', connection });
  }

  private emit(event: RelayClientEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.log.error({ err: (error as Error).message, kind: event.kind }, 'relay client listener failed');
      }
    }
  }
}

function crewFromLegacy(message: OutboundOf<'crew_created'> | OutboundOf<'crew_joined'>, deviceName: string): CrewState {
  // The older answers carry no member ids (crew_members is a count): the device knows itself.
  return {
    crew_code: message.crew_code,
    crew_name: '',
    owner_device_id: message.device_id,
    members: [{ device_id: message.device_id, display_name: deviceName, online: true, is_owner: message.type === 'crew_created' }],
    latest_seq: 0,
  };
}

function closeSentence(code: number, reason: string): string {
  if (code === 1001) return 'The relay is restarting.';
  if (code === 1006) return 'Cannot reach the relay.';
  if (code === 1009) return 'The relay refused a frame as too large.';
  return reason ? `The relay closed the connection: ${reason}.` : `The connection closed (code ${code}).`;
}

function closeSocket(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, 2000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    else socket.close(1000, 'device stopping');
  });
}

/** Where the last seq of a crew is kept: its id when the relay names one, else its code. */
function seqKey(crew: CrewState): string {
  return crew.crew_id ?? crew.crew_code;
}
