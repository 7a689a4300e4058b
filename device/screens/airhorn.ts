import type { SKRSContext2D } from '@napi-rs/canvas';
import type { ButtonEvent } from '../hardware.js';
import type { Screen, ScreenHost, ScreenView } from './screen.js';
import { COLORS, fitText, font } from './theme.js';

/** How long the crew-wide airhorn takes over the screen, and its frame interval. */
export const AIRHORN_ANIMATION_MS = 3000;
export const AIRHORN_FRAME_MS = 100;

/**
 * The airhorn: a crew member wants everyone's attention. Shown on demand over whatever
 * was on screen: a horn blasting rings that flash between accent and fire colours, and
 * who sounded it. Any button returns to the previous screen early.
 */
export class AirhornScreen implements Screen {
  readonly id = 'airhorn';
  readonly title = 'Airhorn!';
  blast: { fromName: string; start: number } | null = null;
  /** Where a button press (or the end of the animation) returns to. */
  returnTo = 'queue';

  draw(g: SKRSContext2D, { area, now }: ScreenView): void {
    const blast = this.blast;
    if (!blast) return;
    const t = Math.min(1, Math.max(0, (now - blast.start) / AIRHORN_ANIMATION_MS));
    const flash = Math.floor((now - blast.start) / 250) % 2 === 0;
    g.fillStyle = flash ? COLORS.accent : COLORS.fire;
    g.fillRect(area.x, area.y, area.w, area.h);
    const cx = area.x + area.w / 2 - 40;
    const cy = area.y + area.h / 2 - 20;
    drawRings(g, cx + 60, cy, t);
    drawHorn(g, cx, cy);
    g.fillStyle = '#ffffff';
    g.font = font(24, 'bold');
    g.textAlign = 'center';
    g.textBaseline = 'alphabetic';
    g.fillText(fitText(g, `${blast.fromName} sounded the airhorn!`, area.w - 40), area.x + area.w / 2, area.y + area.h - 36);
    g.textAlign = 'left';
  }

  onButton(event: ButtonEvent, host: ScreenHost): boolean {
    if (event.kind === 'release') return true;
    host.show(this.returnTo);
    return true;
  }
}

/** Sound rings that travel outwards; three at a time, staggered. */
function drawRings(g: SKRSContext2D, x: number, y: number, t: number): void {
  g.save();
  g.strokeStyle = '#ffffff';
  g.lineWidth = 6;
  for (let i = 0; i < 3; i++) {
    const phase = (t * 3 + i / 3) % 1;
    g.globalAlpha = 1 - phase;
    g.beginPath();
    g.arc(x, y, 20 + phase * 110, -Math.PI / 4, Math.PI / 4);
    g.stroke();
  }
  g.restore();
}

/** A horn as a path (no emoji font on the Pi): bulb, tube and bell. */
function drawHorn(g: SKRSContext2D, x: number, y: number): void {
  g.save();
  g.fillStyle = '#ffffff';
  g.beginPath();
  g.arc(x - 50, y, 18, 0, Math.PI * 2);
  g.fill();
  g.fillRect(x - 36, y - 7, 40, 14);
  g.beginPath();
  g.moveTo(x, y - 8);
  g.lineTo(x + 50, y - 34);
  g.lineTo(x + 50, y + 34);
  g.lineTo(x, y + 8);
  g.closePath();
  g.fill();
  g.restore();
}
