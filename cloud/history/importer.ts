import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import streamArray from 'stream-json/streamers/stream-array.js';
import { ProtocolError } from '../../protocol/index.js';
import { asZipError, DEFAULT_ZIP_LIMITS, openExportZip, type ExportEntry, type ZipLimits } from './export-zip.js';
import { MATCH_WINDOW_MINUTES, type HistoryStore, type PlayInput } from '../store/areas/history.js';
import { DEFAULT_MIN_PLAY_MS, extendedNaming, readRecord, type RecordIdentity, type SkipReason } from './spotify-export.js';

export type ImportCounts = Record<'imported' | 'duplicate' | SkipReason, number>;

export interface ImportProgress {
  readonly state: 'reading' | 'committing';
  /** Uncompressed bytes of the history files read so far, and in all. */
  readonly bytesRead: number;
  readonly bytesTotal: number;
  readonly counts: ImportCounts;
  /** Plays staged so far, and how many of them the commit has moved (invisibly) so far. */
  readonly staged: number;
  readonly committed: number;
}

export interface ImportOptions {
  readonly memberId: string;
  readonly jobId?: string;
  /** The name shown in the import record (the uploaded file's name). */
  readonly fileName?: string;
  readonly minPlayMs?: number;
  readonly limits?: ZipLimits;
  readonly batchSize?: number;
  /** The most records (plays, skipped ones included) one import may hold; more is refused with too_large. */
  readonly maxRecords?: number;
  readonly now?: () => number;
  readonly onProgress?: (progress: ImportProgress) => void;
  /** Plays per commit slice (the store's default otherwise). */
  readonly sliceRows?: number;
  /** Aborting it stops the import at the next batch or slice, with `unavailable`; nothing becomes visible. */
  readonly signal?: AbortSignal;
}

export interface ImportResult {
  readonly jobId: string;
  readonly counts: ImportCounts;
  readonly files: readonly { name: string; format: string; records: number }[];
}

const emptyCounts = (): ImportCounts => ({ imported: 0, duplicate: 0, too_short: 0, incognito: 0, no_track: 0, invalid: 0 });

/**
 * Imports a Spotify data-export ZIP into one member's plays. Records are streamed and
 * staged in batches (memory stays bounded whatever the file size); at the end the store
 * commits the staged plays in short slices that stay invisible until the last one, so
 * the relay keeps answering and an import that fails at any point shows nothing. Throws
 * ProtocolError (invalid_zip, zip_bomb, unsafe_zip_entry, invalid_export,
 * no_history_files, too_large; unavailable when aborted).
 */
export async function importExport(store: HistoryStore, zipPath: string, options: ImportOptions): Promise<ImportResult> {
  const run = new ImportRun(store, options);
  const zip = await openExportZip(zipPath, options.limits ?? DEFAULT_ZIP_LIMITS);
  try {
    run.bytesTotal = zip.entries.reduce((sum, entry) => sum + entry.uncompressedSize, 0);
    run.prepare(zip.entries);
    const files = [];
    // Extended history first: the account-data rows are then matched against it.
    const ordered = [...zip.entries.filter((e) => e.format === 'extended'), ...zip.entries.filter((e) => e.format !== 'extended')];
    for (const entry of ordered) files.push(await run.readEntry(entry));
    await run.flush();
    run.report('committing');
    const record = {
      jobId: run.jobId,
      memberId: options.memberId,
      fileName: options.fileName ?? path.basename(zipPath),
      startedAt: run.startedAt,
      counts: run.counts,
    };
    const { imported, duplicate } = await store.commitImport(record, {
      sliceRows: options.sliceRows,
      signal: options.signal,
      onSlice: (committed) => run.report('committing', committed),
    });
    run.counts.imported = imported;
    run.counts.duplicate += duplicate;
    return { jobId: run.jobId, counts: run.counts, files };
  } catch (error) {
    // Stopped (the relay is shutting down): what was written is invisible, and the next start drops it.
    if (options.signal?.aborted) throw new ProtocolError('unavailable', 'The relay stopped during this import; nothing was imported. Send the ZIP again.');
    await store.discardImport(run.jobId);
    throw error instanceof ProtocolError ? error : asZipError(error);
  } finally {
    zip.close();
  }
}

class ImportRun {
  readonly jobId: string;
  readonly startedAt: number;
  readonly counts = emptyCounts();
  bytesTotal = 0;
  private bytesRead = 0;
  private staged = 0;
  private batch: PlayInput[] = [];
  private readonly store: HistoryStore;
  private readonly options: ImportOptions;
  private readonly batchSize: number;
  private readonly recordOptions;
  /**
   * Counting plays, not file records. Only kept when the ZIP needs them (memory stays
   * bounded otherwise): the skipped records already counted, when the ZIP holds both
   * namings of the extended history (the same record in two files); and the minutes of
   * the extended records per track, when it also holds account data (whose rows for the
   * same plays are duplicates, however short).
   */
  private countedSkips: Set<string> | null = null;
  private extendedMinutes: Set<string> | null = null;

