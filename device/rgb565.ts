import type { Frame, Rect } from './hardware.js';
import { HardwareError } from './hardware-error.js';

/**
 * Canvas frames are RGBA8888; panels and most framebuffers take RGB565 (5 bits red,
 * 6 green, 5 blue). SPI panels want each pixel big-endian (high byte first on the
 * wire); an fbdev framebuffer stores it in the CPU's order, little-endian on a Pi.
 */
export type PixelOrder = 'rgb565be' | 'rgb565le' | 'xrgb8888le';

export const BYTES_PER_PIXEL: Record<PixelOrder, number> = {
  rgb565be: 2,
  rgb565le: 2,
  xrgb8888le: 4,
};

export function rgb565(r: number, g: number, b: number): number {
  return ((r & 0xf8) << 8) | ((g & 0xfc) << 3) | (b >> 3);
}

/** Checks that a frame has the size the display was opened with. */
export function assertFrameSize(frame: Frame, width: number, height: number): void {
  if (frame.width !== width || frame.height !== height || frame.data.length !== width * height * 4) {
    throw new HardwareError(
      'frame_size',
      `The frame is ${frame.width}×${frame.height} with ${frame.data.length} bytes; this display takes ` +
        `${width}×${height} RGBA (${width * height * 4} bytes).`,
    );
  }
}

/** Converts a whole frame into a new buffer in the given pixel order. */
export function convertFrame(frame: Frame, order: PixelOrder): Buffer {
  const out = Buffer.allocUnsafe(frame.width * frame.height * BYTES_PER_PIXEL[order]);
  convertInto(frame.data, out, 0, frame.width * frame.height, order);
  return out;
}

/** Converts `count` pixels of RGBA `src` starting at `first` into `out` at the same pixel index. */
export function convertInto(src: Uint8Array | Uint8ClampedArray, out: Buffer, first: number, count: number, order: PixelOrder): void {
  if (order === 'xrgb8888le') return convertXrgb(src, out, first, count);
  const bigEndian = order === 'rgb565be';
  for (let p = first, end = first + count; p < end; p++) {
    const s = p * 4;
    const v = rgb565(src[s]!, src[s + 1]!, src[s + 2]!);
    const o = p * 2;
    out[o] = bigEndian ? v >> 8 : v & 0xff;
    out[o + 1] = bigEndian ? v & 0xff : v >> 8;
  }
}

function convertXrgb(src: Uint8Array | Uint8ClampedArray, out: Buffer, first: number, count: number): void {
  for (let p = first, end = first + count; p < end; p++) {
    const s = p * 4;
    out[s] = src[s + 2]!;
    out[s + 1] = src[s + 1]!;
    out[s + 2] = src[s]!;
    out[s + 3] = 0xff;
  }
}

/** Copies a rectangle out of a converted image (row-major, `width` pixels wide) into one contiguous buffer. */
export function extractRect(image: Buffer, width: number, bytesPerPixel: number, rect: Rect): Buffer {
  const rowBytes = rect.w * bytesPerPixel;
  if (rect.x === 0 && rect.w === width) {
    const start = rect.y * width * bytesPerPixel;
    return image.subarray(start, start + rowBytes * rect.h);
  }
  const out = Buffer.allocUnsafe(rowBytes * rect.h);
  for (let row = 0; row < rect.h; row++) {
    const start = ((rect.y + row) * width + rect.x) * bytesPerPixel;
    image.copy(out, row * rowBytes, start, start + rowBytes);
  }
  return out;
}
