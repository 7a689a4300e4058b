import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCanvas, GlobalFonts, type SKRSContext2D } from '@napi-rs/canvas';
import type { CrewRecap } from '../../protocol/index.js';

/*
 * The crew recap as a shareable picture (PNG, 1080 × 1350, the portrait size photo apps take),
 * drawn with the canvas the gadget draws its screens with (@napi-rs/canvas) and the fonts it
 * ships (device/fonts, read as files: the relay imports no gadget code).
 */

export const RECAP_IMAGE = { width: 1080, height: 1350 } as const;
/** Where the heatmap is drawn, for the tests that read its cells back. */
export const RECAP_HEATMAP = { x: 90, y: 1010, cell: 37, gap: 1 } as const;
export const RECAP_COLORS = { background: '#12101c', card: '#1d1a2b', text: '#f1eefa', dim: '#9d97b5', accent: '#ff5c8a', cold: '#2c2840' } as const;

const FONT_DIRS = [
  fileURLToPath(new URL('../../device/fonts/', import.meta.url)),
  // A build: dist/cloud/history → device/fonts of the checkout.
  fileURLToPath(new URL('../../../device/fonts/', import.meta.url)),
];
const FAMILY = 'LeelooRecap';
let family: string | null = null;

function fontFamily(): string {
  if (family) return family;
  const dir = FONT_DIRS.find((d) => existsSync(path.join(d, 'DejaVuSans.ttf')));
  const loaded = dir ? ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].filter((f) => GlobalFonts.registerFromPath(path.join(dir, f), FAMILY) !== null) : [];
  family = loaded.length ? `${FAMILY}, sans-serif` : 'sans-serif';
  return family;
}

function fitText(g: SKRSContext2D, text: string, width: number): string {
  if (g.measureText(text).width <= width) return text;
  let cut = text;
  while (cut.length > 1 && g.measureText(`${cut}…`).width > width) cut = cut.slice(0, -1);
  return `${cut}…`;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** "November 2026" or "2026". */
export function periodLabel(period: string): string {
  const [year, month] = period.split('-');
  return month ? `${MONTHS[Number(month) - 1]} ${year}` : String(year);
}

/** Renders the recap; `crewName` heads it. */
export function recapPng(recap: CrewRecap, crewName: string): Buffer {
  const { width, height } = RECAP_IMAGE;
  const canvas = createCanvas(width, height);
  const g = canvas.getContext('2d');
  const font = (size: number, bold = false) => `${bold ? 'bold ' : ''}${size}px ${fontFamily()}`;
  g.fillStyle = RECAP_COLORS.background;
  g.fillRect(0, 0, width, height);
  const gradient = g.createLinearGradient(0, 0, width, 0);
  gradient.addColorStop(0, '#7c5cff');
  gradient.addColorStop(1, RECAP_COLORS.accent);
  g.fillStyle = gradient;
  g.fillRect(0, 0, width, 12);

  g.fillStyle = RECAP_COLORS.dim;
  g.font = font(30, true);
  g.fillText(`LEELOO CREW RECAP · ${periodLabel(recap.period).toUpperCase()}`, 90, 100);
  g.fillStyle = RECAP_COLORS.text;
  g.font = font(64, true);
  g.fillText(fitText(g, crewName || 'Your crew', width - 180), 90, 180);
  g.fillStyle = RECAP_COLORS.dim;
  g.font = font(30);
  const hours = Math.round(recap.crew.listening_ms / 3_600_000);
  g.fillText(`${recap.crew.plays} plays · ${hours} hours · ${recap.shares.total} shares`, 90, 235);

  const list = (title: string, lines: string[], x: number, y: number, w: number) => {
    g.fillStyle = RECAP_COLORS.accent;
    g.font = font(28, true);
    g.fillText(title, x, y);
    g.font = font(30);
    lines.slice(0, 5).forEach((line, i) => {
      g.fillStyle = i === 0 ? RECAP_COLORS.text : RECAP_COLORS.dim;
      g.fillText(fitText(g, `${i + 1}. ${line}`, w), x, y + 50 + i * 46);
    });
    if (!lines.length) {
      g.fillStyle = RECAP_COLORS.dim;
      g.fillText('—', x, y + 50);
    }
  };
  list(
    'TOP TRACKS',
    recap.crew.top_tracks.map((t) => `${t.track} · ${t.artist}`),
    90,
    320,
    900,
  );
  list(
    'TOP ARTISTS',
    recap.crew.top_artists.map((a) => `${a.artist} (${a.plays})`),
    90,
    610,
    420,
  );
  const sharers = [...recap.members].sort((a, b) => b.shares - a.shares).filter((m) => m.shares > 0);
  list(
    'WHO SHARED MOST',
    sharers.map((m) => `${m.name} (${m.shares})`),
    570,
    610,
    420,
  );

  // The heatmap: weekday rows, hour columns, brighter where the crew played more.
  const { x, y, cell, gap } = RECAP_HEATMAP;
  g.fillStyle = RECAP_COLORS.accent;
  g.font = font(28, true);
  g.fillText('WHEN THE CREW LISTENS', x, y - 30);
  const max = Math.max(1, ...recap.heatmap.cells.flat());
  recap.heatmap.cells.forEach((row, day) =>
    row.forEach((value, hour) => {
      g.globalAlpha = value === 0 ? 1 : 0.25 + (0.75 * value) / max;
      g.fillStyle = value === 0 ? RECAP_COLORS.cold : RECAP_COLORS.accent;
      g.fillRect(x + hour * (cell + gap), y + day * (cell + gap), cell, cell);
    }),
  );
  g.globalAlpha = 1;
  g.fillStyle = RECAP_COLORS.dim;
  g.font = font(22);
  ['M', 'T', 'W', 'T', 'F', 'S', 'S'].forEach((d, i) => g.fillText(d, x - 34, y + i * (cell + gap) + 27));
  for (const hour of [0, 6, 12, 18]) g.fillText(String(hour).padStart(2, '0'), x + hour * (cell + gap), y + 7 * (cell + gap) + 26);
  return canvas.toBuffer('image/png');
}
