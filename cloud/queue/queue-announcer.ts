import type { QueueChange } from '../../protocol/queue.js';
import type { PublishFrom } from '../feature.js';
import type { QueueState } from './crew-queue.js';

/** Publishes one queue_state carrying `state`; resolves with its seq once stored. */
export type PublishQueueState = (crewId: string, state: QueueState, change: QueueChange, from?: PublishFrom) => Promise<number>;

interface Waiter {
  readonly from?: { readonly deviceId: string; readonly clientMsgId?: string };
  resolve(seq: number): void;
  reject(error: unknown): void;
}

/** Changes waiting for the crew's next queue_state: the newest state and everyone waiting for it. */
interface Batch {
  state: QueueState;
  change: QueueChange;
  readonly waiters: Waiter[];
  timer: NodeJS.Timeout | null;
}

interface CrewAnnouncements {
  /** When the crew's last queue_state was published (its interval runs from there). */
  lastAt: number;
  batch: Batch | null;
}

/**
 * queue_state fan-out, coalesced: at most one per crew per interval. The first change after a
 * quiet interval goes out at once; changes within the interval wait for one queue_state at its
 * end carrying the newest state. Every change's promise resolves with the seq of the event that
 * carried it, and every client_msg_id in the batch is recorded under that seq (exactly once).
 */
export class QueueAnnouncer {
  private readonly crews = new Map<string, CrewAnnouncements>();
  private readonly publish: PublishQueueState;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(deps: { publish: PublishQueueState; intervalMs: number; now: () => number }) {
    this.publish = deps.publish;
    this.intervalMs = deps.intervalMs;
    this.now = deps.now;
  }

  /** Resolves with the seq of the queue_state that carries `state` (or a newer one). Call in version order per crew. */
  announce(crewId: string, state: QueueState, change: QueueChange, from?: Waiter['from']): Promise<number> {
    if (this.intervalMs === 0) return this.publish(crewId, state, change, from);
    let crew = this.crews.get(crewId);
    if (!crew) this.crews.set(crewId, (crew = { lastAt: -Infinity, batch: null }));
    const promise = new Promise<number>((resolve, reject) => {
      if (!crew.batch) crew.batch = { state, change, waiters: [], timer: null };
      crew.batch.state = state;
      crew.batch.change = change;
      crew.batch.waiters.push({ from, resolve, reject });
    });
    const batch = crew.batch!;
    if (!batch.timer) {
      const wait = crew.lastAt + this.intervalMs - this.now();
      if (wait <= 0) this.flush(crewId, crew);
      else batch.timer = setTimeout(() => this.flush(crewId, crew), wait);
    }
    return promise;
  }

  /** Publishes every waiting batch now (the relay is stopping). */
  async stop(): Promise<void> {
    const waiting: Promise<unknown>[] = [];
    for (const [crewId, crew] of this.crews) {
      if (!crew.batch) continue;
      if (crew.batch.timer) clearTimeout(crew.batch.timer);
      waiting.push(this.flush(crewId, crew));
    }
    await Promise.allSettled(waiting);
  }

  private async flush(crewId: string, crew: CrewAnnouncements): Promise<void> {
    const batch = crew.batch!;
    crew.batch = null;
    crew.lastAt = this.now();
    this.forgetLater(crewId, crew);
    try {
      const seq = await this.publish(crewId, batch.state, batch.change, publishFrom(batch.waiters));
      for (const waiter of batch.waiters) waiter.resolve(seq);
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error);
    }
  }

  /** A crew quiet for a whole interval needs no entry: its next change goes out at once. */
  private forgetLater(crewId: string, crew: CrewAnnouncements): void {
    const timer = setTimeout(() => {
      if (this.crews.get(crewId) === crew && !crew.batch && this.now() - crew.lastAt >= this.intervalMs) this.crews.delete(crewId);
    }, this.intervalMs);
    timer.unref();
  }
}

/** The batch's last device-caused change is the event's sender; the other commands are answered by it too. */
function publishFrom(waiters: readonly Waiter[]): PublishFrom | undefined {
  const caused = waiters.filter((w) => w.from).map((w) => w.from!);
  const last = caused.at(-1);
  if (!last) return undefined;
  const alsoAnswers = caused.slice(0, -1).flatMap((f) => (f.clientMsgId ? [{ deviceId: f.deviceId, clientMsgId: f.clientMsgId }] : []));
  return alsoAnswers.length > 0 ? { ...last, alsoAnswers } : last;
}
