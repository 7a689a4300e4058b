import type { Rect } from './hardware.js';
import { DCS, type PanelCommand } from './panels/panel.js';

/**
 * What goes over the wire to an SPI panel, as a list of transfers each tagged with
 * the level of the DC line (0 = command, 1 = data). Pure, so the driver, the tests
 * and the benchmark all count the same bytes.
 */
export interface Transfer {
  dc: 0 | 1;
  data: Buffer;
}

export type RegWidth = 8 | 16;

/** A command and its parameters; a 16-bit register bus takes each byte as the word 0x00, byte. */
export function commandTransfers(command: PanelCommand, regWidth: RegWidth): Transfer[] {
  const out: Transfer[] = [{ dc: 0, data: widen([command.cmd], regWidth) }];
  if (command.data && command.data.length > 0) out.push({ dc: 1, data: widen(command.data, regWidth) });
  return out;
}

function widen(bytes: readonly number[], regWidth: RegWidth): Buffer {
  if (regWidth === 8) return Buffer.from(bytes);
  const out = Buffer.alloc(bytes.length * 2);
  bytes.forEach((b, i) => (out[i * 2 + 1] = b));
  return out;
}

/** CASET, RASET, RAMWR for `rect`, then its pixels (RGB565 big-endian, row-major). */
export function windowTransfers(rect: Rect, pixels: Buffer, regWidth: RegWidth): Transfer[] {
  const x1 = rect.x + rect.w - 1;
  const y1 = rect.y + rect.h - 1;
  return [
    ...commandTransfers({ cmd: DCS.CASET, data: [rect.x >> 8, rect.x & 0xff, x1 >> 8, x1 & 0xff] }, regWidth),
    ...commandTransfers({ cmd: DCS.RASET, data: [rect.y >> 8, rect.y & 0xff, y1 >> 8, y1 & 0xff] }, regWidth),
    ...commandTransfers({ cmd: DCS.RAMWR }, regWidth),
    { dc: 1, data: pixels },
  ];
}

/**
 * Splits transfers so none exceeds the spidev buffer (spidev rejects a message larger
 * than its bufsiz). Chunks stay a whole number of 16-bit words: a 16-bit shift
 * register must never be left holding half a pixel.
 */
export function splitTransfers(transfers: Transfer[], bufsiz: number): Transfer[] {
  const chunk = Math.max(2, bufsiz - (bufsiz % 2));
  const out: Transfer[] = [];
  for (const t of transfers) {
    for (let start = 0; start < t.data.length; start += chunk) {
      out.push({ dc: t.dc, data: t.data.subarray(start, start + chunk) });
    }
  }
  return out;
}

export function totalBytes(transfers: Transfer[]): number {
  return transfers.reduce((sum, t) => sum + t.data.length, 0);
}

/** Bytes-equivalent of one window's fixed cost: its command bytes plus ~6 GPIO/ioctl round trips of ~40 µs. */
export function windowOverheadBytes(regWidth: RegWidth, speedHz: number): number {
  const commandBytes = 11 * (regWidth / 8);
  return commandBytes + Math.round((speedHz / 8) * 240e-6);
}
