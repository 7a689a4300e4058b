import { expect } from 'vitest';
import type { Image } from '../../device/dirty-rects.js';
import type { Rect } from '../../device/hardware.js';

/** Paints the rects of `next` over `prev`: the result must be `next`, pixel for pixel. */
export function expectCovers(prev: Image, next: Image, rects: Rect[]): void {
  const out = Buffer.from(prev.data);
  for (const r of rects) {
    for (let y = r.y; y < r.y + r.h; y++) {
      const start = (y * next.width + r.x) * next.bytesPerPixel;
      next.data.copy(out, start, start, start + r.w * next.bytesPerPixel);
    }
  }
  expect(out.equals(next.data)).toBe(true);
}
