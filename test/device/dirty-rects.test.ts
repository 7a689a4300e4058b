import { describe, expect, it } from 'vitest';
import { changedRowSpans, findDirtyRects, mergeRects, rectCost, type Image } from '../../device/dirty-rects.js';
import { convertFrame } from '../../device/rgb565.js';
import type { Frame, Rect } from '../../device/hardware.js';
import { BASE_SCREEN, renderSample } from '../fakes/sample-frames.js';
import { expectCovers } from '../helpers/dirty-cover.js';

const OVERHEAD = 512;

function image(frame: Frame): Image {
  return { width: frame.width, height: frame.height, bytesPerPixel: 2, data: convertFrame(frame, 'rgb565be') };
}

function area(rects: Rect[]): number {
  return rects.reduce((sum, r) => sum + r.w * r.h, 0);
}

describe('dirty rectangles on real screen transitions', () => {
  const before = image(renderSample(BASE_SCREEN));

  it('sends the whole screen when there is no previous frame', () => {
    expect(findDirtyRects(null, before, { windowOverheadBytes: OVERHEAD })).toEqual([{ x: 0, y: 0, w: 480, h: 320 }]);
  });

  it('sends nothing when nothing changed', () => {
    const same = image(renderSample(BASE_SCREEN));
    expect(findDirtyRects(before, same, { windowOverheadBytes: OVERHEAD })).toEqual([]);
    expect(changedRowSpans(before, same)).toEqual([]);
  });

  it('covers a clock tick with one small rectangle in the header', () => {
    const after = image(renderSample({ ...BASE_SCREEN, clock: '12:05' }));
    const rects = findDirtyRects(before, after, { windowOverheadBytes: OVERHEAD });
    expectCovers(before, after, rects);
    expect(rects).toHaveLength(1);
    expect(rects[0]!.x).toBeGreaterThanOrEqual(400);
    expect(rects[0]!.y + rects[0]!.h).toBeLessThanOrEqual(40);
    expect(area(rects)).toBeLessThan(480 * 320 * 0.01);
  });

  it('covers a progress bar step with the bar segment only', () => {
    const after = image(renderSample({ ...BASE_SCREEN, progress: 0.34 }));
    const rects = findDirtyRects(before, after, { windowOverheadBytes: OVERHEAD });
    expectCovers(before, after, rects);
    expect(rects).toEqual([{ x: 24 + Math.round(432 * 0.31), y: 260, w: Math.round(432 * 0.34) - Math.round(432 * 0.31), h: 8 }]);
  });

  it('keeps a clock tick and a progress step apart when their union costs more', () => {
    const after = image(renderSample({ ...BASE_SCREEN, clock: '12:05', progress: 0.34 }));
    const rects = findDirtyRects(before, after, { windowOverheadBytes: OVERHEAD });
    expectCovers(before, after, rects);
    expect(rects).toHaveLength(2);
    const bounding = rectCost({ x: 24, y: 0, w: 456, h: 268 }, 2, OVERHEAD);
    const sent = rects.reduce((sum, r) => sum + rectCost(r, 2, OVERHEAD), 0);
    expect(sent).toBeLessThan(bounding / 10);
  });

  it('merges them into one window when the per-window overhead is huge', () => {
    const after = image(renderSample({ ...BASE_SCREEN, clock: '12:05', progress: 0.34 }));
    const rects = findDirtyRects(before, after, { windowOverheadBytes: 480 * 320 * 2 });
    expectCovers(before, after, rects);
    expect(rects).toHaveLength(1);
  });

  it('covers an incoming share (new art, titles and banner) exactly', () => {
    const after = image(renderSample({ ...BASE_SCREEN, track: 'Hyperballad', artist: 'Björk', artHue: 20, banner: 'pushed by Ana' }));
    const rects = findDirtyRects(before, after, { windowOverheadBytes: OVERHEAD });
    expectCovers(before, after, rects);
    expect(area(rects)).toBeLessThan(480 * 320);
    expect(rects.length).toBeLessThanOrEqual(4);
  });

  it('lists changed rows for a framebuffer as consecutive spans', () => {
    const after = image(renderSample({ ...BASE_SCREEN, clock: '12:05', progress: 0.34 }));
    const spans = changedRowSpans(before, after);
    expect(spans.length).toBe(2);
    expect(spans[1]).toEqual({ y: 260, h: 8 });
    expect(spans[0]!.y + spans[0]!.h).toBeLessThanOrEqual(40);
  });
});

describe('mergeRects', () => {
  it('merges touching rectangles and leaves distant ones', () => {
    const merged = mergeRects(
      [
        { x: 0, y: 0, w: 10, h: 10 },
        { x: 10, y: 0, w: 10, h: 10 },
        { x: 400, y: 300, w: 10, h: 10 },
      ],
      2,
      64,
    );
    expect(merged).toEqual([
      { x: 0, y: 0, w: 20, h: 10 },
      { x: 400, y: 300, w: 10, h: 10 },
    ]);
  });

  it('falls back to the bounding box when a change is noisy', () => {
    const prev: Image = { width: 480, height: 320, bytesPerPixel: 2, data: Buffer.alloc(480 * 320 * 2) };
    const next: Image = { ...prev, data: Buffer.alloc(480 * 320 * 2) };
    for (let y = 0; y < 320; y += 2) for (let x = 0; x < 480; x += 20) next.data[(y * 480 + x) * 2] = 1;
    const rects = findDirtyRects(prev, next, { windowOverheadBytes: 0, joinGapPixels: 0, maxRects: 64 });
    expect(rects).toEqual([{ x: 0, y: 0, w: 461, h: 319 }]);
  });
});
