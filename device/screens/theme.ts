import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GlobalFonts, createCanvas, type SKRSContext2D } from '@napi-rs/canvas';

/** Colours and type of every screen, so they read as one product. */
export const COLORS = {
  background: '#101218',
  panel: '#1b1f2a',
  panelLight: '#262b38',
  text: '#f2f2f5',
  muted: '#9aa0ae',
  accent: '#ff5c8a',
  love: '#ff3b6b',
  fire: '#ff9f1c',
  online: '#2ecc71',
  offline: '#5c6270',
  connecting: '#f5b82e',
  error: '#e74c3c',
} as const;

export const STATUS_BAR_HEIGHT = 30;

/**
 * The screens are designed in DejaVu Sans, shipped in device/fonts (Bitstream Vera
 * licence, device/fonts/LICENSE) and registered from there: a gadget without system
 * fonts still draws its words. Registered under one alias so screens name one family.
 */
export const FONT_DIR =
  [
    // device/screens → device/fonts, and in a release dist/device/screens → dist/device/fonts.
    fileURLToPath(new URL('../fonts/', import.meta.url)),
    // `npm run build` of a checkout: dist/device/screens → device/fonts.
    fileURLToPath(new URL('../../../device/fonts/', import.meta.url)),
  ].find((dir) => existsSync(path.join(dir, 'DejaVuSans.ttf'))) ?? fileURLToPath(new URL('../fonts/', import.meta.url));
export const UI_FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSans-Oblique.ttf'] as const;
const FAMILY = 'LeelooUI';

let fontFamily: string | null = null;
let fontError: string | null = null;

/** The font family to draw with: the shipped DejaVu Sans, else the canvas default sans-serif. */
export function uiFont(): string {
  if (fontFamily) return fontFamily;
  const missing = UI_FONT_FILES.filter((file) => GlobalFonts.registerFromPath(path.join(FONT_DIR, file), FAMILY) === null);
  fontFamily = missing.length < UI_FONT_FILES.length ? `${FAMILY}, sans-serif` : 'sans-serif';
  if (missing.length > 0) fontError = `The screen font ${missing.join(', ')} could not be loaded from ${FONT_DIR}; text may be invisible.`;
  if (!drawsText(fontFamily)) fontError = `Text cannot be drawn with ${fontFamily} (no glyphs); reinstall LEELOO so ${FONT_DIR} holds its fonts.`;
  return fontFamily;
}

/** Why text may not show on the screens, or null when the font loaded and draws. */
export function uiFontProblem(): string | null {
  uiFont();
  return fontError;
}

/** Whether a word drawn in `family` leaves any pixel: with no font at all, Skia draws nothing. */
function drawsText(family: string): boolean {
  const canvas = createCanvas(40, 20);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.font = `16px ${family}`;
  g.fillText('Ag', 2, 16);
  return g.getImageData(0, 0, 40, 20).data.some((v, i) => i % 4 === 3 && v > 0);
}

export function font(size: number, weight: 'normal' | 'bold' = 'normal'): string {
  return `${weight} ${size}px ${uiFont()}`;
}

/** Shortens text with an ellipsis until it fits maxWidth at the current font. */
export function fitText(g: SKRSContext2D, text: string, maxWidth: number): string {
  if (g.measureText(text).width <= maxWidth) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (g.measureText(`${text.slice(0, mid)}…`).width <= maxWidth) low = mid;
    else high = mid - 1;
  }
  return `${text.slice(0, low).trimEnd()}…`;
}

/** Breaks text into at most maxLines lines that fit maxWidth; the last one is ellipsized. */
export function wrapText(g: SKRSContext2D, text: string, maxWidth: number, maxLines: number): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (let i = 0; i < words.length; i++) {
    const candidate = line ? `${line} ${words[i]}` : (words[i] as string);
    if (g.measureText(candidate).width <= maxWidth || !line) {
      line = candidate;
      continue;
    }
    if (lines.length === maxLines - 1) {
      lines.push(fitText(g, `${line} ${words.slice(i).join(' ')}`, maxWidth));
      return lines;
    }
    lines.push(line);
    line = words[i] as string;
  }
  if (line) lines.push(fitText(g, line, maxWidth));
  return lines;
}

