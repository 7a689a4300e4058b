import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { Display } from './hardware.js';

/**
 * Turns the backlight off after `idleMs` without activity and back on at the next
 * one. The controller reports activity (a button, an incoming share, a reaction);
 * `activity()` says whether it woke the screen, so a press that only wakes it can be
 * swallowed. A backlight that fails to switch is logged, never fatal.
 */
export interface ScreenSleepOptions {
  display: Pick<Display, 'setBacklight'>;
  /** 0 disables sleeping. */
  idleMs: number;
  onError?: (error: unknown) => void;
  /** Told when the screen falls asleep (false) or wakes (true): polling follows it. */
  onChange?: (awake: boolean) => void;
  clock?: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
}

export class ScreenSleep {
  private timer: TimerHandle | null = null;
  private sleeping = false;
  private running = false;

  private readonly clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>;

  constructor(private readonly options: ScreenSleepOptions) {
    this.clock = options.clock ?? systemClock;
  }

  get asleep(): boolean {
    return this.sleeping;
  }

  start(): void {
    this.running = true;
    this.arm();
  }

  stop(): void {
    this.running = false;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Something happened the owner should see; returns true if the screen was asleep. */
  async activity(): Promise<boolean> {
    if (!this.running) return false;
    this.arm();
    if (!this.sleeping) return false;
    this.sleeping = false;
    this.options.onChange?.(true);
    await this.switch(true);
    return true;
  }

  private arm(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = null;
    if (!(this.options.idleMs > 0)) return;
    this.timer = this.clock.setTimeout(() => void this.sleep(), this.options.idleMs);
  }

  private async sleep(): Promise<void> {
    this.timer = null;
    if (!this.running || this.sleeping) return;
    this.sleeping = true;
    this.options.onChange?.(false);
    await this.switch(false);
  }

  private async switch(on: boolean): Promise<void> {
    try {
      await this.options.display.setBacklight(on);
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}
