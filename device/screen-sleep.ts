import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { Display } from './hardware.js';

/**
 * Turns the backlight off by two rules and back on at the next activity. The no-activity
 * rule: `idleMs` without activity (a button, an incoming share, a reaction, the owner
 * starting music). The no-music rule: `silenceMs` without activity while nothing plays on
 * the owner's Spotify (`setPlaying`); music playing holds this one off, not the other.
 * Whichever falls due first puts the screen to sleep. `activity()` says whether it woke
 * the screen, so a press that only wakes it can be swallowed. A backlight that fails to
 * switch is logged, never fatal.
 */
export interface ScreenSleepOptions {
  display: Pick<Display, 'setBacklight'>;
  /** The no-activity rule; 0 disables it. */
  idleMs: number;
  /** The no-music rule; 0 or absent disables it. */
  silenceMs?: number;
  onError?: (error: unknown) => void;
  /** Told when the screen falls asleep (false) or wakes (true): polling follows it. */
  onChange?: (awake: boolean) => void;
  clock?: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
}

export class ScreenSleep {
  private idleTimer: TimerHandle | null = null;
  private silenceTimer: TimerHandle | null = null;
  private sleeping = false;
  private running = false;
  private playing = false;

  private readonly clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>;

  constructor(private readonly options: ScreenSleepOptions) {
    this.clock = options.clock ?? systemClock;
  }

  get asleep(): boolean {
    return this.sleeping;
  }

  start(): void {
    this.running = true;
    this.armIdle();
    this.armSilence();
  }

  stop(): void {
    this.running = false;
    this.disarm();
  }

  /** Something happened the owner should see; returns true if the screen was asleep. */
  async activity(): Promise<boolean> {
    if (!this.running) return false;
    this.armIdle();
    this.armSilence();
    if (!this.sleeping) return false;
    this.sleeping = false;
    this.options.onChange?.(true);
    await this.switch(true);
    return true;
  }

  /** Whether the owner's music plays: the no-music rule counts from the moment it stops. */
  setPlaying(playing: boolean): void {
    if (playing === this.playing) return;
    this.playing = playing;
    if (this.running && !this.sleeping) this.armSilence();
  }

  private armIdle(): void {
    this.clock.clearTimeout(this.idleTimer);
    this.idleTimer = this.arm(this.options.idleMs);
  }

  private armSilence(): void {
    this.clock.clearTimeout(this.silenceTimer);
    this.silenceTimer = this.playing ? null : this.arm(this.options.silenceMs ?? 0);
  }

  private arm(ms: number): TimerHandle | null {
    return ms > 0 ? this.clock.setTimeout(() => void this.sleep(), ms) : null;
  }

  private disarm(): void {
    this.clock.clearTimeout(this.idleTimer);
    this.clock.clearTimeout(this.silenceTimer);
    this.idleTimer = null;
    this.silenceTimer = null;
  }

  private async sleep(): Promise<void> {
    this.disarm();
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
