import type { Display, Frame } from '../../device/hardware.js';

/** A Display that keeps every presented frame, so tests assert on what the user saw. */
export class RecordingDisplay implements Display {
  readonly width = 480;
  readonly height = 320;
  readonly frames: Frame[] = [];
  backlight = true;
  started = false;
  private waiters: { count: number; resolve: () => void }[] = [];

  async start(): Promise<void> {
    this.started = true;
  }

  async present(frame: Frame): Promise<void> {
    this.frames.push({ width: frame.width, height: frame.height, data: new Uint8ClampedArray(frame.data) });
    this.waiters = this.waiters.filter((w) => (this.frames.length >= w.count ? (w.resolve(), false) : true));
  }

  async setBacklight(on: boolean): Promise<void> {
    this.backlight = on;
  }

  async stop(): Promise<void> {
    this.started = false;
  }

  /** Resolves once at least `count` frames were presented; fails after timeoutMs. */
  waitForFrames(count: number, timeoutMs = 5000): Promise<void> {
    if (this.frames.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.frames.length} of ${count} frames presented`)), timeoutMs);
      this.waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
}
