import { readFile } from 'node:fs/promises';

/**
 * Reads a file standing in for /dev/fbN back into RGBA, the way the panel would show
 * it: RGB565 little-endian (5-6-5 bits widened back to 8) or XRGB8888 little-endian.
 */
export async function decodeFramebuffer(path: string, geometry: { width: number; height: number; bpp: 16 | 32; stride?: number }): Promise<Uint8Array> {
  const bytes = await readFile(path);
  const stride = geometry.stride ?? (geometry.width * geometry.bpp) / 8;
  const out = new Uint8Array(geometry.width * geometry.height * 4);
  for (let y = 0; y < geometry.height; y++) {
    for (let x = 0; x < geometry.width; x++) {
      const o = (y * geometry.width + x) * 4;
      if (geometry.bpp === 16) setRgb565(out, o, bytes.readUInt16LE(y * stride + x * 2));
      else setXrgb(out, o, bytes, y * stride + x * 4);
    }
  }
  return out;
}

function setRgb565(out: Uint8Array, o: number, v: number): void {
  out[o] = ((v >> 11) & 0x1f) << 3;
  out[o + 1] = ((v >> 5) & 0x3f) << 2;
  out[o + 2] = (v & 0x1f) << 3;
  out[o + 3] = 0xff;
}

function setXrgb(out: Uint8Array, o: number, bytes: Buffer, i: number): void {
  out[o] = bytes[i + 2]!;
  out[o + 1] = bytes[i + 1]!;
  out[o + 2] = bytes[i]!;
  out[o + 3] = 0xff;
}

/** The RGBA frame truncated to what RGB565 keeps, for exact comparison with a decoded framebuffer. */
export function quantize565(rgba: Uint8Array | Uint8ClampedArray): Uint8Array {
  const out = new Uint8Array(rgba.length);
  for (let i = 0; i < rgba.length; i += 4) {
    out[i] = rgba[i]! & 0xf8;
    out[i + 1] = rgba[i + 1]! & 0xfc;
    out[i + 2] = rgba[i + 2]! & 0xf8;
    out[i + 3] = 0xff;
  }
  return out;
}

export function opaque(rgba: Uint8Array | Uint8ClampedArray): Uint8Array {
  const out = Uint8Array.from(rgba);
  for (let i = 3; i < out.length; i += 4) out[i] = 0xff;
  return out;
}
