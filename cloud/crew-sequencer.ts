import type { CrewEvent } from '../protocol/index.js';
import type { Logger } from './log.js';
import type { EventLog } from './store/store.js';

/** A crew with no socket here and no event for this long is forgotten. */
const IDLE_FORGET_MS = 5 * 60_000;
const FILL_PAGE = 500;

interface Waiting {
  readonly event: CrewEvent;
  readonly senderDeviceId: string | null;
}

interface Track {
  /** The next seq to deliver; null until the log's position is known. */
  expected: number | null;
  readonly waiting: Map<number, Waiting>;
  /** The log read of a gap, due once what already arrived has been offered. */
  gapRead: NodeJS.Immediate | null;
  filling: boolean;
  touchedAt: number;
}

/**
 * Puts one crew's live events in seq order when several relay processes commit them: this
 * process's own commits come as they are stored, the others' over the bus, so seq 8 may arrive
 * before 7. Each crew delivers its next seq only. Every event offered here is stored, and with it
 * every lower seq (a seq is taken in the script that stores it), so a gap is read from the log
 * at once: after the current turn of the event loop, which hands over what already arrived, not
 * after a wait for the bus (a wait of 15 ms did that; on two processes under load 2–11 % of the
 * events met a gap, and a gap's wait went into the p99). Each seq is delivered at most once here;
 * the sockets' own delivery state keeps it at most once per socket.
 */
export class CrewSequencer {
  private readonly crews = new Map<string, Track>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly deps: {
      readonly log: Pick<EventLog, 'readEvents' | 'position'>;
      readonly deliver: (crewId: string, event: CrewEvent, senderDeviceId: string | null) => void;
      /** Whether a socket of this process is attached to the crew (a crew without one is forgotten when idle). */
      readonly hasSessions: (crewId: string) => boolean;
      readonly logger: Logger;
      readonly now?: () => number;
    },
  ) {
    this.sweep = setInterval(() => this.forgetIdle(), IDLE_FORGET_MS / 5);
    this.sweep.unref();
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /**
   * A socket of this process joined the crew: its own replay from the log covers everything up
   * to now, so live delivery starts after the log's latest seq (read here).
   */
  track(crewId: string): void {
    if (this.crews.has(crewId)) return;
    const track = this.newTrack(null);
    this.crews.set(crewId, track);
    this.deps.log.position(crewId).then(
      (position) => {
        if (track.expected !== null) return;
        const latest = position?.latestSeq ?? 0;
        for (const seq of track.waiting.keys()) if (seq <= latest) track.waiting.delete(seq);
        track.expected = latest + 1;
        this.drain(crewId, track);
      },
      (error: unknown) => {
        this.deps.logger.warn({ err: error, crewId }, 'reading a crew log position failed; starting from the next event');
        this.crews.delete(crewId);
      },
    );
  }

  /** A committed event, from this process or another: delivered in seq order. */
  offer(crewId: string, event: CrewEvent, senderDeviceId: string | null): void {
    const seq = event.seq;
    if (seq === undefined) return;
    let track = this.crews.get(crewId);
    if (!track) {
      // Nobody here was waiting for this crew: start at this event.
      track = this.newTrack(seq);
      this.crews.set(crewId, track);
    }
    track.touchedAt = this.now();
    if (track.expected !== null && seq < track.expected) return;
    track.waiting.set(seq, { event, senderDeviceId });
    this.drain(crewId, track);
  }

  /** The bus dropped and is back: each crew reads what it may have missed from the log. */
  catchUp(): void {
    for (const [crewId, track] of this.crews) {
      if (track.expected === null) continue;
      void this.fill(crewId, track, Number.MAX_SAFE_INTEGER);
    }
  }

  close(): void {
    clearInterval(this.sweep);
    for (const track of this.crews.values()) if (track.gapRead) clearImmediate(track.gapRead);
    this.crews.clear();
  }

  private newTrack(expected: number | null): Track {
    return { expected, waiting: new Map(), gapRead: null, filling: false, touchedAt: this.now() };
  }

  private drain(crewId: string, track: Track): void {
    if (track.expected === null) return;
    for (let next = track.waiting.get(track.expected); next; next = track.waiting.get(track.expected)) {
      track.waiting.delete(track.expected);
      track.expected += 1;
      this.deps.deliver(crewId, next.event, next.senderDeviceId);
    }
    if (track.waiting.size === 0) {
      if (track.gapRead) clearImmediate(track.gapRead);
      track.gapRead = null;
      return;
    }
    if (track.gapRead || track.filling) return;
    track.gapRead = setImmediate(() => {
      track.gapRead = null;
      void this.fill(crewId, track, Math.min(...track.waiting.keys()) - 1);
    });
    track.gapRead.unref();
  }

  /** Reads expected..toSeq from the log into the waiting events and delivers what is in order. */
  private async fill(crewId: string, track: Track, toSeq: number): Promise<void> {
    if (track.filling || track.expected === null) return;
    track.filling = true;
    try {
      for (;;) {
        const page = await this.deps.log.readEvents(crewId, track.expected - 1, { toSeq, limit: FILL_PAGE });
        for (const stored of page) {
          if (stored.seq >= track.expected && !track.waiting.has(stored.seq)) track.waiting.set(stored.seq, { event: stored.event, senderDeviceId: null });
        }
        // What the log no longer has (pruned) cannot be delivered live: go on from the next there is.
        if (!track.waiting.has(track.expected) && page.length < FILL_PAGE && track.waiting.size > 0) track.expected = Math.min(...track.waiting.keys());
        this.drain(crewId, track);
        if (page.length < FILL_PAGE || track.expected > toSeq) break;
      }
    } catch (error) {
      this.deps.logger.warn({ err: error, crewId }, 'reading missed crew events from the log failed; trying again with the next event');
    } finally {
      track.filling = false;
    }
    this.drain(crewId, track);
  }

  private forgetIdle(): void {
    const cutoff = this.now() - IDLE_FORGET_MS;
    for (const [crewId, track] of this.crews) {
      if (track.touchedAt < cutoff && track.waiting.size === 0 && !this.deps.hasSessions(crewId)) this.crews.delete(crewId);
    }
  }
}
