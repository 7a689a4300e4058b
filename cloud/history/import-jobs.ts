import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProtocolError, type HistoryImportJob, type ImportState } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { DEFAULT_ZIP_LIMITS, type ZipLimits } from './export-zip.js';
import type { HistoryStore } from '../store/areas/history.js';
import { importExport, type ImportCounts } from './importer.js';

export type { ImportState };

/** What GET …/import/:jobId and the SSE stream send (protocol/crew-pages.ts), with the importer's counts. */
export interface ImportJobView extends HistoryImportJob {
  readonly counts: ImportCounts | null;
}

export interface ImportJobsOptions {
  readonly store: HistoryStore;
  readonly log: Logger;
  readonly maxUploadBytes: number;
  readonly minPlayMs: number;
  /** HISTORY_MAX_IMPORT_RECORDS: the most records one import may hold. */
  readonly maxRecords?: number;
  readonly limits?: ZipLimits;
  /** HISTORY_IMPORT_SLICE_ROWS: plays per commit slice (the store's default otherwise). */
  readonly sliceRows?: number;
  /** Told how each import ended: `done`, or the error code it failed with. */
  readonly onFinished?: (outcome: string) => void;
  /**
   * Where uploads wait for their turn: under the data dir, so that a large upload lands
   * on the store's disk (not a RAM-backed /tmp) and a crash's leftovers are found again.
   * Without one, a temp dir that stop() removes.
   */
  readonly uploadDir?: string;
}

type Listener = (view: ImportJobView) => void;
const KEEP_FINISHED = 200;

/**
 * Uploaded export ZIPs become jobs that run one at a time (imports are heavy; the relay
 * has other work). Progress is kept in memory; the result is recorded by the store.
 * stop() cancels the running import; what it wrote stays invisible and the next start()
 * drops it (as it drops what a crash left), before any new import runs.
 */
export class ImportJobs {
  private readonly jobs = new Map<string, ImportJobView>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly options: ImportJobsOptions;
  private queue: Promise<void> = Promise.resolve();
  private uploadDir: string | null = null;
  /** Aborted by stop(): the running import ends at its next batch or slice. */
  private stopping = new AbortController();
  /** Whether what unfinished imports left has been dropped (a new import waits for it). */
  private leftoversDropped = false;
  /** Members with an upload arriving, waiting or importing: one each, so nobody can fill the disk with queued ZIPs. */
  private readonly busyMembers = new Set<string>();
  /** Upload sizes of the jobs waiting or running, for the log. */
  private readonly sizes = new Map<string, number>();

  constructor(options: ImportJobsOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    const dir = this.options.uploadDir ?? (await fs.promises.mkdtemp(path.join(os.tmpdir(), 'leeloo-imports-')));
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    for (const name of await fs.promises.readdir(dir)) {
      if (name.endsWith('.zip')) await fs.promises.rm(path.join(dir, name), { force: true });
    }
    this.uploadDir = dir;
    this.stopping = new AbortController();
    this.leftoversDropped = false;
    // Queued, not awaited: dropping a large unfinished import takes a while, in slices.
    this.queue = this.dropLeftovers().catch((error: unknown) => {
      this.options.log.error({ err: error }, 'could not drop what unfinished imports left; the next import tries again');
    });
  }

  /** Cancels the running import, fails the queued ones; uploads after stop() are never run. */
  async stop(): Promise<void> {
    this.stopping.abort();
    const running = this.queue;
    this.queue = new Promise(() => {}); // nothing queued after stop() runs
    const dir = this.uploadDir;
    this.uploadDir = null;
    await running;
    if (dir && !this.options.uploadDir) await fs.promises.rm(dir, { recursive: true, force: true });
  }

  /**
   * Streams an upload to a temp file (refusing more than maxUploadBytes with too_large)
   * and queues its import. Resolves with the queued job.
   */
  async receive(memberId: string, body: Readable, options: { fileName?: string; minPlayMs?: number } = {}): Promise<ImportJobView> {
    if (!this.uploadDir) throw new ProtocolError('unavailable', 'History import is not running.');
    if (this.busyMembers.has(memberId)) {
      const busy = new ProtocolError('conflict', 'An import of yours is still running; send the next ZIP when it is done.');
      this.refused({ member: memberId, fileName: options.fileName ?? null, bytes: null }, busy);
      throw busy;
    }
    this.busyMembers.add(memberId);
    const jobId = randomUUID();
    const fileName = (options.fileName ?? 'upload.zip').slice(0, 200);
    const file = path.join(this.uploadDir, `${jobId}.zip`);
    const limit = byteLimit(this.options.maxUploadBytes);
    try {
      await pipeline(body, limit, fs.createWriteStream(file, { mode: 0o600 }));
    } catch (error) {
      this.busyMembers.delete(memberId);
      await fs.promises.rm(file, { force: true });
      const refusal = error instanceof ProtocolError ? error : new ProtocolError('invalid_message', 'The upload broke off before the whole file arrived.');
      this.refused({ jobId, member: memberId, fileName, bytes: limit.bytes }, refusal);
      throw refusal;
    }
    const view: ImportJobView = {
      job_id: jobId,
      member_id: memberId,
      file_name: fileName,
      state: 'queued',
      bytes_read: 0,
      bytes_total: 0,
      counts: null,
    };
    this.sizes.set(jobId, limit.bytes);
    this.update(view);
    this.queue = this.queue.then(() => this.run(view, file, options.minPlayMs ?? this.options.minPlayMs));
    return view;
  }

