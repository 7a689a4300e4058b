import { createCanvas, type Canvas, type SKRSContext2D } from '@napi-rs/canvas';
import type { Frame } from '../hardware.js';
import type { DeviceState, ReactionFlash } from '../state.js';
import type { Area, Screen } from './screen.js';
import { drawReactionOverlay } from './reaction.js';
import { drawStatusBar } from './status-bar.js';
import { COLORS, drawNotice, STATUS_BAR_HEIGHT, type Notice } from './theme.js';

export const SCREEN_WIDTH = 480;
export const SCREEN_HEIGHT = 320;

export interface RenderInput {
  readonly screen: Screen;
  readonly state: DeviceState;
  readonly now: number;
  readonly overlay?: { flash: ReactionFlash; progress: number } | null;
  /** A line over the top of every screen (the controller's showLine). */
  readonly line?: Notice | null;
}

/** Draws the status bar plus one screen into a reused canvas and returns the pixels. */
export class ScreenRenderer {
  private readonly canvas: Canvas;
  private readonly g: SKRSContext2D;
  /** Every string drawn into the frame being rendered (Frame.text). */
  private text: string[] = [];

  constructor(
    readonly width = SCREEN_WIDTH,
    readonly height = SCREEN_HEIGHT,
  ) {
    this.canvas = createCanvas(width, height);
    this.g = this.canvas.getContext('2d');
    // Screens draw their words with fillText; noting them gives the frame a text alternative.
    const fillText = this.g.fillText.bind(this.g);
    this.g.fillText = (text: string, x: number, y: number, maxWidth?: number): void => {
      if (text.trim()) this.text.push(text);
      if (maxWidth === undefined) fillText(text, x, y);
      else fillText(text, x, y, maxWidth);
    };
  }

  render({ screen, state, now, overlay, line }: RenderInput): Frame {
    const g = this.g;
    this.text = [];
    const area: Area = { x: 0, y: STATUS_BAR_HEIGHT, w: this.width, h: this.height - STATUS_BAR_HEIGHT };
    g.save();
    g.fillStyle = COLORS.background;
    g.fillRect(0, 0, this.width, this.height);
    g.beginPath();
    g.rect(area.x, area.y, area.w, area.h);
    g.clip();
    this.drawScreen(screen, area, state, now);
    if (overlay) drawReactionOverlay(g, area, overlay.flash, overlay.progress);
    // At the top: the screens' own notices sit at the bottom.
    if (line && line.until > now) drawNotice(g, area, line, { bottom: area.h - 34 - 8, size: 15 });
    g.restore();
    drawStatusBar(g, this.width, state, screen.title, now);
    const image = g.getImageData(0, 0, this.width, this.height);
    // Copy: the canvas memory is reused by the next render while the display may still hold this frame.
    return { width: this.width, height: this.height, data: new Uint8ClampedArray(image.data), text: this.text };
  }

  private drawScreen(screen: Screen, area: Area, state: DeviceState, now: number): void {
    try {
      screen.draw(this.g, { state, area, now });
    } catch (error) {
      // A broken screen must not take the daemon down: show what failed instead.
      this.g.fillStyle = COLORS.error;
      this.g.font = '14px sans-serif';
      this.g.fillText(`The ${screen.id} screen failed to draw: ${(error as Error).message}`.slice(0, 70), 12, area.y + 30);
    }
  }
}
