import { createCanvas } from '@napi-rs/canvas';
import type { Frame } from '../../device/hardware.js';

/**
 * Frames shaped like the gadget's screens (header with clock and connection dot,
 * album-art square, titles, a progress bar) so the drivers are tested on the kind of
 * change they really see: a clock tick, a progress bar step, a new shared track.
 */
export interface SampleScreen {
  clock: string;
  progress: number;
  track: string;
  artist: string;
  artHue: number;
  banner?: string;
}

export const BASE_SCREEN: SampleScreen = {
  clock: '12:04',
  progress: 0.31,
  track: 'Teardrop',
  artist: 'Massive Attack',
  artHue: 200,
};

export function renderSample(screen: SampleScreen, width = 480, height = 320): Frame {
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#101018';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = '#e8e8f0';
  ctx.font = '20px sans-serif';
  ctx.fillText(screen.clock, 400, 28);
  ctx.fillStyle = '#3c3';
  ctx.beginPath();
  ctx.arc(20, 20, 6, 0, Math.PI * 2);
  ctx.fill();
  drawArt(ctx, screen.artHue);
  ctx.fillStyle = '#ffffff';
  ctx.font = 'bold 26px sans-serif';
  ctx.fillText(screen.track, 200, 110);
  ctx.font = '20px sans-serif';
  ctx.fillStyle = '#b0b0c0';
  ctx.fillText(screen.artist, 200, 145);
  drawProgress(ctx, screen.progress);
  if (screen.banner) drawBanner(ctx, screen.banner);
  const image = ctx.getImageData(0, 0, width, height);
  return { width, height, data: image.data };
}

type Ctx = ReturnType<ReturnType<typeof createCanvas>['getContext']>;

function drawArt(ctx: Ctx, hue: number): void {
  const gradient = ctx.createLinearGradient(24, 60, 184, 220);
  gradient.addColorStop(0, `hsl(${hue}, 70%, 55%)`);
  gradient.addColorStop(1, `hsl(${(hue + 90) % 360}, 60%, 25%)`);
  ctx.fillStyle = gradient;
  ctx.fillRect(24, 60, 160, 160);
}

function drawProgress(ctx: Ctx, progress: number): void {
  ctx.fillStyle = '#303040';
  ctx.fillRect(24, 260, 432, 8);
  ctx.fillStyle = '#1db954';
  ctx.fillRect(24, 260, Math.round(432 * progress), 8);
}

function drawBanner(ctx: Ctx, text: string): void {
  ctx.fillStyle = '#402060';
  ctx.fillRect(0, 280, 480, 40);
  ctx.fillStyle = '#ffffff';
  ctx.font = '18px sans-serif';
  ctx.fillText(text, 16, 306);
}

/** The RGBA frame after painting `rects` of `next` over `prev`: what a panel shows after a partial update. */
export function applyRects(prev: Frame, next: Frame, rects: Array<{ x: number; y: number; w: number; h: number }>): Uint8Array {
  const out = Uint8Array.from(prev.data);
  for (const r of rects) {
    for (let y = r.y; y < r.y + r.h; y++) {
      const start = (y * next.width + r.x) * 4;
      out.set(next.data.subarray(start, start + r.w * 4), start);
    }
  }
  return out;
}