  get(jobId: string): ImportJobView | null {
    return this.jobs.get(jobId) ?? null;
  }

  /** Calls back on every change of the job until it is done or failed; returns the unsubscribe. */
  subscribe(jobId: string, listener: Listener): () => void {
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Staging and invisible plays of imports that never finished: gone before a new import may collide with them. */
  private async dropLeftovers(): Promise<void> {
    if (this.leftoversDropped) return;
    const dropped = await this.options.store.discardAllStaging();
    this.leftoversDropped = true;
    if (dropped > 0) this.options.log.warn({ rows: dropped }, 'dropped what imports that did not finish had written');
  }

  private async run(queued: ImportJobView, file: string, minPlayMs: number): Promise<void> {
    try {
      await this.dropLeftovers();
      const result = await importExport(this.options.store, file, {
        memberId: queued.member_id,
        jobId: queued.job_id,
        fileName: queued.file_name,
        minPlayMs,
        maxRecords: this.options.maxRecords,
        limits: this.options.limits ?? DEFAULT_ZIP_LIMITS,
        sliceRows: this.options.sliceRows,
        signal: this.stopping.signal,
        onProgress: (p) => {
          // The commit's slices change nothing a member sees: one `committing` update.
          if (p.state !== 'committing' || this.jobs.get(queued.job_id)?.state !== 'committing') {
            this.update({ ...queued, state: p.state, bytes_read: p.bytesRead, bytes_total: p.bytesTotal, counts: p.counts });
          }
        },
      });
      const last = this.jobs.get(queued.job_id) ?? queued;
      this.update({ ...last, state: 'done', bytes_read: last.bytes_total, counts: result.counts });
      this.options.onFinished?.('done');
      this.options.log.info({ ...this.about(queued), counts: result.counts }, 'history import done');
    } catch (error) {
      const failure = error instanceof ProtocolError ? error : new ProtocolError('internal_error');
      if (!(error instanceof ProtocolError)) this.options.log.error({ err: error, ...this.about(queued) }, 'history import failed');
      else this.refused(this.about(queued), failure);
      this.update({ ...(this.jobs.get(queued.job_id) ?? queued), state: 'failed', error: { code: failure.code, message: failure.message } });
      this.options.onFinished?.(failure.code);
    } finally {
      this.busyMembers.delete(queued.member_id);
      this.sizes.delete(queued.job_id);
      await fs.promises.rm(file, { force: true });
    }
  }

  /** What the log says of an import: which one, whose, which file, how large. */
  private about(job: ImportJobView): { jobId: string; member: string; fileName: string; bytes: number | null } {
    return { jobId: job.job_id, member: job.member_id, fileName: job.file_name, bytes: this.sizes.get(job.job_id) ?? null };
  }

  /** A refused import is logged like a finished one: the operator sees why members' uploads fail. */
  private refused(about: Record<string, unknown>, refusal: ProtocolError): void {
    this.options.log.info({ ...about, reason: refusal.code, message: refusal.message }, 'history import refused');
  }

  private update(view: ImportJobView): void {
    this.jobs.set(view.job_id, view);
    for (const listener of this.listeners.get(view.job_id) ?? []) listener(view);
    if (view.state === 'done' || view.state === 'failed') {
      this.listeners.delete(view.job_id);
      this.forgetOldJobs();
    }
  }

  private forgetOldJobs(): void {
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= KEEP_FINISHED) return;
      if (job.state === 'done' || job.state === 'failed') this.jobs.delete(id);
    }
  }
}

/** Passes at most maxBytes on (then fails with too_large); `bytes` is how many arrived. */
function byteLimit(maxBytes: number): Transform & { bytes: number } {
  const limit = Object.assign(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        limit.bytes += chunk.length;
        if (limit.bytes > maxBytes)
          done(new ProtocolError('too_large', `The upload is larger than ${Math.floor(maxBytes / 1024 ** 2)} MB, the most the relay accepts.`));
        else done(null, chunk);
      },
    }),
    { bytes: 0 },
  );
  return limit;
}
