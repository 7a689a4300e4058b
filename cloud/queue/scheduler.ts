import type { Logger } from '../log.js';

/**
 * One timer for every crew's clock: it is armed for the earliest due time and, when it
 * fires, runs the crews that are due one after another. Crews are ticked by crew id so
 * a slow crew (a history query for throwback) never runs twice at once.
 */
export class QueueScheduler {
  // Never sleep longer than this, so a wall-clock jump is noticed within a minute.
  private static readonly MAX_SLEEP_MS = 60_000;
  private readonly due = new Map<string, number>();
  private readonly tick: (crewId: string) => Promise<void>;
  private readonly now: () => number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = true;

  constructor(tick: (crewId: string) => Promise<void>, now: () => number, log: Logger) {
    this.tick = tick;
    this.now = now;
    this.log = log;
  }

  start(): void {
    this.stopped = false;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Sets (or with null, clears) when a crew must next be ticked. */
  set(crewId: string, dueAt: number | null): void {
    if (dueAt === null) this.due.delete(crewId);
    else this.due.set(crewId, dueAt);
    if (!this.running) this.arm();
  }

  dueAt(crewId: string): number | null {
    return this.due.get(crewId) ?? null;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped || this.due.size === 0) return;
    const earliest = Math.min(...this.due.values());
    const wait = Math.min(Math.max(earliest - this.now(), 0), QueueScheduler.MAX_SLEEP_MS);
    this.timer = setTimeout(() => void this.run(), wait);
    this.timer.unref?.();
  }

  private async run(): Promise<void> {
    this.timer = null;
    this.running = true;
    try {
      for (;;) {
        const now = this.now();
        const ready = [...this.due].filter(([, at]) => at <= now).map(([crewId]) => crewId);
        if (ready.length === 0 || this.stopped) break;
        for (const crewId of ready) {
          this.due.delete(crewId);
          await this.tick(crewId).catch((error: unknown) => {
            this.log.error({ err: error, crewId }, 'queue clock tick failed; retrying in 5 s');
            if (!this.due.has(crewId)) this.due.set(crewId, this.now() + 5_000);
          });
        }
      }
    } finally {
      this.running = false;
      this.arm();
    }
  }
}
