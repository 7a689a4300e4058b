import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ProtocolError } from '../../protocol/errors.js';
import type { SqliteDatabase, SqliteOptions } from './sqlite.js';
import { SqliteAppender } from './sqlite-append.js';
import { toError, type WriterReply, type WriterRequest } from './sqlite-writer-messages.js';
import type { AppendRequest, AppendResult, DeliveredMark } from './store.js';

/** The crew log's writes: on the writer thread for a store in a file, on the store's own connection for `:memory:`. */
export interface LogWriter {
  append(batch: readonly AppendRequest[]): Promise<AppendResult[]>;
  /** EventLog.appendEach: in one step of the writer, so nothing handed over later commits between. */
  appendEach(batch: readonly AppendRequest[]): Promise<(AppendResult | Error)[]>;
  markDelivered(marks: readonly DeliveredMark[]): Promise<void>;
  /** A one-row commit on the writing connection (the store's readiness). */
  probe(): Promise<void>;
  /** Waits for what was sent to the thread to be committed, then closes its connection. */
  close(): Promise<void>;
}

/** For `:memory:` (no file a second connection could open): the store's connection writes, on the event loop. */
export function connectionWriter(db: SqliteDatabase): LogWriter {
  const appender = new SqliteAppender(db);
  return {
    append: async (batch) => appender.append(batch, Date.now()),
    appendEach: async (batch) => appender.appendEach(batch, Date.now()),
    markDelivered: async (marks) => appender.markDelivered(marks),
    probe: async () => appender.probe(Date.now()),
    async close() {},
  };
}

/** An append's results (with `each`, a failed request's error in its place); nothing for the other requests. */
type Answer = (AppendResult | Error)[] | undefined;

interface Waiting {
  readonly request: Exclude<WriterRequest, { op: 'close' }>;
  resolve(results: Answer): void;
  reject(error: Error): void;
}

/**
 * The writer thread (sqlite-writer-thread.ts), started at the first write. A commit with
 * `synchronous=FULL` waits for its fsync; on the thread that wait no longer stops every
 * socket of the relay, and the appends that arrive meanwhile go in the next commit.
 *
 * Should the thread fail (it cannot open the file, or it dies), the store's own connection
 * writes again, as before the thread existed; requests the thread had not answered are
 * answered `unavailable` (they may have been committed: a retry with the same client
 * message id is answered with its seq), or written here when the thread never opened the file.
 */
export class ThreadWriter implements LogWriter {
  private worker: Worker | null = null;
  private fallback: LogWriter | null = null;
  private closed = false;
  private nextId = 0;
  private readonly waiting = new Map<number, Waiting>();

  constructor(
    private readonly db: SqliteDatabase,
    private readonly file: string,
    private readonly options: SqliteOptions,
    private readonly onFailure: (error: Error) => void,
  ) {}

  async append(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    return (await this.request({ id: this.nextId++, op: 'append', batch, at: Date.now(), each: false })) as AppendResult[];
  }

  async appendEach(batch: readonly AppendRequest[]): Promise<(AppendResult | Error)[]> {
    return (await this.request({ id: this.nextId++, op: 'append', batch, at: Date.now(), each: true }))!;
  }

  async markDelivered(marks: readonly DeliveredMark[]): Promise<void> {
    if (marks.length > 0) await this.request({ id: this.nextId++, op: 'mark', marks });
  }

  async probe(): Promise<void> {
    await this.request({ id: this.nextId++, op: 'probe', at: Date.now() });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    worker.ref();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ op: 'close' } satisfies WriterRequest);
    await exited;
    this.failWaiting(new ProtocolError('unavailable', 'The relay closed its store before this write was answered; try again.'));
  }

  private request(request: Waiting['request']): Promise<Answer> {
    if (this.closed) return Promise.reject(new ProtocolError('unavailable', 'The SQLite store is closed.'));
    if (this.fallback) return this.runOn(this.fallback, request);
    const worker = this.worker ?? this.start();
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(request.id, { request, resolve, reject });
      worker.postMessage(request);
    });
  }

  private async runOn(writer: LogWriter, request: Waiting['request']): Promise<Answer> {
    if (request.op === 'append') return request.each ? writer.appendEach(request.batch) : writer.append(request.batch);
    await (request.op === 'mark' ? writer.markDelivered(request.marks) : writer.probe());
    return undefined;
  }

  private start(): Worker {
    const worker = startThread({ file: this.file, options: { synchronous: this.options.synchronous } });
    worker.unref();
    worker.on('message', (reply: WriterReply) => this.answer(worker, reply));
    worker.on('error', (error: unknown) => this.fail(worker, error instanceof Error ? error : new Error(String(error))));
    worker.on('exit', (code) => this.fail(worker, new Error(`The store's writer thread exited (code ${code}).`)));
    this.worker = worker;
    return worker;
  }

  private answer(worker: Worker, reply: WriterReply): void {
    if (reply.id === -1) {
      // It opened nothing, so nothing it was sent was written: the store's connection writes it all.
      const error = toError(reply.error!);
      const requests = [...this.waiting.values()];
      this.waiting.clear();
      this.fail(worker, error);
      for (const waiting of requests) this.runOn(this.fallback!, waiting.request).then(waiting.resolve, waiting.reject);
      return;
    }
    const waiting = this.waiting.get(reply.id);
    if (!waiting) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) worker.unref();
    if (reply.error) waiting.reject(toError(reply.error));
    else waiting.resolve(reply.results?.map((r) => ('error' in r ? toError(r.error) : r)));
  }

  private fail(worker: Worker, error: Error): void {
    if (this.worker !== worker || this.closed) return;
    this.worker = null;
    this.fallback = connectionWriter(this.db);
    void worker.terminate();
    this.onFailure(error);
    this.failWaiting(new ProtocolError('unavailable', 'The relay lost this write to a failure of its store writer; send it again.'));
  }

  private failWaiting(error: Error): void {
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }
}

/** The compiled relay runs the thread's .js file as it is; run from source (tsx, the tests) it runs the bundle of its .ts modules. */
function startThread(workerData: { file: string; options: SqliteOptions }): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./sqlite-writer-thread.js', import.meta.url), { workerData });
  return new Worker(threadFromSource(), { eval: true, workerData });
}

let bundled: string | null = null;

/**
 * The thread's few modules bundled once per process with esbuild (tsx's own compiler, a
 * development dependency) into plain JavaScript: registering tsx in each thread would cost a
 * quarter of a second per store opened, and the tests open hundreds.
 */
function threadFromSource(): string {
  if (bundled !== null) return bundled;
  const require = createRequire(import.meta.url);
  const esbuild = require('esbuild') as typeof import('esbuild');
  const driver = require.resolve('better-sqlite3');
  const result = esbuild.buildSync({
    entryPoints: [fileURLToPath(new URL('./sqlite-writer-thread.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    alias: { 'better-sqlite3': driver },
    external: [driver],
    logLevel: 'silent',
  });
  bundled = result.outputFiles[0]!.text;
  return bundled;
}
