/**
 * The device reaches its hardware only through these interfaces. Each has a real
 * implementation (framebuffer or SPI panel, GPIO buttons) and a simulated one; the
 * daemon picks one from its configuration and never knows which it got.
 */

/** A whole screen image as the canvas draws it: RGBA, 8 bits per channel, row-major, no padding. */
export interface Frame {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint8ClampedArray;
  /**
   * The words on the frame, in drawing order, when the renderer knows them: the simulated
   * display's mirror gives them to screen readers (the image's text alternative). Panels ignore them.
   */
  readonly text?: readonly string[];
}

/** A rectangle in screen pixels; x/y inclusive, w/h in pixels. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Display {
  readonly width: number;
  readonly height: number;
  /** Opens the device and prepares the panel (init sequence, geometry). */
  start(): Promise<void>;
  /**
   * Shows a frame. The driver compares it with what is on the panel and sends only
   * what changed. Frames are presented one at a time: the caller awaits each.
   */
  present(frame: Frame): Promise<void>;
  /** Backlight on or off (the screen sleeps with it off). */
  setBacklight(on: boolean): Promise<void>;
  /** Turns the panel off where it can and releases the device. */
  stop(): Promise<void>;
}

/** Logical buttons. Their pins (or keys, or the mirror page's buttons) are configured. */
export const BUTTON_NAMES = ['prev', 'next', 'primary', 'secondary'] as const;
export type ButtonName = (typeof BUTTON_NAMES)[number];

export type ButtonEvent =
  | { kind: 'press' | 'release' | 'long_press' | 'double_press'; button: ButtonName; at: number }
  | { kind: 'rotate'; delta: 1 | -1; at: number };

export interface Buttons {
  start(): Promise<void>;
  /** Subscribes to button events; returns the unsubscribe function. */
  onEvent(listener: (event: ButtonEvent) => void): () => void;
  /** Releases the pins (unexport) or the keyboard. */
  stop(): Promise<void>;
}
