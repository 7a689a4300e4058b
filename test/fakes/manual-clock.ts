import type { Clock, TimerHandle } from '../../device/clock.js';

interface Pending {
  readonly id: number;
  readonly at: number;
  readonly delay: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when the test says so. Timers fire in time order inside
 * advance(); `pending()` shows what is scheduled (e.g. the next reconnect delay).
 */
export class ManualClock implements Clock {
  private time: number;
  private nextId = 1;
  private readonly timers = new Map<number, Pending>();

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.time + ms, delay: ms, callback });
    return id as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | null): void {
    if (handle !== null) this.timers.delete(handle as unknown as number);
  }

  /** Delays of the timers still scheduled, in the order they were set. */
  pending(): number[] {
    return [...this.timers.values()].sort((a, b) => a.id - b.id).map((t) => t.delay);
  }

  /** Moves time forward, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers.values()].filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers.delete(due.id);
      this.time = due.at;
      due.callback();
    }
    this.time = end;
  }
}
