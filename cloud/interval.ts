/**
 * A repeating timer with the parts' lifecycle: nothing runs until start(); stop() clears it, and
 * start() again restarts it. `unref`: it does not keep the process alive by itself.
 */
export class Interval {
  private readonly everyMs: number;
  private readonly tick: () => void;
  private readonly unref: boolean;
  private timer: NodeJS.Timeout | undefined;

  constructor(everyMs: number, tick: () => void, options: { unref?: boolean } = {}) {
    this.everyMs = everyMs;
    this.tick = tick;
    this.unref = options.unref ?? false;
  }

  start(): void {
    this.stop();
    this.timer = setInterval(this.tick, this.everyMs);
    if (this.unref) this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
