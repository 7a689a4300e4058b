import type { WebSocket } from 'ws';
import { errorFrame, ERROR_CODES, type ErrorCode, type Generation, type OutboundMessage } from '../protocol/index.js';
import type { SessionCrew, SessionView } from './feature.js';
import type { RelayMetrics } from './metrics.js';
import { TokenBucket } from './token-bucket.js';
import { LocalBus, type RelayBus } from './bus.js';

export interface SessionOptions {
  readonly rateLimit: { perSecond: number; burst: number };
  readonly metrics: RelayMetrics;
  readonly remoteAddress: string | undefined;
  /** Bytes a socket may have waiting in this process before it counts as not reading (default SEND_BUFFER_LIMIT_BYTES). */
  readonly sendBufferLimitBytes?: number;
}

/**
 * A client that stops reading leaves every frame sent to it in this process's memory. Past
 * this many bytes waiting the socket is dropped: a current device resumes from its last seq.
 */
export const SEND_BUFFER_LIMIT_BYTES = 4 * 1024 * 1024;
/**
 * Back-pressure: past this many of a socket's frames waiting to be handled, the relay stops
 * reading it until they are; the sender's own TCP window then slows it instead of the relay
 * queueing seconds of backlog in memory.
 */
export const PENDING_FRAMES_PAUSE_AT = 8;
/** Replays wait for the socket to take this much before sending more (see `drained`). */
export const SEND_BUFFER_LOW_WATER_BYTES = 256 * 1024;

const DELIVERY_PROOF = 'delivered:';

/** The crew and seq a pong's payload proves delivered (see Session.askDeliveryProof), or null. */
export function deliveryProof(payload: Buffer): { crewId: string; seq: number } | null {
  const match = /^delivered:([^\n]{1,64})\n(\d{1,15})$/.exec(payload.toString('utf8'));
  return match ? { crewId: match[1]!, seq: Number(match[2]) } : null;
}

/** One per socket: who is on it, which dialect it speaks, its crew and its rate limit (its delivery state is Delivery's, cloud/delivery.ts). */
export class Session implements SessionView {
  private static lastId = 0;
  readonly id = ++Session.lastId;
  readonly ws: WebSocket;
  readonly bucket: TokenBucket;
  readonly remoteAddress: string | undefined;
  private readonly metrics: RelayMetrics;
  private readonly sendBufferLimit: number;

  /** Fixed by the first identifying message; null before it. */
  gen: Generation | null = null;
  deviceId: string | null = null;
  displayName = '';
  crew: SessionCrew | null = null;
  /** When the socket opened: one that has not identified in time is closed. */
  readonly openedAt = Date.now();
  /** Frames refused for rate in a row; sustained abuse closes the socket. */
  refusedInRow = 0;
  /** Set once the socket is closing: nothing more is handled or sent. */
  closing = false;
  private chain: Promise<void> = Promise.resolve();
  /** Frames enqueued and not yet handled (see PENDING_FRAMES_PAUSE_AT). */
  private pending = 0;

  constructor(ws: WebSocket, options: SessionOptions) {
    this.ws = ws;
    this.metrics = options.metrics;
    this.remoteAddress = options.remoteAddress;
    this.bucket = new TokenBucket(options.rateLimit.perSecond, options.rateLimit.burst);
    this.sendBufferLimit = options.sendBufferLimitBytes ?? SEND_BUFFER_LIMIT_BYTES;
  }

  get generation(): Generation {
    return this.gen ?? 3;
  }

  get identified(): boolean {
    return this.deviceId !== null && this.gen !== null;
  }

  /** Runs tasks one after another: a socket's messages are handled in the order they came. */
  enqueue(task: () => Promise<void>): Promise<void> {
    this.waitingOneMore();
    const run = () => task().finally(() => this.handled());
    this.chain = this.chain.then(run, run);
    return this.chain;
  }

  /** A handled frame whose answer is still to come counts as waiting until `answered` settles (back-pressure). */
  holdUntil(answered: Promise<void>): void {
    this.waitingOneMore();
    void answered.finally(() => this.handled());
  }

  private waitingOneMore(): void {
    this.pending += 1;
    if (this.pending === PENDING_FRAMES_PAUSE_AT) this.ws.pause();
  }

  private handled(): void {
    this.pending -= 1;
    if (this.pending === 0 && this.ws.isPaused) this.ws.resume();
  }

