import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { ProtocolError } from '../../protocol/index.js';
import { classifyEntry, type ExportFormat } from './spotify-export.js';

/**
 * Limits that keep a hostile ZIP from exhausting the relay. A real extended-history
 * export is a few dozen JSON files of up to ~15 MB each that compress about 10:1.
 */
export interface ZipLimits {
  readonly maxEntries: number;
  /** Sum of the uncompressed sizes of the history files. */
  readonly maxTotalBytes: number;
  readonly maxEntryBytes: number;
  /** Uncompressed / compressed; checked on entries larger than ratioFloorBytes. */
  readonly maxRatio: number;
  readonly ratioFloorBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: 2000,
  maxTotalBytes: 2 * 1024 ** 3,
  maxEntryBytes: 512 * 1024 ** 2,
  maxRatio: 100,
  ratioFloorBytes: 1024 ** 2,
};

export interface ExportEntry {
  readonly name: string;
  readonly format: ExportFormat;
  readonly uncompressedSize: number;
  open(): Promise<Readable>;
}

export interface ExportZip {
  /** The streaming-history files, in archive order. */
  readonly entries: readonly ExportEntry[];
  readonly ignored: number;
  close(): void;
}

/**
 * Reads the central directory of an export ZIP and checks every entry before any data
 * is read: names, count, sizes and ratios. Throws ProtocolError with invalid_zip,
 * unsafe_zip_entry, zip_bomb or no_history_files.
 */
export async function openExportZip(file: string, limits: ZipLimits = DEFAULT_ZIP_LIMITS): Promise<ExportZip> {
  let zip: yauzl.ZipFile;
  try {
    // Names are decoded here rather than by yauzl so that a bad name gets its own code.
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (error) {
    throw new ProtocolError('invalid_zip', `The file is not a readable ZIP archive (${describe(error)}).`);
  }
  try {
    if (zip.entryCount > limits.maxEntries) {
      throw new ProtocolError('zip_bomb', `The ZIP archive has ${zip.entryCount} entries; at most ${limits.maxEntries} are accepted.`);
    }
    const { entries, ignored } = await listEntries(zip, limits);
    if (entries.length === 0) {
      throw new ProtocolError(
        'no_history_files',
        'The ZIP archive contains no Spotify streaming-history files (Streaming_History_Audio_*.json, endsong_*.json or StreamingHistory*.json).',
      );
    }
    return { entries, ignored, close: () => zip.close() };
  } catch (error) {
    zip.close();
    throw error;
  }
}

function listEntries(zip: yauzl.ZipFile, limits: ZipLimits): Promise<{ entries: ExportEntry[]; ignored: number }> {
  return new Promise((resolve, reject) => {
    const entries: ExportEntry[] = [];
    let ignored = 0;
    let total = 0;
    zip.on('error', (error: unknown) => reject(asZipError(error)));
    zip.on('end', () => resolve({ entries, ignored }));
    zip.on('entry', (entry: yauzl.Entry) => {
      try {
        const name = entryName(entry);
        const format = name.endsWith('/') ? null : classifyEntry(name);
        if (format === null) {
          ignored += 1;
        } else {
          checkSize(name, entry, limits);
          total += entry.uncompressedSize;
          if (total > limits.maxTotalBytes) {
            throw new ProtocolError('zip_bomb', `The history files in the ZIP archive unpack to more than ${limits.maxTotalBytes} bytes.`);
          }
          entries.push({ name, format, uncompressedSize: entry.uncompressedSize, open: () => zip.openReadStreamPromise(entry) });
        }
        zip.readEntry();
      } catch (error) {
        reject(error);
      }
    });
    zip.readEntry();
  });
}

function entryName(entry: yauzl.Entry): string {
  const raw = entry.fileName as unknown as Buffer;
  const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, false);
  const problem = yauzl.validateFileName(name);
  if (problem !== null) {
    throw new ProtocolError('unsafe_zip_entry', `The ZIP archive contains an unsafe file name (${problem.slice(0, 200)}).`);
  }
  return name;
}

function checkSize(name: string, entry: yauzl.Entry, limits: ZipLimits): void {
  if (entry.uncompressedSize > limits.maxEntryBytes) {
    throw new ProtocolError('zip_bomb', `${name} unpacks to ${entry.uncompressedSize} bytes; at most ${limits.maxEntryBytes} are accepted per file.`);
  }
  const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
  if (entry.uncompressedSize > limits.ratioFloorBytes && ratio > limits.maxRatio) {
    throw new ProtocolError('zip_bomb', `${name} is compressed ${Math.round(ratio)}:1, more than the ${limits.maxRatio}:1 a history file can be.`);
  }
}

/** Errors yauzl reports while reading the directory or a file's data. */
export function asZipError(error: unknown): ProtocolError {
  if (error instanceof ProtocolError) return error;
  return new ProtocolError('invalid_zip', `The ZIP archive is damaged or truncated (${describe(error)}).`);
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 200);
}
