import type { Logger } from 'pino';
import { bootIntoSetupIfNeeded } from './boot.js';
import { ConfigError, loadConfig, type DeviceConfig } from './config.js';
import { Controller } from './controller.js';
import { SystemdNotifier } from './systemd-notify.js';
import { createButtons, createDisplay } from './drivers.js';
import { createLogger } from './log.js';
import type { MqttBridge } from './mqtt-bridge.js';
import { confirmRelease, installedVersion, SelfUpdate } from './self-update.js';
import { SimDisplay } from './sim-display.js';
import { simActionsFor } from './sim-panel.js';

export const DEFAULT_CONFIG_PATH = '/etc/leeloo/device.json';

const USAGE = `Usage: node dist/device/main.js [--config FILE]

Runs the LEELOO device daemon. The config file (JSON) defaults to
$LEELOO_DEVICE_CONFIG, else ${DEFAULT_CONFIG_PATH}; see device/device.example.json.`;

/** The --config value, else the environment, else the system path. */
export function configPathFrom(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
    if (arg === '--config' || arg === '-c') {
      const value = argv[i + 1];
      if (!value || value.startsWith('-')) throw new ConfigError('config_missing', '--config needs a file path.');
      return value;
    }
  }
  return env.LEELOO_DEVICE_CONFIG || DEFAULT_CONFIG_PATH;
}

async function run(config: DeviceConfig, log: Logger): Promise<void> {
  let stopping: Promise<void> | null = null;
  let bridge: MqttBridge | null = null;
  // READY=1 and watchdog pings under systemd (Type=notify); a no-op elsewhere.
  // Pings only while the render loop and the relay client are alive: a wedged one trips WatchdogSec.
  const notifier = new SystemdNotifier({
    healthy: () => controller.healthy(),
    onError: (error) => log.warn({ err: (error as Error).message }, 'systemd-notify failed'),
  });
  const stop = (signal: string, exitCode = 0): void => {
    if (stopping) return;
    log.info({ signal }, 'stopping');
    stopping = notifier
      .stopping()
      .then(() => bridge?.stop())
      .then(() => controller.stop())
      .then(() => process.exit(exitCode))
      .catch((error: Error) => {
        log.error({ err: error.message }, 'stop failed');
        process.exit(1);
      });
  };
  const display = createDisplay(config, log);
  const buttons = createButtons(config, log, { display, keyboard: process.stdin, onInterrupt: () => stop('SIGINT') });
  const controller = new Controller({ config, display, buttons, log });
  // The mirror page's simulator panel shares and sends through the controller, nothing more.
  if (display instanceof SimDisplay) display.useActions(simActionsFor(controller));
  const version = installedVersion();
  const update = new SelfUpdate({ ...config.update, version, log: log.child({ part: 'update' }) });
  // Exit 75 (EX_TEMPFAIL): systemd's Restart=on-failure starts the new release through the launcher.
  controller.screens.addMenuEntry(update.menuEntry(() => stop('update', 75)));
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  let crewCode: string | null = null;
  controller.onStateChange((state) => {
    if (!state.crew || state.crew.code === crewCode) return;
    crewCode = state.crew.code;
    // Operators (and npm start) read the crew code from this line.
    process.stdout.write(`LEELOO device "${config.device.name}" crew: ${crewCode}\n`);
  });
  await controller.start();
  bridge = await startBridge(config, controller, log);
  await notifier.ready(`${config.display.driver} display, crew ${config.device.crewCode ?? 'new'}`);
  notifier.start();
  // READY reached: the launcher must not roll this release back.
  if (await confirmRelease(config.update.releasesDir, version).catch(() => false)) log.info({ version }, 'release confirmed');
  if (display instanceof SimDisplay && display.url) {
    // Scripts (npm start) read this line to find the mirror.
    process.stdout.write(`LEELOO device "${config.device.name}" mirror: ${display.url}\n`);
  }
}

/** The MQTT bridge, when configured; one that fails to start is logged and the gadget runs on without it. */
async function startBridge(config: DeviceConfig, controller: Controller, log: Logger): Promise<MqttBridge | null> {
  if (!config.mqtt.enabled && !config.mqtt.url) return null;
  // Loaded only when configured: mqtt.js takes about a second to import, and most gadgets run without it.
  const [{ MqttBridge }, { gadgetActionsFor }] = await Promise.all([import('./mqtt-bridge.js'), import('./actions.js')]);
  const bridge = new MqttBridge({
    config: config.mqtt,
    actions: gadgetActionsFor(controller),
    deviceName: config.device.name,
    relayUrl: config.relay.url,
    log: log.child({ part: 'mqtt' }),
  });
  try {
    await bridge.start();
    return bridge;
  } catch (error) {
    log.error({ err: (error as Error).message }, 'the MQTT bridge failed to start; the gadget runs without it');
    await bridge.stop().catch(() => undefined);
    return null;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let config: DeviceConfig;
  let configFile = DEFAULT_CONFIG_PATH;
  try {
    configFile = configPathFrom(argv, process.env);
    config = loadConfig(configFile);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`leeloo-device: ${error.message}\n`);
    process.exit(78); // EX_CONFIG: systemd should not restart-loop on a bad config.
  }
  const log = createLogger(config.logLevel);
  try {
    // A gadget that is not set up, or whose Wi-Fi is gone, opens its setup access point first.
    config = await bootIntoSetupIfNeeded({ configFile, config, log, onSetupPage: (url) => process.stdout.write(`LEELOO device setup page: ${url}\n`) });
    await run(config, log);
  } catch (error) {
    log.fatal({ err: (error as Error).message }, 'the device daemon failed to start');
    process.exit(1);
  }
}

await main();