export function roundRect(g: SKRSContext2D, x: number, y: number, w: number, h: number, r: number): void {
  g.beginPath();
  g.roundRect(x, y, w, h, r);
}

/** A stable colour for a string (album-art placeholders, member avatars). */
export function colorFor(seed: string): string {
  let hash = 2166136261;
  for (let i = 0; i < seed.length; i++) hash = Math.imul(hash ^ seed.charCodeAt(i), 16777619);
  const hue = (hash >>> 0) % 360;
  return `hsl(${hue}, 55%, 42%)`;
}

export function initials(text: string): string {
  const words = text.split(/[\s\-_/]+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
  const letters = words.slice(0, 2).map((w) => [...w.replace(/^[^\p{L}\p{N}]+/u, '')][0] ?? '');
  return letters.join('').toUpperCase() || '♪';
}

/** A heart, centred on (cx, cy), `size` wide. Drawn as a path: no emoji font on the Pi. */
export function drawHeart(g: SKRSContext2D, cx: number, cy: number, size: number, color: string): void {
  const s = size / 2;
  g.save();
  g.fillStyle = color;
  g.beginPath();
  g.moveTo(cx, cy + s * 0.9);
  g.bezierCurveTo(cx - s * 1.4, cy - s * 0.1, cx - s * 0.6, cy - s * 1.1, cx, cy - s * 0.4);
  g.bezierCurveTo(cx + s * 0.6, cy - s * 1.1, cx + s * 1.4, cy - s * 0.1, cx, cy + s * 0.9);
  g.fill();
  g.restore();
}

/** A flame, centred on (cx, cy), `size` tall. */
export function drawFlame(g: SKRSContext2D, cx: number, cy: number, size: number, color: string): void {
  const s = size / 2;
  g.save();
  g.fillStyle = color;
  g.beginPath();
  g.moveTo(cx, cy - s);
  g.bezierCurveTo(cx + s * 0.2, cy - s * 0.4, cx + s * 0.8, cy - s * 0.2, cx + s * 0.7, cy + s * 0.35);
  g.bezierCurveTo(cx + s * 0.6, cy + s * 0.9, cx - s * 0.6, cy + s * 0.9, cx - s * 0.7, cy + s * 0.35);
  g.bezierCurveTo(cx - s * 0.75, cy - s * 0.05, cx - s * 0.35, cy - s * 0.25, cx - s * 0.25, cy - s * 0.55);
  g.bezierCurveTo(cx - s * 0.05, cy - s * 0.3, cx + s * 0.05, cy - s * 0.55, cx, cy - s);
  g.fill();
  g.fillStyle = '#ffd166';
  g.beginPath();
  g.ellipse(cx, cy + s * 0.45, s * 0.3, s * 0.38, 0, 0, Math.PI * 2);
  g.fill();
  g.restore();
}

export function drawReactionIcon(g: SKRSContext2D, reaction: 'love' | 'fire', cx: number, cy: number, size: number): void {
  if (reaction === 'love') drawHeart(g, cx, cy, size, COLORS.love);
  else drawFlame(g, cx, cy, size, COLORS.fire);
}

/** A banner shown at the bottom of a screen for a few seconds: a confirmation or an error. */
export interface Notice {
  readonly text: string;
  readonly tone: 'ok' | 'error';
  readonly until: number;
}

/** Draws a notice `bottom` pixels above the area's lower edge. */
export function drawNotice(
  g: SKRSContext2D,
  area: { x: number; y: number; w: number; h: number },
  notice: Notice,
  options: { bottom: number; size: number },
): void {
  const h = 34;
  const y = area.y + area.h - h - options.bottom;
  g.fillStyle = notice.tone === 'ok' ? COLORS.online : COLORS.error;
  roundRect(g, area.x + 12, y, area.w - 24, h, 10);
  g.fill();
  g.fillStyle = '#ffffff';
  g.font = font(options.size, 'bold');
  g.textAlign = 'center';
  g.fillText(fitText(g, notice.text, area.w - 44), area.x + area.w / 2, y + 22);
  g.textAlign = 'left';
}
