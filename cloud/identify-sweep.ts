import { CLOSE_POLICY } from './inbound.js';
import { Interval } from './interval.js';
import type { SessionRegistry } from './sessions.js';

/** Never sweep more often than this, however short the identify timeout. */
const MIN_SWEEP_MS = 50;

/**
 * One sweep for every socket (no timer per socket): a socket still anonymous (no `hello` or
 * `register`) `timeoutMs` after it opened is closed with 1008. It sweeps every quarter of the
 * timeout, so a socket is closed at most a quarter late, and at least once a heartbeat.
 */
export class IdentifySweep {
  private readonly registry: SessionRegistry;
  private readonly timeoutMs: number;
  private readonly sweeps: Interval;

  constructor(deps: { registry: SessionRegistry; timeoutMs: number; heartbeatIntervalMs: number }) {
    this.registry = deps.registry;
    this.timeoutMs = deps.timeoutMs;
    this.sweeps = new Interval(Math.max(MIN_SWEEP_MS, Math.min(deps.heartbeatIntervalMs, deps.timeoutMs / 4)), () => this.sweep());
  }

  start(): void {
    this.sweeps.start();
  }

  stop(): void {
    this.sweeps.stop();
  }

  private sweep(): void {
    const before = Date.now() - this.timeoutMs;
    for (const session of this.registry.all) {
      if (!session.identified && !session.closing && session.openedAt <= before) session.close(CLOSE_POLICY, 'identify within the first seconds');
    }
  }
}
