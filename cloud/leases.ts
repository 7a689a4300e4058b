import type { Logger } from './log.js';

/**
 * Leases for the work that must run in one relay process at a time (the queue clock, the history
 * collection, retention), whichever and however many processes share the store. A lease is held
 * until its TTL runs out unless renewed; every grant carries a fencing token, a number that grows
 * each time the lease is granted, so a write can tell a paused former holder from the current one.
 * One process on the embedded store: LocalLeases. Several on Redis: RedisLeases
 * (cloud/store/redis/redis-leases.ts). Callers use LeasedWork, not this port.
 */
export interface Leases {
  /** Whether other processes may take the same leases: grants then expire and must be renewed. */
  readonly shared: boolean;
  /** Takes the lease when nobody else holds it (a lease this owner holds is granted again): its new token, or null. */
  acquire(name: string, ttlMs: number): Promise<number | null>;
  /** Extends the grant with this token to ttlMs from now; false when it is no longer this owner's (expired, taken, released). */
  renew(name: string, token: number, ttlMs: number): Promise<boolean>;
  /** Gives the grant up, so that another process can take it at once; a grant that is no longer this one's is left alone. */
  release(name: string, token: number): Promise<void>;
}

/** Names are part of a store key: lower-case letters, digits and dashes. */
const LEASE_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** Refuses a lease name or TTL that cannot be right, with a sentence saying what is allowed. */
export function checkLease(name: string, ttlMs: number): void {
  if (!LEASE_NAME.test(name)) throw new Error(`A lease name is 1–64 lower-case letters, digits and dashes, starting with a letter; "${name}" is not.`);
  if (!Number.isInteger(ttlMs) || ttlMs < 100) throw new Error(`A lease TTL is a whole number of milliseconds, at least 100; ${ttlMs} is not.`);
}

/**
 * One relay process on the embedded store: nobody else can hold a lease, so every acquire is
 * granted, with a token from a counter, and a grant lasts until it is released or granted again.
 */
export class LocalLeases implements Leases {
  readonly shared = false;
  private readonly held = new Map<string, number>();
  private counter = 0;

  async acquire(name: string, ttlMs: number): Promise<number> {
    checkLease(name, ttlMs);
    this.counter += 1;
    this.held.set(name, this.counter);
    return this.counter;
  }

  async renew(name: string, token: number, ttlMs: number): Promise<boolean> {
    checkLease(name, ttlMs);
    return this.held.get(name) === token;
  }

  async release(name: string, token: number): Promise<void> {
    if (this.held.get(name) === token) this.held.delete(name);
  }
}

/** The work a lease guards: started with the grant's token when the lease is gained, stopped when it is lost. */
export interface LeaseWork {
  start(token: number): Promise<void>;
  stop(): Promise<void>;
}

export interface LeaseTimings {
  /** How long a grant lasts without renewal: a dead holder's work moves after at most this plus retryMs. */
  readonly ttlMs?: number;
  /** How often a process that does not hold the lease tries to take it. */
  readonly retryMs?: number;
}

/** A holder killed with SIGKILL is replaced within TTL + retry: 6 s. */
export const LEASE_TTL_MS = 5_000;
export const LEASE_RETRY_MS = 1_000;

/**
 * Runs a piece of work in whichever process holds its lease. It tries to take the lease every
 * retryMs, renews it every ttl/3 while held (a renewal that failed or went unanswered for ttl/5,
 * again after the shorter of retryMs and ttl/5), starts the work with the grant's token when gained
 * and stops it when lost. A renewal that finds the lease someone else's stops the work at once;
 * a holder that cannot reach the store stops the work when no renewal has succeeded for
 * ttl − margin on its own monotonic clock, before the grant can expire and be taken elsewhere.
 * (A process paused longer than that — a stop-the-world pause, SIGSTOP — may still write after
 * waking: the fencing token, or a compare-and-set like the queue's, is what refuses those writes.)
 *
 * On leases that are not shared (LocalLeases) the work starts in start(), once, and no timer runs:
 * the relay behaves as it did before leases.
 */
export class LeasedWork {
  private readonly leases: Leases;
  private readonly name: string;
  private readonly work: LeaseWork;
  private readonly log: Logger;
  private readonly ttlMs: number;
  private readonly retryMs: number;
  private readonly marginMs: number;
  /** How long a take or renewal may go unanswered before it counts as failed. */
  private readonly askMs: number;
  private renewFailed = false;
  /** The grant this process holds, with the monotonic instant before its last successful take or renewal. */
  private held: { readonly token: number; renewedAt: number } | null = null;
  /** Work starts and stops, one after another in order. */
  private changes: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private deadline: NodeJS.Timeout | null = null;
  private running = false;

  /** `leases` none: one process on its own (LocalLeases). */
  constructor(deps: { leases?: Leases; name: string; work: LeaseWork; log: Logger; timings?: LeaseTimings }) {
    this.leases = deps.leases ?? new LocalLeases();
    this.name = deps.name;
    this.work = deps.work;
    this.log = deps.log;
    this.ttlMs = deps.timings?.ttlMs ?? LEASE_TTL_MS;
    this.retryMs = deps.timings?.retryMs ?? LEASE_RETRY_MS;
    checkLease(this.name, this.ttlMs);
    if (!Number.isInteger(this.retryMs) || this.retryMs < 10)
      throw new Error(`A lease retry interval is a whole number of milliseconds, at least 10; ${this.retryMs} is not.`);
    // Room for the store's clock and the renewal's round trip: a fifth of the TTL, at most a second.
    this.marginMs = Math.min(this.ttlMs / 5, 1_000);
    this.askMs = Math.floor(this.ttlMs / 5);
  }

