import type { Logger } from 'pino';
import { readBootHold, type BootChoice } from './boot-hold.js';
import { loadConfig, type DeviceConfig } from './config.js';
import { createButtons, createDisplay } from './drivers.js';
import { factoryReset } from './factory-reset.js';
import { NmcliNetwork, type Network } from './network.js';
import { SetupMode } from './setup-mode.js';
import { SystemdNotifier } from './systemd-notify.js';

export interface BootOptions {
  readonly configFile: string;
  readonly config: DeviceConfig;
  readonly log: Logger;
  /** Tests pass a network on a fake nmcli; otherwise nmcli on PATH. */
  readonly network?: Network;
  /** Called once setup mode's page is up (tests, and the line operators read). */
  readonly onSetupPage?: (url: string) => void;
}

/**
 * Before the normal daemon starts: the boot hold (◀ + ▶), a factory reset, and setup mode
 * when the gadget is not set up or its home network does not come up. Returns the config
 * to run with. Only gadgets whose Wi-Fi NetworkManager runs (`setup.network: "nmcli"`) get
 * here; the display and buttons are opened for the time of it and closed again.
 */
export async function bootIntoSetupIfNeeded(options: BootOptions): Promise<DeviceConfig> {
  const { configFile, log } = options;
  let config = options.config;
  if (config.setup.network !== 'nmcli') return config;
  const network = options.network ?? new NmcliNetwork({ ifname: config.setup.ifname });
  const display = createDisplay(config, log);
  const buttons = createButtons(config, log, { display, keyboard: null });
  const setup = new SetupMode({ configFile, config, display, network, log: log.child({ part: 'setup' }), onPage: options.onSetupPage });
  await display.start();
  await buttons.start();
  const notifier = new SystemdNotifier({ onError: (error) => log.warn({ err: (error as Error).message }, 'systemd-notify failed') });
  try {
    const choice: BootChoice =
      config.buttons.driver !== 'sim'
        ? await readBootHold({ buttons, longPressMs: config.buttons.longPressMs, onProgress: (step) => void setup.show(step) })
        : 'normal';
    if (choice === 'factory_reset') {
      log.warn('factory reset from the boot hold');
      await setup.show({ kind: 'reset', done: false });
      await factoryReset(configFile, config, network);
      config = loadConfig(configFile);
      await setup.show({ kind: 'reset', done: true });
    }
    const online = choice === 'normal' && config.setup.done && (await network.waitOnline(config.setup.onlineTimeoutSeconds * 1000));
    if (online) return config;
    log.info({ choice, setUp: config.setup.done }, 'starting setup mode');
    // Setup can take minutes: tell systemd the daemon is up (and keep the watchdog fed) meanwhile.
    await notifier.ready('setup mode: waiting for a phone');
    notifier.start();
    return await setup.run();
  } finally {
    notifier.stop();
    await buttons.stop();
    await display.stop();
  }
}
