import type { SKRSContext2D } from '@napi-rs/canvas';
import { wifiQrText, type Hotspot } from '../hotspot.js';
import { drawQrWaiting, drawQrWithHeading } from './qr-code.js';
import type { Area, Screen, ScreenView } from './screen.js';
import { COLORS, fitText, font, roundRect, wrapText } from './theme.js';

/** The steps of the phone setup, each one screen the person sees on the gadget. */
export type SetupStep =
  | { kind: 'boot_hold'; heldMs: number; setupAtMs: number; resetAtMs: number }
  | { kind: 'scanning' }
  | { kind: 'hotspot'; hotspot: Hotspot; url: string; error: string | null }
  | { kind: 'connecting'; ssid: string; startedAt: number }
  | { kind: 'connected'; ssid: string }
  | { kind: 'reset'; done: boolean }
  | { kind: 'unavailable'; reason: string };

const TITLES: Record<SetupStep['kind'], string> = {
  boot_hold: 'Hold for setup',
  scanning: 'Setup',
  hotspot: 'Setup',
  connecting: 'Setup',
  connected: 'Setup',
  reset: 'Factory reset',
  unavailable: 'Setup',
};

/** The setup screens: one screen whose step the setup flow moves on (device/setup-mode.ts). */
export class SetupScreen implements Screen {
  readonly id = 'setup';
  step: SetupStep = { kind: 'scanning' };

  get title(): string {
    return TITLES[this.step.kind];
  }

  draw(g: SKRSContext2D, { area, now }: ScreenView): void {
    g.textBaseline = 'alphabetic';
    g.textAlign = 'left';
    const step = this.step;
    switch (step.kind) {
      case 'hotspot':
        return drawHotspot(g, area, step);
      case 'scanning':
        return drawQrWaiting(g, area, 'Looking for Wi-Fi networks nearby…');
      case 'connecting':
        return drawProgress(g, area, `Joining “${step.ssid}”…`, 'This takes up to a minute.', ((now - step.startedAt) % 2000) / 2000);
      case 'connected':
        return drawProgress(g, area, `Connected to “${step.ssid}”`, 'Joining your crew next.', 1);
      case 'reset':
        return drawCentred(
          g,
          area,
          step.done ? 'Factory reset done' : 'Factory reset…',
          step.done ? 'Everything of the owner’s is gone. Starting setup.' : 'Clearing settings, identity and caches.',
          COLORS.error,
        );
      case 'unavailable':
        return drawCentred(g, area, 'Setup cannot start', step.reason, COLORS.error);
      case 'boot_hold':
        return drawBootHold(g, area, step);
    }
  }
}

function drawHotspot(g: SKRSContext2D, area: Area, step: Extract<SetupStep, { kind: 'hotspot' }>): void {
  const { x, width } = drawQrWithHeading(g, area, wifiQrText(step.hotspot), 'Scan to join this gadget’s Wi-Fi');
  const rows: [string, string][] = [
    ['Wi-Fi', step.hotspot.ssid],
    ['Password', step.hotspot.password],
  ];
  rows.forEach(([label, value], i) => {
    const y = area.y + 110 + i * 40;
    g.fillStyle = COLORS.muted;
    g.font = font(12);
    g.fillText(label, x, y);
    g.fillStyle = COLORS.accent;
    g.font = font(19, 'bold');
    g.fillText(fitText(g, value, width), x, y + 20);
  });
  g.fillStyle = COLORS.muted;
  g.font = font(12);
  g.fillText('then open', x, area.y + 196);
  g.fillStyle = COLORS.text;
  g.font = font(16, 'bold');
  g.fillText(fitText(g, step.url.replace(/^http:\/\//, '').replace(/\/$/, ''), width), x, area.y + 216);
  if (!step.error) return;
  g.fillStyle = COLORS.error;
  g.font = font(13, 'bold');
  wrapText(g, step.error, width, 4).forEach((line, i) => g.fillText(line, x, area.y + 236 + i * 15));
}

function drawCentred(g: SKRSContext2D, area: Area, heading: string, detail: string, color: string): void {
  g.textAlign = 'center';
  g.fillStyle = color;
  g.font = font(26, 'bold');
  g.fillText(heading, area.x + area.w / 2, area.y + 100);
  g.fillStyle = COLORS.text;
  g.font = font(16);
  wrapText(g, detail, area.w - 60, 4).forEach((line, i) => g.fillText(line, area.x + area.w / 2, area.y + 140 + i * 22));
  g.textAlign = 'left';
}

/** A heading, a line below, and a bar: `fraction` 1 is full (done); below, a sliding segment (waiting) or, with `fill`, the part done. */
function drawProgress(g: SKRSContext2D, area: Area, heading: string, detail: string, fraction: number, fill = false): void {
  drawCentred(g, area, heading, detail, fraction >= 1 ? COLORS.online : COLORS.connecting);
  const bar = { x: area.x + 60, y: area.y + 200, w: area.w - 120, h: 14 };
  g.fillStyle = COLORS.panelLight;
  roundRect(g, bar.x, bar.y, bar.w, bar.h, 7);
  g.fill();
  g.fillStyle = fraction >= 1 ? COLORS.online : COLORS.connecting;
  const segment = fraction >= 1 ? bar.w : fill ? Math.max(bar.h, bar.w * fraction) : bar.w / 4;
  const start = fraction >= 1 || fill ? 0 : (bar.w - segment) * fraction;
  roundRect(g, bar.x + start, bar.y, segment, bar.h, 7);
  g.fill();
}

function drawBootHold(g: SKRSContext2D, area: Area, step: Extract<SetupStep, { kind: 'boot_hold' }>): void {
  const resetting = step.heldMs >= step.setupAtMs;
  const heading = resetting ? 'Release now for Wi-Fi setup' : 'Keep holding ◀ and ▶';
  const secondsToReset = Math.max(0, Math.ceil((step.resetAtMs - step.heldMs) / 1000));
  const detail = resetting ? `Keep holding ${secondsToReset} s more to erase everything (factory reset).` : 'Setup mode opens when you let go after 3 seconds.';
  drawProgress(g, area, heading, detail, Math.min(0.999, step.heldMs / step.resetAtMs), true);
}