  send(message: OutboundMessage): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.sendEncoded(JSON.stringify(message), message.type);
  }

  /** Sends a frame already encoded as JSON text: fan-out encodes each event once per dialect. */
  sendEncoded(data: string | Buffer, type: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.sendBufferLimit) {
      this.closing = true;
      this.metrics.slowClients.inc();
      this.ws.terminate();
      return;
    }
    this.ws.send(data, { binary: false });
    this.metrics.messagesOut.inc({ type });
  }

  /**
   * Resolves once what was sent so far has been handed to the kernel (a ping queued behind it
   * was written), or the socket closed. Long replays wait on it so a slow link holds at most
   * about SEND_BUFFER_LOW_WATER_BYTES here instead of the whole history.
   */
  drained(): Promise<void> {
    if (this.ws.bufferedAmount <= SEND_BUFFER_LOW_WATER_BYTES || this.ws.readyState !== this.ws.OPEN) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.ws.off('close', done);
        resolve();
      };
      this.ws.once('close', done);
      this.ws.ping(undefined, undefined, done);
    });
  }

  /**
   * Older gadgets have no acks: a WebSocket ping sent after a crew event, answered by its pong,
   * proves (TCP keeps order) that the gadget has every frame up to that event. The payload
   * names the crew and seq, so only this pong confirms them (heartbeat pings carry none).
   */
  askDeliveryProof(crewId: string, seq: number): void {
    if (this.ws.readyState !== this.ws.OPEN || this.closing) return;
    this.ws.ping(Buffer.from(`${DELIVERY_PROOF}${crewId}\n${seq}`));
  }

  fail(code: ErrorCode, sentence: string = ERROR_CODES[code], clientMsgId?: string, extra: { ref_type?: string; retry_after_ms?: number } = {}): void {
    this.metrics.errors.inc({ code });
    this.send(errorFrame(code, sentence, { ...(clientMsgId ? { client_msg_id: clientMsgId } : {}), ...extra }));
  }

  ack(clientMsgId: string | undefined, seq?: number, duplicate = false): void {
    if (!clientMsgId) return;
    this.send({ type: 'ack', client_msg_id: clientMsgId, ...(seq !== undefined ? { seq } : {}), ...(duplicate ? { duplicate } : {}) });
  }

  close(code: number, reason: string): void {
    this.closing = true;
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }
}

/**
 * This process's sockets by device and by crew. Presence spans relay processes: a device is
 * online when a socket of it is open here or on another process (the bus knows which).
 */
export class SessionRegistry {
  readonly all = new Set<Session>();
  private readonly byDevice = new Map<string, Session>();
  private readonly byCrew = new Map<string, Set<Session>>();

  constructor(private readonly presence: Pick<RelayBus, 'deviceOnline' | 'deviceOffline' | 'onlineElsewhere'> = new LocalBus()) {}

  add(session: Session): void {
    this.all.add(session);
  }

  /** Makes this the device's session; returns the one it replaces, if any. */
  bindDevice(session: Session, deviceId: string): Session | null {
    const previous = this.byDevice.get(deviceId);
    this.byDevice.set(deviceId, session);
    this.presence.deviceOnline(deviceId);
    return previous && previous !== session ? previous : null;
  }

  deviceSession(deviceId: string): Session | undefined {
    return this.byDevice.get(deviceId);
  }

  /** Whether this session is still the one its device is reachable on. */
  isCurrent(session: Session): boolean {
    return session.deviceId !== null && this.byDevice.get(session.deviceId) === session;
  }

  isOnline(deviceId: string): boolean {
    const session = this.byDevice.get(deviceId);
    return (session !== undefined && !session.closing) || this.presence.onlineElsewhere(deviceId);
  }

  /**
   * The device's current socket here closed (remove() first): true when the device is now
   * offline, false when it is online on another relay process.
   */
  wentOffline(deviceId: string): Promise<boolean> {
    return this.presence.deviceOffline(deviceId);
  }

  attach(session: Session, crewId: string): void {
    let set = this.byCrew.get(crewId);
    if (!set) this.byCrew.set(crewId, (set = new Set()));
    set.add(session);
  }

  detach(session: Session, crewId: string): void {
    const set = this.byCrew.get(crewId);
    if (!set) return;
    set.delete(session);
    if (set.size === 0) this.byCrew.delete(crewId);
  }

  crewSessions(crewId: string): ReadonlySet<Session> {
    return this.byCrew.get(crewId) ?? new Set();
  }

  remove(session: Session): void {
    this.all.delete(session);
    if (session.crew) this.detach(session, session.crew.crewId);
    if (this.isCurrent(session)) this.byDevice.delete(session.deviceId!);
  }

  get deviceCount(): number {
    return this.byDevice.size;
  }

  /** Identified gadgets on open connections: first/second generation (legacy) and current. */
  gadgetsOnline(): { legacy: number; current: number } {
    let legacy = 0;
    let current = 0;
    for (const session of this.all) {
      if (!session.deviceId || session.closing) continue;
      if (session.generation < 3) legacy += 1;
      else current += 1;
    }
    return { legacy, current };
  }
}
