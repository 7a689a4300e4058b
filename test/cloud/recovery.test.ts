import { describe, expect, it } from 'vitest';
import { recoveryFor, type RecoveryInput } from '../../cloud/recovery.js';

// One rule for a gadget's resume and a crew page's event stream: replay, or resync and why.
const CASES: [string, RecoveryInput, string][] = [
  ['nothing missed', { afterSeq: 10, latestSeq: 10, firstSeq: 1 }, 'replay'],
  ['a few missed, all stored', { afterSeq: 7, latestSeq: 10, firstSeq: 1 }, 'replay'],
  ['from the very start of a full log', { afterSeq: 0, latestSeq: 10, firstSeq: 1 }, 'replay'],
  ['an empty log, nothing to miss', { afterSeq: 0, latestSeq: 0, firstSeq: null }, 'replay'],
  ['the oldest missed event is the oldest stored', { afterSeq: 4, latestSeq: 10, firstSeq: 5 }, 'replay'],
  ['retention removed missed events', { afterSeq: 3, latestSeq: 10, firstSeq: 5 }, 'history_gone'],
  ['retention removed everything', { afterSeq: 3, latestSeq: 10, firstSeq: null }, 'history_gone'],
  ['ahead of the log (a store restored from an older backup)', { afterSeq: 12, latestSeq: 10, firstSeq: 1 }, 'ahead_of_relay'],
  ['another copy of the log', { afterSeq: 7, latestSeq: 10, firstSeq: 1, sameEpoch: false }, 'epoch_changed'],
  ['another copy wins over ahead', { afterSeq: 12, latestSeq: 10, firstSeq: 1, sameEpoch: false }, 'epoch_changed'],
  ["within a page's replay limit", { afterSeq: 500, latestSeq: 1000, firstSeq: 1, replayLimit: 500 }, 'replay'],
  ["past a page's replay limit", { afterSeq: 499, latestSeq: 1000, firstSeq: 1, replayLimit: 500 }, 'too_far_behind'],
  ['a gadget has no replay limit', { afterSeq: 0, latestSeq: 100_000, firstSeq: 1 }, 'replay'],
];

describe('recoveryFor', () => {
  it.each(CASES)('%s', (_name, input, expected) => {
    const verdict = recoveryFor(input);
    expect(verdict.replay ? 'replay' : verdict.reason).toBe(expected);
  });
});
