import type { Rect } from './hardware.js';

/**
 * Finds what changed between two images of the same size (already in the panel's
 * pixel format, so a change too small to survive the conversion is no change) and
 * covers it with few rectangles. Every rectangle costs its pixels plus a fixed
 * overhead (the address-window commands, the DC toggles and the extra transfers);
 * two rectangles are merged whenever their union is not dearer than the pair.
 */
export interface Image {
  readonly width: number;
  readonly height: number;
  readonly bytesPerPixel: number;
  readonly data: Buffer;
}

export interface DirtyRectOptions {
  /** Bytes-equivalent of one window's fixed cost (commands + GPIO toggles + syscalls). */
  windowOverheadBytes: number;
  /** Changed runs in a row closer than this many pixels are treated as one run. */
  joinGapPixels?: number;
  /** Above this many candidate rectangles the bounding box is sent instead. */
  maxRects?: number;
}

interface Run {
  x0: number;
  x1: number;
}

export function rectCost(rect: Rect, bytesPerPixel: number, overhead: number): number {
  return rect.w * rect.h * bytesPerPixel + overhead;
}

export function union(a: Rect, b: Rect): Rect {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  const right = Math.max(a.x + a.w, b.x + b.w);
  const bottom = Math.max(a.y + a.h, b.y + b.h);
  return { x, y, w: right - x, h: bottom - y };
}

/** The rectangles to send to turn `prev` into `next`; the whole image when there is no `prev`. */
export function findDirtyRects(prev: Image | null, next: Image, options: DirtyRectOptions): Rect[] {
  if (!prev || prev.width !== next.width || prev.height !== next.height || prev.bytesPerPixel !== next.bytesPerPixel) {
    return [{ x: 0, y: 0, w: next.width, h: next.height }];
  }
  const gap = options.joinGapPixels ?? 8;
  const candidates = growRects(prev, next, gap);
  if (candidates.length > (options.maxRects ?? 64)) return [candidates.reduce(union)];
  return mergeRects(candidates, next.bytesPerPixel, options.windowOverheadBytes);
}

/** Rows (first, count) that differ, in runs of consecutive rows; what a framebuffer writes. */
export function changedRowSpans(prev: Image | null, next: Image): Array<{ y: number; h: number }> {
  const spans: Array<{ y: number; h: number }> = [];
  for (let y = 0; y < next.height; y++) {
    if (prev && rowEqual(prev, next, y)) continue;
    const last = spans[spans.length - 1];
    if (last && last.y + last.h === y) last.h++;
    else spans.push({ y, h: 1 });
  }
  return spans;
}

/** Greedily merges the pair with the largest saving until no merge saves anything. */
export function mergeRects(rects: Rect[], bytesPerPixel: number, overhead: number): Rect[] {
  const out = rects.map((r) => ({ ...r }));
  const cost = (r: Rect) => rectCost(r, bytesPerPixel, overhead);
  for (;;) {
    let best: { i: number; j: number; saving: number } | null = null;
    for (let i = 0; i < out.length; i++) {
      for (let j = i + 1; j < out.length; j++) {
        const saving = cost(out[i]!) + cost(out[j]!) - cost(union(out[i]!, out[j]!));
        if (saving >= 0 && (!best || saving > best.saving)) best = { i, j, saving };
      }
    }
    if (!best) return out;
    out[best.i] = union(out[best.i]!, out[best.j]!);
    out.splice(best.j, 1);
  }
}

function rowEqual(prev: Image, next: Image, y: number): boolean {
  const rowBytes = next.width * next.bytesPerPixel;
  const start = y * rowBytes;
  return prev.data.compare(next.data, start, start + rowBytes, start, start + rowBytes) === 0;
}

/** Extends each row's changed runs downwards into rectangles while they keep overlapping. */
function growRects(prev: Image, next: Image, gap: number): Rect[] {
  const closed: Rect[] = [];
  let open: Rect[] = [];
  for (let y = 0; y < next.height; y++) {
    const runs = rowEqual(prev, next, y) ? [] : rowRuns(prev, next, y, gap);
    const stillOpen: Rect[] = [];
    for (const run of runs) {
      const hit = open.find((r) => run.x0 <= r.x + r.w - 1 + gap && run.x1 >= r.x - gap);
      const target = hit ?? stillOpen.find((r) => run.x0 <= r.x + r.w - 1 + gap && run.x1 >= r.x - gap);
      if (target) {
        extend(target, run, y);
        if (hit) moveTo(hit, open, stillOpen);
      } else {
        stillOpen.push({ x: run.x0, y, w: run.x1 - run.x0 + 1, h: 1 });
      }
    }
    closed.push(...open);
    open = stillOpen;
  }
  return closed.concat(open);
}

function extend(rect: Rect, run: Run, y: number): void {
  const right = Math.max(rect.x + rect.w, run.x1 + 1);
  rect.x = Math.min(rect.x, run.x0);
  rect.w = right - rect.x;
  rect.h = y - rect.y + 1;
}

function moveTo(rect: Rect, from: Rect[], to: Rect[]): void {
  from.splice(from.indexOf(rect), 1);
  to.push(rect);
}

function rowRuns(prev: Image, next: Image, y: number, gap: number): Run[] {
  const bpp = next.bytesPerPixel;
  const base = y * next.width * bpp;
  const runs: Run[] = [];
  for (let x = 0; x < next.width; x++) {
    if (pixelEqual(prev.data, next.data, base + x * bpp, bpp)) continue;
    const last = runs[runs.length - 1];
    if (last && x - last.x1 - 1 <= gap) last.x1 = x;
    else runs.push({ x0: x, x1: x });
  }
  return runs;
}

function pixelEqual(a: Buffer, b: Buffer, offset: number, bpp: number): boolean {
  for (let i = 0; i < bpp; i++) if (a[offset + i] !== b[offset + i]) return false;
  return true;
}
