import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { SqliteDatabase } from './sqlite.js';

/**
 * WAL checkpoints of a long run of writes (a history import), done by a worker thread on
 * its own connection. SQLite checkpoints in the committing connection by default: copying
 * the WAL's pages into the database and fsyncing both stalled the event loop for up to
 * 130 ms at 3M imported plays (scripts/bench-import.ts). While a run holds the
 * checkpointer, the store's connection leaves checkpoints to the worker, and the run asks
 * for one every CHECKPOINT_EVERY_MS, waiting (the event loop free) until it is done: with
 * the run's writes paused, the next write starts the WAL over, so it stays small.
 */
export interface Checkpoints {
  /** Until as many release() calls: the store's own commits no longer checkpoint. */
  hold(): void;
  release(): void;
  /** Checkpoints in the worker if the last one is CHECKPOINT_EVERY_MS old; resolves when done. */
  due(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An import's commit writes up to 1,700 WAL pages per 2,000-play slice: checkpointed every
 * 50 ms the WAL stays under 10 MB (30 MB at 200 ms), for no longer import.
 */
const CHECKPOINT_EVERY_MS = 50;

// Plain JavaScript: the worker runs it as it is, under whatever loader runs the relay.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
parentPort.on('message', (id) => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ id });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message) });
  }
});
`;

/** For a store without a file (`:memory:` has no WAL): holding changes nothing. */
export const NO_CHECKPOINTS: Checkpoints = { hold() {}, release() {}, async due() {}, async close() {} };

export class WorkerCheckpoints implements Checkpoints {
  private worker: Worker | null = null;
  /** Set when the worker could not run: the store's connection checkpoints itself again. */
  private failed = false;
  private holders = 0;
  private ownPages = 0;
  private lastAt = 0;
  private nextId = 0;
  private readonly waiting = new Map<number, () => void>();

  constructor(
    private readonly db: SqliteDatabase,
    private readonly file: string,
  ) {}

  hold(): void {
    if (this.failed || this.holders++ > 0) return;
    this.ownPages = this.db.pragma('wal_autocheckpoint', { simple: true }) as number;
    this.db.pragma('wal_autocheckpoint = 0');
  }

  release(): void {
    if (this.holders === 0 || --this.holders > 0) return;
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${this.ownPages}`);
  }

  async due(): Promise<void> {
    if (this.failed || this.holders === 0 || performance.now() - this.lastAt < CHECKPOINT_EVERY_MS) return;
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    await new Promise<void>((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage(id);
    });
    this.lastAt = performance.now();
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
    this.settleAll();
  }

  private start(): Worker {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER, { eval: true, workerData: { driver, file: this.file } });
    worker.unref();
    worker.on('message', (reply: { id: number; error?: string }) => {
      if (reply.error) this.fail();
      this.waiting.get(reply.id)?.();
      this.waiting.delete(reply.id);
    });
    worker.on('error', () => this.fail());
    worker.on('exit', () => {
      if (this.worker === worker) this.fail();
    });
    this.worker = worker;
    return worker;
  }

  /** The worker cannot checkpoint: the connection does it again, as SQLite does by default. */
  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    if (this.holders > 0 && this.db.open) this.db.pragma(`wal_autocheckpoint = ${this.ownPages}`);
    this.holders = 0;
    const worker = this.worker;
    this.worker = null;
    void worker?.terminate();
    this.settleAll();
  }

  private settleAll(): void {
    for (const resolve of this.waiting.values()) resolve();
    this.waiting.clear();
  }
}