  constructor(store: HistoryStore, options: ImportOptions) {
    this.store = store;
    this.options = options;
    this.jobId = options.jobId ?? randomUUID();
    const now = options.now ?? Date.now;
    this.startedAt = now();
    this.batchSize = options.batchSize ?? 2000;
    this.recordOptions = { memberId: options.memberId, minPlayMs: options.minPlayMs ?? DEFAULT_MIN_PLAY_MS, nowMs: this.startedAt };
  }

  prepare(entries: readonly ExportEntry[]): void {
    const namings = new Set(entries.map((e) => extendedNaming(e.name)).filter((n) => n !== null));
    if (namings.size === 2) this.countedSkips = new Set();
    if (namings.size > 0 && entries.some((e) => e.format === 'account')) this.extendedMinutes = new Set();
  }

  /** Where the record goes in the counts: a skip reason, `duplicate`, or null when it was counted already. */
  private tally(format: ExportEntry['format'], skip: SkipReason | null, identity: RecordIdentity | undefined): SkipReason | 'duplicate' | null {
    if (!identity) return skip;
    const minute = Math.floor(identity.endMs / 60_000);
    if (format === 'extended') {
      if (identity.trackKey) this.extendedMinutes?.add(`${identity.trackKey}\u001f${minute}`);
      if (skip === null || !this.countedSkips) return skip;
      const key = `${identity.endMs}\u001f${identity.msPlayed}\u001f${identity.trackKey ?? ''}`;
      if (this.countedSkips.has(key)) return null;
      this.countedSkips.add(key);
      return skip;
    }
    const seen = this.extendedMinutes;
    if (seen && identity.trackKey) {
      for (let d = -MATCH_WINDOW_MINUTES; d <= MATCH_WINDOW_MINUTES; d++) {
        if (seen.has(`${identity.trackKey}\u001f${minute + d}`)) return 'duplicate';
      }
    }
    return skip;
  }

  async readEntry(entry: ExportEntry): Promise<{ name: string; format: string; records: number }> {
    const items = this.itemStream(entry.name, await entry.open());
    let records = 0;
    let valid = 0;
    try {
      for await (const item of items) {
        records += 1;
        this.refuseBeyondLimit();
        const outcome = readRecord(entry.format, (item as { value: unknown }).value, this.recordOptions);
        const skip = 'skip' in outcome ? outcome.skip : null;
        if (skip !== 'invalid') valid += 1;
        const counted = this.tally(entry.format, skip, outcome.identity);
        if ('play' in outcome && counted !== 'duplicate') {
          this.batch.push(outcome.play);
        } else {
          if (counted !== null) this.counts[counted] += 1;
          continue;
        }
        if (this.batch.length >= this.batchSize) await this.flush();
      }
    } catch (error) {
      throw asEntryError(entry.name, error);
    }
    if (records > 0 && valid === 0) {
      throw new ProtocolError(
        'invalid_export',
        `${entry.name} holds ${records} records, none in the ${entry.format === 'extended' ? 'extended streaming history' : 'account data'} format.`,
      );
    }
    return { name: entry.name, format: entry.format, records };
  }

  private recordsSeen = 0;

  private refuseBeyondLimit(): void {
    this.recordsSeen += 1;
    const max = this.options.maxRecords;
    if (max === undefined || this.recordsSeen <= max) return;
    throw new ProtocolError(
      'too_large',
      `This export holds more than ${max.toLocaleString('en')} plays, more than one import may bring in on this relay; nothing was imported. Split it (one year's files per ZIP) or ask the operator to raise HISTORY_MAX_IMPORT_RECORDS.`,
    );
  }

  async flush(): Promise<void> {
    this.options.signal?.throwIfAborted();
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    const staged = await this.store.stageImport(this.jobId, batch);
    this.staged += staged;
    this.counts.duplicate += batch.length - staged;
    this.report('reading');
  }

  report(state: ImportProgress['state'], committed = 0): void {
    const { bytesRead, bytesTotal, staged } = this;
    this.options.onProgress?.({ state, bytesRead, bytesTotal, counts: { ...this.counts }, staged, committed });
  }

  /** The entry's bytes, counted for progress, parsed as one top-level JSON array. */
  private itemStream(_name: string, data: Readable): Readable {
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        this.bytesRead += chunk.length;
        done(null, chunk);
      },
    });
    const items = streamArray.withParserAsStream();
    data.on('error', (error) => items.destroy(asZipError(error)));
    counter.on('error', (error) => items.destroy(error));
    data.pipe(counter).pipe(items);
    return items;
  }
}

function asEntryError(name: string, error: unknown): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const reason = (error instanceof Error ? error.message : String(error)).slice(0, 200);
  return new ProtocolError('invalid_export', `${name} is not a JSON array of streaming-history records (${reason}).`);
}
