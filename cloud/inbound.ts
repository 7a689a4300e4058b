import type { RawData } from 'ws';
import { ProtocolError, STATE_CHANGING, parseInbound, type InboundMessage, type InboundOf, type InboundType } from '../protocol/index.js';
import type { RelayConfig } from './config.js';
import type { Acknowledgement } from './feature.js';
import type { Logger } from './log.js';
import type { RelayMetrics } from './metrics.js';
import type { Session } from './sessions.js';
import { storeUnavailable } from './store/store.js';

export type CoreHandler<T extends InboundType> = (session: Session, message: InboundOf<T>) => Promise<Acknowledgement | void>;
export type CoreHandlers = { [T in InboundType]?: CoreHandler<T> };
type AnyHandler = (session: Session, message: InboundMessage) => Promise<Acknowledgement | void>;

/** Types a session may send before it has identified itself. */
const BEFORE_IDENTITY = new Set<InboundType>(['hello', 'register', 'create_crew', 'join_crew', 'ping']);

/**
 * Entering a crew is answered by its own frame (`registered`, `crew_created`, `crew_joined`),
 * acked right after it (the entry's afterAck sends what follows); a retried entry is answered
 * again, not skipped.
 */
const ENTRY = new Set<InboundType>(['register', 'create_crew', 'join_crew']);

/** The seq a device's client_msg_id was stored under, when the relay already handled it (durable). */
export type HandledBefore = (deviceId: string, clientMsgId: string) => Promise<{ seq: number } | null>;
/** A refused frame's `client_msg_id`, found without parsing the whole frame (a flood must stay cheap). */
const CLIENT_MSG_ID = /"client_msg_id"\s*:\s*"([^"\\]{1,128})"/;
const CLIENT_MSG_ID_SCAN = 4096;

/**
 * Crew messages (texts, shares, reactions): what a burst of load is made of. While the relay
 * runs late, a current gadget's are refused (its outbox sends them again after
 * retry_after_ms); an older gadget never sends a refused message again, so its own wait in
 * line; joining, resuming and pings are always handled. Their handler only appends, and the
 * append itself answers a client_msg_id it already stored with its seq: the router reads
 * nothing first.
 */
const CREW_MESSAGES = new Set<InboundType>(['message', 'share_music', 'reaction']);
/** A refused sender waits this long, plus up to OVERLOAD_RETRY_SPREAD_MS, so the senders do not all come back at once. */
const OVERLOAD_RETRY_MS = 500;
const OVERLOAD_RETRY_SPREAD_MS = 1000;

/** Policy-violation close after sustained flooding. */
export const CLOSE_POLICY = 1008;

/**
 * Every frame goes through here: rate limit, binary check, schema, identity, then the
 * handler, one frame at a time per socket. A bad frame gets an `error`; a failing
 * handler gets `internal_error` and a log line; neither touches any other socket.
 * Every message carrying a client_msg_id is acked here, from what its handler returns
 * (then its afterAck runs); a retried state-changing client_msg_id the store already holds
 * is answered `{seq, duplicate: true}` without reaching the handler again (exactly once,
 * across restarts) — a crew message's handler is reached, and its append gives that answer.
 */
export class InboundRouter {
  private readonly handlers = new Map<InboundType, AnyHandler>();
  private readonly config: RelayConfig;
  private readonly metrics: RelayMetrics;
  private readonly log: Logger;

  private readonly beforeDispatch: (session: Session, message: InboundMessage) => void;
  private readonly handledBefore: HandledBefore;
  /** How late the event loop runs now, in ms (cloud/loop-lag.ts). */
  private readonly loopLagMs: () => number;
  /** Sockets closing for flooding: frames still queued are handled, new ones dropped. */
  private readonly flooded = new WeakSet<Session>();

  constructor(deps: {
    config: RelayConfig;
    metrics: RelayMetrics;
    log: Logger;
    handledBefore: HandledBefore;
    beforeDispatch?: (session: Session, message: InboundMessage) => void;
    loopLagMs?: () => number;
  }) {
    this.config = deps.config;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.handledBefore = deps.handledBefore;
    this.beforeDispatch = deps.beforeDispatch ?? (() => undefined);
    this.loopLagMs = deps.loopLagMs ?? (() => 0);
  }

  /** Registers handlers; a type can have only one (a clash is a programming error). */
  use(handlers: CoreHandlers | Partial<Record<InboundType, AnyHandler>>, owner: string): void {
    for (const [type, handler] of Object.entries(handlers) as [InboundType, AnyHandler][]) {
      if (this.handlers.has(type)) throw new Error(`${owner} registers a handler for "${type}", which already has one.`);
      this.handlers.set(type, handler);
    }
  }