  /** Whether other processes may hold this lease (RedisLeases), so that its work may run elsewhere. */
  get shared(): boolean {
    return this.leases.shared;
  }

  /** The token of the grant this process holds, or null when it does not hold the lease. */
  get token(): number | null {
    return this.held?.token ?? null;
  }

  /**
   * Tries to take the lease once and, when granted, awaits the work's start: a work that fails to
   * start gives the lease back and fails this start (its caller retries as it would the work).
   * Not granted, or the store unreachable: it keeps trying every retryMs.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const taken = await this.take();
    // Renewals run while the work starts: a slow start (a long first prune) does not let the grant expire.
    if (this.leases.shared) this.arm();
    const failed = await taken?.started;
    if (failed) {
      this.running = false;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      throw failed.error;
    }
  }

  /**
   * Stops trying, stops the work if it runs here and releases the lease for the other processes.
   * A take or renewal still on its way is not waited for (on a silent link it never answers): a
   * grant it brings back is released, a renewal is ignored. The release itself is waited for at
   * most the margin; unanswered, the lease expires.
   */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const held = this.held;
    await this.lose();
    if (held) await this.giveBack(held.token);
  }

  /** The next take or renewal; one loop at a time (a step still on its way re-arms only if nothing else did). */
  private arm(): void {
    if (!this.running || this.timer) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        void (this.held ? this.renew() : this.take()).finally(() => this.arm());
      },
      // A renewal that failed is tried again sooner, so that one lost answer does not cost the lease.
      this.held ? (this.renewFailed ? Math.min(this.retryMs, this.askMs) : Math.floor(this.ttlMs / 3)) : this.retryMs,
    );
    this.timer.unref();
  }

  /**
   * One attempt at the lease. Granted: the work starts, and `started` resolves once it has, with
   * its error when it did not start (the lease is then given back).
   */
  private async take(): Promise<{ started: Promise<{ error: unknown } | undefined> } | undefined> {
    const askedAt = performance.now();
    let token: number | null;
    try {
      token = await this.answered(this.leases.acquire(this.name, this.ttlMs));
    } catch (error) {
      this.log.warn({ err: error, lease: this.name }, 'could not ask for a lease; trying again');
      return undefined;
    }
    if (token === null || !this.running) {
      if (token !== null) await this.giveBack(token);
      return undefined;
    }
    this.held = { token, renewedAt: askedAt };
    this.watchDeadline();
    this.log.info({ lease: this.name, token }, 'gained a lease; its work runs in this process');
    return { started: this.startWork(token) };
  }

  private async startWork(token: number): Promise<{ error: unknown } | undefined> {
    let failed: { error: unknown } | undefined;
    await this.change(() => this.work.start(token)).catch((error: unknown) => (failed = { error }));
    if (!failed) return undefined;
    this.log.error({ err: failed.error, lease: this.name }, 'the work of a lease failed to start; the lease is given back');
    // Nothing started, so nothing is stopped (a loss meanwhile has already queued the work's stop).
    if (this.held?.token === token) this.forget();
    await this.giveBack(token);
    return failed;
  }

  private async renew(): Promise<void> {
    const held = this.held;
    if (!held) return;
    const askedAt = performance.now();
    let renewed: boolean;
    try {
      renewed = await this.answered(this.leases.renew(this.name, held.token, this.ttlMs));
    } catch (error) {
      // Not lost yet: the deadline stops the work if this goes on.
      this.log.warn({ err: error, lease: this.name }, 'could not renew a lease; trying again');
      this.renewFailed = true;
      return;
    }
    this.renewFailed = false;
    if (this.held !== held) return;
    if (!renewed) {
      this.log.warn({ lease: this.name, token: held.token }, 'a lease was lost to another process; its work stops here');
      await this.lose();
      return;
    }
    held.renewedAt = askedAt;
    this.watchDeadline();
  }

  /** Stops the work when the grant may have expired in the store: ttl − margin after the last success began. */
  private watchDeadline(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
    const held = this.held;
    if (!held || !this.leases.shared) return;
    const wait = held.renewedAt + this.ttlMs - this.marginMs - performance.now();
    this.deadline = setTimeout(
      () => {
        if (this.held !== held) return;
        this.log.warn({ lease: this.name, token: held.token }, 'a lease could not be renewed in time; its work stops here');
        void this.lose();
      },
      Math.max(wait, 0),
    );
    this.deadline.unref();
  }

  /** This process no longer holds the lease: the work stops (after its start, if that is still running). */
  private async lose(): Promise<void> {
    if (!this.held) return this.changes;
    this.forget();
    await this.change(() => this.work.stop()).catch((error: unknown) => this.log.error({ err: error, lease: this.name }, 'the work of a lease failed to stop'));
  }

  private async giveBack(token: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const unanswered = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.marginMs)));
    const released = this.leases
      .release(this.name, token)
      .catch((error: unknown) => this.log.warn({ err: error, lease: this.name }, 'could not release a lease; it expires'));
    await Promise.race([released, unanswered]);
    clearTimeout(timer);
  }

  /**
   * A take or renewal unanswered for a fifth of the TTL counts as failed, so that a silent link
   * does not stall the loop and a renewal can still be tried again before the deadline. A take that was granted all the same only holds the lease for its
   * TTL: the next take by this owner is granted it again, with a new token.
   */
  private async answered<T>(asked: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const unanswered = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the store did not answer about the lease within ${this.askMs} ms`)), this.askMs);
    });
    try {
      return await Promise.race([asked, unanswered]);
    } finally {
      clearTimeout(timer);
    }
  }

  private forget(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
    this.held = null;
    this.renewFailed = false;
  }

  private change(run: () => Promise<void>): Promise<void> {
    const next = this.changes.then(run);
    this.changes = next.catch(() => undefined);
    return next;
  }
}
