import { Interval } from './interval.js';
import type { Session, SessionRegistry } from './sessions.js';

/**
 * One interval for every socket (no timer per socket): each beat pings every socket, and one
 * that did not answer the previous ping with a pong is terminated. The relay starts it once it
 * listens and tells it of each pong (`answered`).
 */
export class Heartbeat {
  private readonly registry: SessionRegistry;
  private readonly beats: Interval;
  /** Sockets pinged and not answered since. */
  private readonly unanswered = new WeakSet<Session>();

  constructor(deps: { registry: SessionRegistry; intervalMs: number }) {
    this.registry = deps.registry;
    this.beats = new Interval(deps.intervalMs, () => this.beat());
  }

  start(): void {
    this.beats.start();
  }

  stop(): void {
    this.beats.stop();
  }

  /** The socket's pong came (any pong: a delivery proof answers as well as a heartbeat ping). */
  answered(session: Session): void {
    this.unanswered.delete(session);
  }

  private beat(): void {
    for (const session of this.registry.all) {
      if (this.unanswered.has(session)) {
        session.ws.terminate();
        continue;
      }
      this.unanswered.add(session);
      session.ws.ping();
    }
  }
}
