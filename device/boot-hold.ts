import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { ButtonEvent, Buttons } from './hardware.js';
import type { SetupStep } from './screens/setup.js';

/** What holding ◀ and ▶ together while the gadget starts asks for. */
export type BootChoice = 'normal' | 'setup' | 'factory_reset';

export interface BootHoldOptions {
  readonly buttons: Buttons;
  /** The buttons' long-press threshold: a long_press event comes this long after the button went down. */
  readonly longPressMs: number;
  readonly clock?: Clock;
  /** How long after start a hold may begin. */
  readonly windowMs?: number;
  /** Held at least this long (then released): setup mode. */
  readonly setupAtMs?: number;
  /** Held this long: factory reset, without waiting for the release. */
  readonly resetAtMs?: number;
  /** Called while the hold lasts, for the screen. */
  readonly onProgress?: (step: Extract<SetupStep, { kind: 'boot_hold' }>) => void;
}

export const BOOT_HOLD = { windowMs: 4000, setupAtMs: 3000, resetAtMs: 10_000 } as const;

/**
 * Watches the buttons for a few seconds at boot. Holding ◀ (prev) and ▶ (next) together
 * for 3 s and letting go opens setup mode; holding them 10 s is a factory reset. Both
 * buttons must have reached their long press and neither been released; a hold ends at
 * the first release.
 */
export function readBootHold(options: BootHoldOptions): Promise<BootChoice> {
  const clock = options.clock ?? systemClock;
  const windowMs = options.windowMs ?? BOOT_HOLD.windowMs;
  const setupAtMs = options.setupAtMs ?? BOOT_HOLD.setupAtMs;
  const resetAtMs = options.resetAtMs ?? BOOT_HOLD.resetAtMs;
  return new Promise((resolve) => {
    const held = new Set<string>();
    let holdStart: number | null = null;
    let tick: TimerHandle | null = null;
    const finish = (choice: BootChoice): void => {
      off();
      clock.clearTimeout(windowTimer);
      clock.clearTimeout(tick);
      resolve(choice);
    };
    const heldMs = (): number => (holdStart === null ? 0 : clock.now() - holdStart);
    const report = (): void => {
      if (holdStart === null) return;
      const ms = heldMs();
      if (ms >= resetAtMs) return finish('factory_reset');
      options.onProgress?.({ kind: 'boot_hold', heldMs: ms, setupAtMs, resetAtMs });
      tick = clock.setTimeout(report, Math.min(250, resetAtMs - ms));
    };
    const onEvent = (event: ButtonEvent): void => {
      if (event.kind === 'rotate' || (event.button !== 'prev' && event.button !== 'next')) return;
      if (event.kind === 'long_press') {
        held.add(event.button);
        if (held.size === 2 && holdStart === null) {
          // The buttons went down longPressMs before their long_press.
          holdStart = clock.now() - options.longPressMs;
          clock.clearTimeout(windowTimer);
          report();
        }
      } else if (event.kind === 'release' || event.kind === 'press') {
        held.delete(event.button);
        if (holdStart !== null) finish(heldMs() >= setupAtMs ? 'setup' : 'normal');
      }
    };
    const off = options.buttons.onEvent(onEvent);
    const windowTimer = clock.setTimeout(() => {
      if (holdStart === null) finish('normal');
    }, windowMs);
  });
}
