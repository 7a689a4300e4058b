import type { SKRSContext2D } from '@napi-rs/canvas';
import type { ReactionFlash } from '../state.js';
import type { Area } from './screen.js';
import { COLORS, drawReactionIcon, fitText, font } from './theme.js';

/** How long the incoming-reaction animation runs, and how many frames it takes. */
export const REACTION_ANIMATION_MS = 1000;
export const REACTION_FRAMES = 10;

/**
 * Drawn over the current screen while a reaction arrives: the icon pops in with an
 * overshoot, small copies float up, then everything fades. `progress` runs 0 → 1.
 */
export function drawReactionOverlay(g: SKRSContext2D, area: Area, flash: ReactionFlash, progress: number): void {
  const p = Math.min(1, Math.max(0, progress));
  const fade = p < 0.75 ? 1 : 1 - (p - 0.75) / 0.25;
  const cx = area.x + area.w / 2;
  const cy = area.y + area.h / 2 - 14;
  g.save();
  g.globalAlpha = 0.78 * fade;
  g.fillStyle = COLORS.background;
  g.fillRect(area.x, area.y, area.w, area.h);
  g.globalAlpha = fade;
  const pop = p < 0.3 ? easeOutBack(p / 0.3) : 1;
  drawReactionIcon(g, flash.reaction, cx, cy, 40 + 80 * pop);
  for (let i = 0; i < 6; i++) {
    const angle = (i / 6) * Math.PI * 2;
    const rise = p * 90;
    drawReactionIcon(g, flash.reaction, cx + Math.cos(angle) * (60 + p * 70), cy + Math.sin(angle) * 40 - rise, 18 * (1 - p * 0.5));
  }
  g.fillStyle = COLORS.text;
  g.font = font(18, 'bold');
  g.textAlign = 'center';
  g.textBaseline = 'alphabetic';
  const line = flash.reaction === 'love' ? `${flash.fromName} loves it` : `${flash.fromName} says it's fire`;
  g.fillText(fitText(g, line, area.w - 40), cx, area.y + area.h - 30);
  g.restore();
  g.textAlign = 'left';
}

function easeOutBack(t: number): number {
  const c = 1.70158;
  return 1 + (c + 1) * (t - 1) ** 3 + c * (t - 1) ** 2;
}
