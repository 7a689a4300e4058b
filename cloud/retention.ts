import { Interval } from './interval.js';
import type { Logger } from './log.js';
import type { EventLog } from './store/store.js';

/** How often crew events past retention are pruned. */
export const RETENTION_SWEEP_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * Crew events older than EVENT_RETENTION_DAYS are pruned when the relay starts and then every
 * RETENTION_SWEEP_MS (0 days: kept for ever, no timer). A failed first prune fails the start; a
 * failed later one is logged and tried again at the next sweep.
 */
export class Retention {
  private readonly events: Pick<EventLog, 'pruneEventsBefore'>;
  private readonly log: Logger;
  private readonly days: number;
  private readonly now: () => number;
  private readonly sweeps: Interval;

  constructor(deps: { events: Pick<EventLog, 'pruneEventsBefore'>; log: Logger; retentionDays: number; now?: () => number }) {
    this.events = deps.events;
    this.log = deps.log;
    this.days = deps.retentionDays;
    this.now = deps.now ?? Date.now;
    this.sweeps = new Interval(RETENTION_SWEEP_MS, () => void this.sweep(), { unref: true });
  }

  async start(): Promise<void> {
    if (this.days <= 0) return;
    await this.prune();
    this.sweeps.start();
  }

  stop(): void {
    this.sweeps.stop();
  }

  private async sweep(): Promise<void> {
    try {
      await this.prune();
    } catch (error) {
      this.log.error({ err: error }, 'retention sweep failed');
    }
  }

  private async prune(): Promise<void> {
    const removed = await this.events.pruneEventsBefore(this.now() - this.days * DAY_MS);
    if (removed > 0) this.log.info({ removed }, 'pruned crew events past retention');
  }
}
