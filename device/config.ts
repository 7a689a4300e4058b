import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CREW_CODE_PATTERN } from '../protocol/index.js';
import { ConfigError, dottedPath, parseSettings } from '../protocol/settings.js';
import { FbSettings, GpioSettings, InputSettings, SleepSetting, SpiSettings } from './hardware-config.js';
import { section, setting } from './setting.js';

export { ConfigError };

/**
 * The device's config file (JSON): one zod schema, parsed once at start. Every property
 * has its default and its title, description and examples here; device/device.schema.json
 * is generated from it (scripts/generate-device-schema.ts; a test fails when it is stale).
 * A hardware driver adds its option block (device/hardware-config.ts) next to `fb`, `spi`,
 * `gpio`, `input`. A wrong value is one sentence naming its path (`display.spi.speedHz must
 * be a whole number`), and device/main.ts exits 78 with them.
 */

const mirrorPort = z.number().int().min(0).max(65535);
const topic = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[^#+\u0000]*[^#+/\u0000]$/, 'must be a topic without "+", "#" or a trailing "/"');
const file = z.string().min(1).nullable().default(null);
const MQTT_URL = 'must be an mqtt://, mqtts://, ws:// or wss:// URL';

const Relay = section('Relay', 'Where the crew relay is and how the connection is watched.', {
  url: setting(
    z
      .string()
      .regex(/^wss?:\/\/[^\s]+$/, 'must be a ws:// or wss:// URL')
      .default('ws://127.0.0.1:8080/ws'),
    'Relay URL',
    'WebSocket URL of the relay, ending in /ws.',
    ['wss://leeloo.example.com/ws'],
  ),
  pingIntervalSeconds: setting(z.number().int().min(5).max(300).default(25), 'Ping interval', 'Seconds between app-level pings to the relay.', [25]),
  deadAfterSeconds: setting(
    z.number().int().min(10).max(900).default(60),
    'Dead connection timeout',
    'Seconds without any frame from the relay before the connection is dropped and re-opened.',
    [60],
  ),
});

const Device = section('Device', 'Who this gadget is in its crew.', {
  name: setting(
    z
      .string()
      .min(1)
      .max(32)
      .regex(/^[^\u0000-\u001f\u007f]*\S[^\u0000-\u001f\u007f]*$/, 'must have a visible character and no control characters')
      .default('LEELOO'),
    'Device name',
    'The name the crew sees (1–32 characters).',
    ['Kitchen', 'Ana'],
  ),
  // People type codes in any case and with stray spaces; the relay wants the canonical form.
  crewCode: setting(
    z.string().trim().toUpperCase().regex(CREW_CODE_PATTERN, 'must look like LEELOO-XXXX (letters and digits without I, O, 0, 1)').nullable().default(null),
    'Crew code',
    'The crew to join (LEELOO-XXXX). null creates a new crew on first start.',
    ['LEELOO-7KQ2', null],
  ),
});

const Display = section('Display', 'Which display driver draws the screens, plus one option block per driver.', {
  driver: setting(
    z.enum(['sim', 'fb', 'spi']).default('sim'),
    'Display driver',
    'sim (PNG + browser mirror), fb (Linux framebuffer) or spi (direct SPI panel).',
    ['sim', 'fb'],
  ),
  sleepAfterSeconds: SleepSetting,
  sleepWithoutMusicSeconds: setting(
    z.number().int().min(0).max(86_400).default(0),
    'Screen sleep without music',
    "Seconds with nothing playing on the owner's Spotify (and no activity either) before the backlight goes off; 0 never. Music playing holds this rule off, not sleepAfterSeconds: whichever of the two falls due first turns the screen off, so sleepAfterSeconds 0 with this at 600 keeps the screen on while music plays and turns it off 10 minutes after the music stops. The owner starting music wakes the screen either way (see pollWhileAsleepSeconds).",
    [600, 0],
  ),
  pollWhileAsleepSeconds: setting(
    z
      .number()
      .int()
      .min(0)
      .max(3600)
      .refine((seconds) => seconds === 0 || seconds >= 10, 'must be 0 or at least 10')
      .default(45),
    'Spotify check while asleep',
    "Seconds between checks of what the owner's Spotify plays while the screen sleeps (an unchanged answer costs little), so the owner starting music wakes the screen; 0 stops checking until a button press or a crew event wakes it.",
    [45, 0],
  ),
  fb: FbSettings,
  spi: SpiSettings,
});

const Buttons = section('Buttons', 'Which button driver reads presses, plus one option block per driver.', {
  driver: setting(
    z.enum(['sim', 'gpio', 'input']).default('sim'),
    'Button driver',
    'sim (keyboard + mirror page), input (gpio-key and rotary-encoder overlays, /dev/input; the Pi default) or gpio (sysfs GPIO, deprecated by the kernel).',
    ['sim', 'input'],
  ),
  longPressMs: setting(z.number().int().min(200).max(5000).default(700), 'Long press', 'Milliseconds a button is held for a long press.', [700]),
  gpio: GpioSettings,
  input: InputSettings,
});

const Sim = section('Simulator', 'Options of the simulated display and buttons.', {
  mirror: section('Mirror', 'The live browser mirror of the screen.', {
    enabled: setting(z.boolean().default(true), 'Enabled', 'Serve the mirror page.', [true]),
    host: setting(z.string().min(1).default('127.0.0.1'), 'Host', 'Interface the mirror listens on.', ['127.0.0.1', '0.0.0.0']),
    port: setting(mirrorPort.default(8081), 'Port', 'Port of the mirror page (0 picks a free one).', [8081]),
  }),
  snapshotDir: setting(z.string().min(1).nullable().default(null), 'Snapshot directory', 'Where PNG snapshots go; null means <dataDir>/snapshots.', [
    './snapshots',
    null,
  ]),
  snapshotKeep: setting(
    z.number().int().min(0).max(10_000).default(50),
    'Snapshots kept',
    'How many PNG snapshots are kept (oldest removed first); 0 writes none.',
    [50],
  ),
  keyboard: setting(z.boolean().default(true), 'Keyboard', 'Drive the simulated buttons from the keyboard when stdin is a terminal.', [true]),
});

const Mqtt = section(
  'MQTT',
  'The MQTT bridge with Home Assistant discovery; off by default.',
  {
    enabled: setting(z.boolean().default(false), 'Enabled', 'Run the MQTT bridge. false with a url removes the gadget from Home Assistant once at start.', [
      true,
    ]),
    url: setting(
      z
        .string()
        .regex(/^(mqtts?|wss?):\/\/[^\s]+$/, MQTT_URL)
        .nullable()
        .default(null),
      'Broker URL',
      'mqtt://, mqtts://, ws:// or wss:// URL of the broker.',
      ['mqtt://homeassistant.local:1883'],
    ),
    username: setting(z.string().min(1).nullable().default(null), 'Username', 'Broker user name, or null.', ['leeloo', null]),
    password: setting(z.string().nullable().default(null), 'Password', 'Broker password, or null.', [null]),
    ca: setting(file, 'CA file', 'PEM file of the CA that signed the broker (TLS); relative to the config file.', ['/etc/leeloo/mqtt-ca.pem', null]),
    cert: setting(file, 'Client certificate', 'PEM client certificate file (TLS client auth), or null.', [null]),
    key: setting(file, 'Client key', 'PEM private key file of the client certificate, or null.', [null]),
    baseTopic: setting(topic.default('leeloo'), 'Base topic', 'State and commands go under <baseTopic>/<device_id>/.', ['leeloo']),
    discoveryPrefix: setting(topic.default('homeassistant'), 'Discovery prefix', 'Home Assistant MQTT discovery prefix.', ['homeassistant']),
    statusTopic: setting(
      topic.default('homeassistant/status'),
      'HA status topic',
      'Home Assistant announces online here; the gadget then publishes discovery again.',
      ['homeassistant/status'],
    ),
    homeassistant: setting(z.boolean().default(true), 'Home Assistant discovery', 'Publish discovery configs; false removes the entities.', [true]),
  },
  (mqtt, ctx) => {
    if (mqtt.enabled && mqtt.url === null) ctx.addIssue({ code: 'custom', path: ['url'], message: `${MQTT_URL} when mqtt.enabled is true` });
  },
  // Editors learn the rule above from the schema too (`then` is JSON Schema's keyword, not a thenable).
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then
).meta({ if: { properties: { enabled: { const: true } } }, then: { properties: { url: { type: 'string' } } } });

const Setup = section(
  'Setup',
  'The phone setup: the gadget opens its own Wi-Fi access point and a setup page when it has no working network or has not been set up.',
  {
    done: setting(
      z.boolean().default(true),
      'Set up',
      'false opens the setup access point at start; the setup page sets it to true. A factory reset sets it to false.',
      [true, false],
    ),
    network: setting(
      z.enum(['none', 'nmcli']).default('none'),
      'Network control',
      'nmcli: NetworkManager runs the Wi-Fi (Raspberry Pi OS Bookworm and later); none: the gadget never opens an access point.',
      ['nmcli'],
    ),
    ifname: setting(
      z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,15}$/, 'must be a network interface name such as wlan0')
        .default('wlan0'),
      'Wi-Fi interface',
      'The interface the access point and the home network use.',
      ['wlan0'],
    ),
    host: setting(z.string().min(1).default('0.0.0.0'), 'Setup page host', 'Interface the setup page listens on while the access point is up.', ['0.0.0.0']),
    port: setting(mirrorPort.default(80), 'Setup page port', 'Port of the setup page; phones probe port 80 (0 picks a free one).', [80]),
    address: setting(z.string().min(1).default('10.42.0.1'), 'Access point address', "The gadget's address on its own access point, shown on its screen.", [
      '10.42.0.1',
    ]),
    onlineTimeoutSeconds: setting(
      z.number().int().min(0).max(600).default(30),
      'Online wait',
      'Seconds to wait at start for the home network before opening the access point.',
      [30],
    ),
  },
);

