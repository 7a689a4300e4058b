import type { Logger } from 'pino';
import path from 'node:path';
import type { DeviceConfig } from './config.js';
import type { Buttons, Display } from './hardware.js';
import { createFbDisplay } from './fb-display.js';
import { createGpioButtons } from './gpio-buttons.js';
import { createInputButtons } from './input-buttons.js';
import { SimButtons } from './sim-buttons.js';
import { SimDisplay, type MirrorInputSource } from './sim-display.js';
import { createSpiDisplay } from './spi-display.js';

/**
 * Picks the hardware implementations the config names. The rest of the daemon sees
 * only Display and Buttons. Each driver is one branch here plus one option block in
 * config.ts.
 */
export function createDisplay(config: DeviceConfig, log: Logger): Display {
  switch (config.display.driver) {
    case 'sim':
      return new SimDisplay({
        title: config.device.name,
        log: log.child({ part: 'sim-display' }),
        snapshotDir: config.sim.snapshotKeep > 0 ? (config.sim.snapshotDir ?? path.join(config.dataDir, 'snapshots')) : null,
        snapshotKeep: config.sim.snapshotKeep,
        mirror: config.sim.mirror,
      });
    case 'fb':
      return createFbDisplay(config.display.fb, { warn: backlightWarning(log) });
    case 'spi':
      return createSpiDisplay(config.display.spi, { warn: backlightWarning(log) });
    default:
      throw new Error(`The display driver "${config.display.driver}" is not available in this build; use "sim".`);
  }
}

function backlightWarning(log: Logger): (sentence: string) => void {
  const child = log.child({ part: 'backlight' });
  return (sentence) => child.warn(sentence);
}

export interface ButtonsContext {
  /** The display, so simulated buttons can listen to the mirror page's buttons. */
  readonly display: Display;
  /** The keyboard for simulated buttons (process.stdin in the daemon, null in tests). */
  readonly keyboard?: NodeJS.ReadStream | null;
  readonly onInterrupt?: () => void;
}

export function createButtons(config: DeviceConfig, log: Logger, context: ButtonsContext): Buttons {
  switch (config.buttons.driver) {
    case 'sim':
      return new SimButtons({
        longPressMs: config.buttons.longPressMs,
        log: log.child({ part: 'sim-buttons' }),
        mirror: isMirror(context.display) ? context.display : undefined,
        keyboard: config.sim.keyboard ? (context.keyboard ?? null) : null,
        onInterrupt: context.onInterrupt,
      });
    case 'gpio':
      return createGpioButtons(config.buttons);
    case 'input':
      return createInputButtons(config.buttons, { warn: (sentence) => log.child({ part: 'buttons' }).warn(sentence) });
    default:
      throw new Error(`The button driver "${config.buttons.driver}" is not available in this build; use "sim".`);
  }
}

function isMirror(display: Display): display is Display & MirrorInputSource {
  return typeof (display as Partial<MirrorInputSource>).onInput === 'function';
}
