/**
 * The one rule for a reader coming back after `afterSeq` (a gadget's `resume`, a crew page's
 * event stream with Last-Event-ID): replay what it missed, in order, or tell it to `resync`
 * (take the current state) when a replay cannot be right or is not worth it. Pure.
 */
export type RecoveryReason = 'epoch_changed' | 'ahead_of_relay' | 'history_gone' | 'too_far_behind';

export type Recovery = { readonly replay: true } | { readonly replay: false; readonly reason: RecoveryReason };

export interface RecoveryInput {
  /** The last seq the reader has (after visibility: never before its member's join). */
  readonly afterSeq: number;
  /** The crew log's newest seq. */
  readonly latestSeq: number;
  /** The oldest seq still stored, or null for an empty log. */
  readonly firstSeq: number | null;
  /** False when the reader's seq belongs to another copy of the log (a restore from backup renewed the epoch). */
  readonly sameEpoch?: boolean;
  /** More missed events than this are not replayed (a page reloads its state instead); no limit when absent. */
  readonly replayLimit?: number;
}

export function recoveryFor(input: RecoveryInput): Recovery {
  const { afterSeq, latestSeq, firstSeq, sameEpoch = true, replayLimit } = input;
  if (!sameEpoch) return { replay: false, reason: 'epoch_changed' };
  if (afterSeq > latestSeq) return { replay: false, reason: 'ahead_of_relay' };
  // Retention removed events the reader has not seen.
  if (afterSeq < latestSeq && (firstSeq === null || firstSeq > afterSeq + 1)) return { replay: false, reason: 'history_gone' };
  if (replayLimit !== undefined && latestSeq - afterSeq > replayLimit) return { replay: false, reason: 'too_far_behind' };
  return { replay: true };
}