const Update = section('Self-update', 'Where newer releases are found and kept.', {
  releaseUrl: setting(
    z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')
      .nullable()
      .default(null),
    'Release URL',
    'URL of the release manifest (JSON with version, url, sha256); null turns updates off.',
    ['https://leeloo.example.com/releases/latest.json', null],
  ),
  releasesDir: setting(
    z.string().min(1).default('/opt/leeloo/releases'),
    'Releases directory',
    'Where releases are unpacked next to the `current` link the service runs; relative to the config file.',
    ['/opt/leeloo/releases'],
  ),
});

const DeviceSettings = z
  .strictObject({
    $schema: setting(z.string().default(''), 'Schema', 'Editors may point this at the schema (device.schema.json).', ['./device.schema.json']),
    relay: Relay,
    device: Device,
    dataDir: setting(
      z.string().min(1).default('./data/device'),
      'Data directory',
      'Where identity, outbox and last seen sequence are kept; relative to the config file.',
      ['/var/lib/leeloo'],
    ),
    logLevel: setting(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'), 'Log level', 'How much the daemon logs.', ['info']),
    display: Display,
    buttons: Buttons,
    sim: Sim,
    mqtt: Mqtt,
    setup: Setup,
    update: Update,
  })
  .meta({
    $id: 'https://leeloo.invalid/device-config.json',
    title: 'LEELOO device configuration',
    description: "The gadget daemon's config file (device/config.ts).",
  });

export type DeviceConfig = z.output<typeof DeviceSettings>;
export type DisplayConfig = DeviceConfig['display'];
export type ButtonsConfig = DeviceConfig['buttons'];
export type SimConfig = DeviceConfig['sim'];
export type MqttConfig = DeviceConfig['mqtt'];
export type SetupConfig = DeviceConfig['setup'];
export type UpdateConfig = DeviceConfig['update'];

/** The config file's JSON Schema (what a file may say: every property optional, with its default). */
export function deviceJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(DeviceSettings, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}

/** device/device.schema.json as scripts/generate-device-schema.ts writes it (and a test compares). */
export function deviceSchemaText(): string {
  return `${JSON.stringify(deviceJsonSchema(), null, 2)}\n`;
}

/** Validates a parsed config object; relative paths are resolved against baseDir. Throws ConfigError. */
export function parseConfig(raw: unknown, baseDir: string): DeviceConfig {
  const config = parseSettings(DeviceSettings, raw, 'The device config is invalid:', dottedPath);
  config.dataDir = path.resolve(baseDir, config.dataDir);
  config.update.releasesDir = path.resolve(baseDir, config.update.releasesDir);
  if (config.sim.snapshotDir !== null) config.sim.snapshotDir = path.resolve(baseDir, config.sim.snapshotDir);
  resolveMqttFiles(config.mqtt, baseDir);
  return config;
}

/** TLS files are resolved against the config's folder and must be readable now, not at the first connect. */
function resolveMqttFiles(mqtt: MqttConfig, baseDir: string): void {
  const errors: string[] = [];
  for (const name of ['ca', 'cert', 'key'] as const) {
    const file = mqtt[name];
    if (file === null) continue;
    mqtt[name] = path.resolve(baseDir, file);
    if (!mqtt.enabled) continue;
    try {
      accessSync(mqtt[name], fsConstants.R_OK);
    } catch (error) {
      errors.push(`mqtt.${name} cannot be read: ${mqtt[name]} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if ((mqtt.cert === null) !== (mqtt.key === null)) errors.push('mqtt.cert and mqtt.key must be given together');
  if (errors.length) throw new ConfigError('config_invalid', 'The device config is invalid:', errors);
}

/** Reads and validates the config file. Throws ConfigError with a sentence a person can act on. */
export function loadConfig(file: string): DeviceConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError('config_missing', `No config file at ${file}. Create one (see device/device.example.json) or pass --config FILE.`);
    }
    throw new ConfigError('config_unreadable', `Cannot read the config file ${file}: ${(error as Error).message}.`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError('config_invalid_json', `The config file ${file} is not valid JSON: ${(error as Error).message}.`);
  }
  return parseConfig(raw, path.dirname(path.resolve(file)));
}