  onFrame(session: Session, data: RawData, isBinary: boolean): void {
    if (session.closing || this.flooded.has(session) || !this.withinRate(session, data, isBinary)) return;
    if (isBinary) {
      this.metrics.messagesIn.inc({ type: 'binary' });
      session.fail('binary_frame');
      return;
    }
    const parsed = parseInbound(rawText(data));
    this.metrics.messagesIn.inc({ type: parsed.ok ? parsed.message.type : 'invalid' });
    if (!parsed.ok) {
      const extra = parsed.type ? { ref_type: parsed.type } : {};
      session.fail(parsed.code, parsed.message, parsed.client_msg_id, extra);
      return;
    }
    if (CREW_MESSAGES.has(parsed.message.type) && session.generation === 3 && this.runningLate()) return this.refuseWhileLate(session, parsed.message);
    void session.enqueue(() => this.dispatch(session, parsed.message));
  }

  private withinRate(session: Session, data: RawData, isBinary: boolean): boolean {
    const taken = session.bucket.take();
    if (taken.ok) {
      session.refusedInRow = 0;
      return true;
    }
    session.refusedInRow += 1;
    if (session.refusedInRow >= this.config.rateLimit.closeAfter) {
      this.log.warn({ deviceId: session.deviceId, remote: session.remoteAddress }, 'closing a flooding connection');
      // What was admitted before the flood is still handled (and acked); only then the close.
      this.flooded.add(session);
      void session.enqueue(async () => session.close(CLOSE_POLICY, 'rate limit exceeded'));
      return false;
    }
    // The refused frame is named, so its sender can send that one again after the wait.
    const refused = isBinary ? undefined : CLIENT_MSG_ID.exec(rawText(data).slice(0, CLIENT_MSG_ID_SCAN))?.[1];
    session.fail('rate_limited', `Too many messages; wait ${taken.retryAfterMs} ms before sending again.`, refused, {
      retry_after_ms: taken.retryAfterMs,
    });
    return false;
  }

  private runningLate(): boolean {
    const limit = this.config.overloadLagMs;
    return limit > 0 && this.loopLagMs() > limit;
  }

  /** Not the sender's fault: it does not count towards RATE_LIMIT_CLOSE_AFTER. */
  private refuseWhileLate(session: Session, message: InboundMessage): void {
    const retryAfterMs = OVERLOAD_RETRY_MS + Math.floor(Math.random() * OVERLOAD_RETRY_SPREAD_MS);
    this.metrics.overloadRefusals.inc();
    const clientMsgId = 'client_msg_id' in message ? message.client_msg_id : undefined;
    session.fail('rate_limited', `The relay is busy; send this again in ${retryAfterMs} ms.`, clientMsgId, {
      ref_type: message.type,
      retry_after_ms: retryAfterMs,
    });
  }

  private async dispatch(session: Session, message: InboundMessage): Promise<void> {
    if (session.closing) return;
    const clientMsgId = 'client_msg_id' in message ? message.client_msg_id : undefined;
    try {
      this.beforeDispatch(session, message);
      const handler = this.handlers.get(message.type);
      if (!handler) throw new ProtocolError('unknown_type', `This relay does not handle "${message.type}" messages.`);
      if (!session.identified && !BEFORE_IDENTITY.has(message.type)) {
        throw new ProtocolError('not_registered', `Say hello (or register) before sending "${message.type}".`);
      }
      const deduplicated = clientMsgId !== undefined && STATE_CHANGING.has(message.type) && !ENTRY.has(message.type) && !CREW_MESSAGES.has(message.type);
      const before = deduplicated && session.deviceId ? await this.handledBefore(session.deviceId, clientMsgId) : null;
      if (before) {
        session.ack(clientMsgId, before.seq, true);
        return;
      }
      const result = await handler(session, message);
      if (!result) return;
      if (!result.later) {
        session.ack(clientMsgId, result.seq, result.duplicate ?? false);
        await result.afterAck?.();
        return;
      }
      // Still to be stored or announced: ack it then, and take the socket's next frame now (it counts as waiting meanwhile).
      session.holdUntil(
        result.later.then(
          (done) => session.ack(clientMsgId, done.seq, done.duplicate ?? false),
          (error: unknown) => this.answerFailure(session, message, clientMsgId, error),
        ),
      );
    } catch (error) {
      this.answerFailure(session, message, clientMsgId, error);
    }
  }

  /** A handler's refusal goes back with its code; anything else is logged and answered `unavailable` or `internal_error`. */
  private answerFailure(session: Session, message: InboundMessage, clientMsgId: string | undefined, error: unknown): void {
    if (error instanceof ProtocolError) {
      const retry = error.retryAfterMs !== undefined ? { retry_after_ms: error.retryAfterMs } : {};
      session.fail(error.code, error.message, clientMsgId, { ref_type: message.type, ...retry });
      return;
    }
    const unavailable = storeUnavailable(error);
    this.log.error({ err: error, type: message.type, deviceId: session.deviceId }, 'message handler failed');
    if (unavailable) session.fail('unavailable', unavailable.message, clientMsgId, { ref_type: message.type });
    else session.fail('internal_error', undefined, clientMsgId, { ref_type: message.type });
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
