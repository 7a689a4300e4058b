import v8 from 'node:v8';

/**
 * How far V8 lets the old generation grow past what a full GC left alive before the next one.
 * V8 chooses up to 4× by itself when a full GC was slow next to the allocation rate (a busy or
 * shared CPU). Under a burst of crew events the relay keeps nothing (the live heap after each
 * full GC stays ~20 MB), but each scavenge promotes ~1 MB of short-lived frames, promises and
 * buffers; at 4× that garbage piles up to ~80 MB before it is collected (issue 9, point 3:
 * `scripts/abuse-memory.ts` swung between +13 and +74 MB). With a fixed percentage the old
 * generation stays within live × (1 + percent/100) (plus V8's few-MB minimum step).
 * 0 leaves V8's own choice.
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 50;

/**
 * Sets V8's heap growing factor for this process (`--heap-growing-percent`). V8 reads the flag
 * each time it sets the next full-GC limit, so it takes effect from the next full GC on.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`);
}
