/** How often the lag is taken (a timer; between its firings an overdue one counts too). */
const CHECK_EVERY_MS = 20;

/**
 * How late the relay's event loop runs: a timer due every CHECK_EVERY_MS notes how late it
 * fired. A loop stuck in one long turn cannot fire it, so until it does, the time it is overdue
 * is the lag. Under more load than the relay can carry, the lag grows with the backlog in its
 * sockets; the inbound router refuses crew messages while it is past OVERLOAD_LAG_MS, so
 * senders try again later instead of every message waiting seconds.
 */
export class LoopLag {
  private timer: NodeJS.Timeout | null = null;
  private dueAt = 0;
  private lastMs = 0;

  start(): void {
    if (this.timer) return;
    this.dueAt = performance.now() + CHECK_EVERY_MS;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.lastMs = Math.max(0, now - this.dueAt);
      this.dueAt = now + CHECK_EVERY_MS;
    }, CHECK_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.lastMs = 0;
  }

  /** Milliseconds the loop runs late now (0 when not started). */
  ms(): number {
    if (!this.timer) return 0;
    return Math.max(this.lastMs, performance.now() - this.dueAt);
  }
}
