import path from 'node:path';
import pino from 'pino';
import type { Clock } from '../../device/clock.js';
import { parseConfig, type DeviceConfig } from '../../device/config.js';
import { Controller } from '../../device/controller.js';
import { createButtons, createDisplay } from '../../device/drivers.js';
import type { Buttons, Display, Frame } from '../../device/hardware.js';
import { SimDisplay } from '../../device/sim-display.js';
import { simActionsFor } from '../../device/sim-panel.js';

export interface SimGadgetOptions<D extends Display> {
  readonly relayUrl: string;
  readonly name: string;
  /** The crew to join on first start; null (the default) creates one. */
  readonly crewCode?: string | null;
  /** The gadget keeps its data in <root>/<name in lower case>. */
  readonly root: string;
  /** Serve the mirror page on a free port of 127.0.0.1 (display.url). */
  readonly mirror?: boolean;
  /** PNG snapshots kept in <data dir>/snapshots; 0 (the default) writes none. */
  readonly snapshotKeep?: number;
  /** Attach the simulator panel (share and message forms) to the mirror page. */
  readonly panel?: boolean;
  /** Sees every frame the display is given, before the display does. */
  readonly onPresent?: (frame: Frame) => void;
  /** In place of the simulated display and buttons (a RecordingDisplay, buttons the test presses). */
  readonly display?: D;
  readonly buttons?: Buttons;
  readonly clock?: Clock;
  /** Settings left undefined keep the config's defaults. */
  readonly pingIntervalSeconds?: number;
  readonly deadAfterSeconds?: number;
  readonly sleepAfterSeconds?: number;
  readonly sleepWithoutMusicSeconds?: number;
  readonly pollWhileAsleepSeconds?: number;
}

export interface SimGadget<D extends Display> {
  readonly config: DeviceConfig;
  readonly display: D;
  readonly buttons: Buttons;
  /** Started; the test stops it. */
  readonly controller: Controller;
}

const log = pino({ level: 'silent' });

/**
 * A gadget as `npm run device` wires it with the sim drivers (config → display → buttons →
 * Controller), started against the given relay with the keyboard off.
 */
export async function startSimGadget<D extends Display = SimDisplay>(options: SimGadgetOptions<D>): Promise<SimGadget<D>> {
  const config = parseConfig(
    {
      relay: { url: options.relayUrl, pingIntervalSeconds: options.pingIntervalSeconds, deadAfterSeconds: options.deadAfterSeconds },
      device: { name: options.name, crewCode: options.crewCode ?? null },
      dataDir: path.join(options.root, options.name.toLowerCase()),
      display: {
        sleepAfterSeconds: options.sleepAfterSeconds,
        sleepWithoutMusicSeconds: options.sleepWithoutMusicSeconds,
        pollWhileAsleepSeconds: options.pollWhileAsleepSeconds,
      },
      sim: { mirror: { enabled: options.mirror ?? false, host: '127.0.0.1', port: 0 }, snapshotKeep: options.snapshotKeep ?? 0, keyboard: false },
    },
    options.root,
  );
  const display = options.display ?? (createDisplay(config, log) as D);
  if (options.onPresent) {
    const present = display.present.bind(display);
    const seen = options.onPresent;
    display.present = async (frame) => {
      seen(frame);
      await present(frame);
    };
  }
  const buttons = options.buttons ?? createButtons(config, log, { display });
  const controller = new Controller({ config, display, buttons, log, clock: options.clock });
  if (options.panel) {
    if (!(display instanceof SimDisplay)) throw new Error('the simulator panel needs the simulated display');
    display.useActions(simActionsFor(controller));
  }
  await controller.start();
  return { config, display, buttons, controller };
}
