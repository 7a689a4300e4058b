import type { SKRSContext2D } from '@napi-rs/canvas';
import QRCode from 'qrcode';
import type { ScreenView } from './screen.js';
import { COLORS, font, wrapText } from './theme.js';

/** Modules of the last few encoded texts: a screen redraws every second, encoding once is enough. */
const encoded = new Map<string, { size: number; modules: Uint8Array }>();
const KEEP = 4;

function modulesOf(text: string): { size: number; modules: Uint8Array } {
  let found = encoded.get(text);
  if (!found) {
    const code = QRCode.create(text, { errorCorrectionLevel: 'M' });
    found = { size: code.modules.size, modules: code.modules.data };
    if (encoded.size >= KEEP) encoded.delete(encoded.keys().next().value as string);
    encoded.set(text, found);
  }
  return found;
}

/**
 * Draws `text` as a QR code (error correction M) in a square of at most `side` pixels at
 * (x, y): black modules on white with a two-module quiet zone, scaled to whole pixels so a
 * phone camera sees sharp edges. Returns the side actually drawn.
 */
export function drawQrCode(g: SKRSContext2D, text: string, x: number, y: number, side: number): number {
  const { size, modules } = modulesOf(text);
  const scale = Math.max(1, Math.floor(side / (size + 4)));
  const drawn = scale * (size + 4);
  g.fillStyle = '#ffffff';
  g.fillRect(x, y, drawn, drawn);
  g.fillStyle = '#000000';
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      if (modules[row * size + col]) g.fillRect(x + (col + 2) * scale, y + (row + 2) * scale, scale, scale);
    }
  }
  return drawn;
}

type Area = ScreenView['area'];

/** What a QR screen shows while it has no link: up to three centred lines. */
export function drawQrWaiting(g: SKRSContext2D, area: Area, text: string): void {
  g.fillStyle = COLORS.text;
  g.font = font(18);
  g.textAlign = 'center';
  wrapText(g, text, area.w - 60, 3).forEach((line, i) => g.fillText(line, area.x + area.w / 2, area.y + area.h / 2 - 10 + i * 24));
  g.textAlign = 'left';
}

/**
 * The QR code of `url` filling the left of the area, and a heading beside it; returns the
 * text column (x and width) for what the screen adds below the heading.
 */
export function drawQrWithHeading(g: SKRSContext2D, area: Area, url: string, heading: string): { x: number; width: number } {
  const side = area.h - 24;
  drawQrCode(g, url, area.x + 14, area.y + 12, side);
  const x = area.x + side + 34;
  const width = area.x + area.w - x - 14;
  g.fillStyle = COLORS.text;
  g.font = font(18, 'bold');
  wrapText(g, heading, width, 3).forEach((line, i) => g.fillText(line, x, area.y + 40 + i * 23));
  return { x, width };
}
