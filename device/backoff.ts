/**
 * Exponential backoff with full jitter: the n-th retry waits a uniformly random time
 * in [0, min(cap, base·2ⁿ)), so a crew of gadgets that lost the relay together does not
 * come back in lock step.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 1000,
    private readonly capMs = 60_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call counts as one more failure. */
  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** After a connection proved stable: start again from the base delay. */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
