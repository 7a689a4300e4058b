import type { Frame } from './hardware.js';

/**
 * Fits a 480×320 frame onto a smaller panel (320×240 for ST7789/ILI9341): scaled by
 * the same factor both ways, averaged over the source pixels each panel pixel covers,
 * centred with black bars. The source ranges are computed once per panel size.
 */
export class FrameScaler {
  private readonly xRanges: Int32Array;
  private readonly yRanges: Int32Array;
  private readonly left: number;
  private readonly top: number;
  private readonly scaledWidth: number;
  private readonly scaledHeight: number;

  constructor(
    readonly sourceWidth: number,
    readonly sourceHeight: number,
    readonly width: number,
    readonly height: number,
  ) {
    const scale = Math.min(width / sourceWidth, height / sourceHeight);
    this.scaledWidth = Math.floor(sourceWidth * scale);
    this.scaledHeight = Math.floor(sourceHeight * scale);
    this.left = Math.floor((width - this.scaledWidth) / 2);
    this.top = Math.floor((height - this.scaledHeight) / 2);
    this.xRanges = ranges(this.scaledWidth, sourceWidth);
    this.yRanges = ranges(this.scaledHeight, sourceHeight);
  }

  get isIdentity(): boolean {
    return this.width === this.sourceWidth && this.height === this.sourceHeight;
  }

  scale(frame: Frame): Frame {
    if (this.isIdentity) return frame;
    const out = new Uint8Array(this.width * this.height * 4);
    for (let i = 3; i < out.length; i += 4) out[i] = 0xff;
    for (let y = 0; y < this.scaledHeight; y++) {
      for (let x = 0; x < this.scaledWidth; x++) this.average(frame, x, y, out);
    }
    return { width: this.width, height: this.height, data: out };
  }

  private average(frame: Frame, x: number, y: number, out: Uint8Array): void {
    const [x0, x1, y0, y1] = [this.xRanges[x * 2]!, this.xRanges[x * 2 + 1]!, this.yRanges[y * 2]!, this.yRanges[y * 2 + 1]!];
    let r = 0;
    let g = 0;
    let b = 0;
    for (let sy = y0; sy < y1; sy++) {
      for (let sx = x0; sx < x1; sx++) {
        const s = (sy * frame.width + sx) * 4;
        r += frame.data[s]!;
        g += frame.data[s + 1]!;
        b += frame.data[s + 2]!;
      }
    }
    const n = (x1 - x0) * (y1 - y0);
    const o = ((y + this.top) * this.width + x + this.left) * 4;
    out[o] = Math.round(r / n);
    out[o + 1] = Math.round(g / n);
    out[o + 2] = Math.round(b / n);
  }
}

/** For each of `count` output pixels, the [start, end) source range it covers. */
function ranges(count: number, source: number): Int32Array {
  const out = new Int32Array(count * 2);
  for (let i = 0; i < count; i++) {
    out[i * 2] = Math.floor((i * source) / count);
    out[i * 2 + 1] = Math.max(out[i * 2]! + 1, Math.floor(((i + 1) * source) / count));
  }
  return out;
}
