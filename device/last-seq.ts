import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';

/**
 * The last crew seq this device has applied, per crew (by id, or by code for a relay
 * that names no id) in `last-seq.json`. It is what `resume {after_seq}` sends, so it
 * is written only after an event is applied.
 */
export class LastSeqStore {
  private readonly file: string;
  private seqs: Record<string, number> = {};
  private writing: Promise<void> = Promise.resolve();

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'last-seq.json');
  }

  async load(): Promise<void> {
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null) return;
      for (const [code, seq] of Object.entries(parsed)) {
        if (Number.isSafeInteger(seq) && (seq as number) >= 0) this.seqs[code] = seq as number;
      }
    } catch (error) {
      // Missing or unreadable: resume from the crew's current seq, as a new member would.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.seqs = {};
    }
  }

  get(key: string): number | null {
    return this.seqs[key] ?? null;
  }

  /**
   * Records a seq; writes are serialised so an older value never lands after a newer one.
   * The returned promise rejects when this write fails; later writes still happen.
   */
  set(key: string, seq: number): Promise<void> {
    this.seqs = { ...this.seqs, [key]: seq };
    const snapshot = JSON.stringify(this.seqs);
    const write = this.writing.then(() => writeFileAtomic(this.file, snapshot, 0o600));
    this.writing = write.catch(() => undefined);
    return write;
  }

  /** Moves a position to another key (a rotated code, or a code-keyed entry to its crew id). */
  rename(from: string, to: string): Promise<void> {
    const seq = this.seqs[from];
    if (seq === undefined) return this.writing;
    const { [from]: _moved, ...rest } = this.seqs;
    this.seqs = rest;
    return this.set(to, seq);
  }

  flush(): Promise<void> {
    return this.writing;
  }
}
