import type { ButtonEvent, ButtonName } from './hardware.js';

/**
 * One button's gestures from its settled presses and releases: press at once, long
 * press once held for `longPressMs`, double press when pressed again within
 * `doublePressMs` of a short press's release. Shared by the GPIO driver (after its
 * debounce) and the input-event driver (the kernel debounces).
 */
export interface GestureConfig {
  longPressMs: number;
  doublePressMs: number;
  emit: (event: ButtonEvent) => void;
}

/**
 * A press read late (the loop was busy, the kernel queued it) waits at least this long for its
 * release before it counts as long: the release may be queued right behind it, in the next read.
 * The long press still carries the kernel's time (`pressedAt + longPressMs`).
 */
export const LATE_PRESS_SETTLE_MS = 50;

export class ButtonGestures {
  private hold: ReturnType<typeof setTimeout> | null = null;
  private pressedAt: number | null = null;
  private longFired = false;
  private lastShortReleaseAt: number | null = null;

  constructor(
    private readonly name: ButtonName,
    private readonly config: GestureConfig,
  ) {}

  /** `at` is when the press happened; the long-press timer counts from now minus `lateMs`. */
  press(at: number, lateMs = 0): void {
    const { emit, doublePressMs, longPressMs } = this.config;
    emit({ kind: 'press', button: this.name, at });
    const last = this.lastShortReleaseAt;
    this.lastShortReleaseAt = null;
    if (last !== null && at - last <= doublePressMs) emit({ kind: 'double_press', button: this.name, at });
    this.pressedAt = at;
    this.longFired = false;
    if (this.hold) clearTimeout(this.hold);
    this.hold = setTimeout(() => this.long(), Math.max(lateMs > 0 ? LATE_PRESS_SETTLE_MS : 0, longPressMs - lateMs));
  }

  release(at: number): void {
    if (this.pressedAt === null) return;
    // A press and its release read together (the loop was busy) still count as long if they were.
    if (!this.longFired && at - this.pressedAt >= this.config.longPressMs) this.long();
    this.cancel();
    this.pressedAt = null;
    this.config.emit({ kind: 'release', button: this.name, at });
    this.lastShortReleaseAt = this.longFired ? null : at;
  }

  cancel(): void {
    if (this.hold) clearTimeout(this.hold);
    this.hold = null;
  }

  private long(): void {
    this.hold = null;
    if (this.longFired || this.pressedAt === null) return;
    this.longFired = true;
    this.config.emit({ kind: 'long_press', button: this.name, at: this.pressedAt + this.config.longPressMs });
  }
}
