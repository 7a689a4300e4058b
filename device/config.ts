import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { CREW_CODE_PATTERN } from '../protocol/index.js';
import { FB_BLOCK, GPIO_BLOCK, HARDWARE_DEFAULTS, INPUT_BLOCK, SLEEP_PROPERTY, SPI_BLOCK, type FbConfig, type GpioButtonsConfig, type InputButtonsConfig, type SpiConfig } from './hardware-config.js';

/**
 * The device's config file (JSON), validated against a JSON Schema at start. Every
 * property has a title, description, default and examples; defaults live in
 * CONFIG_DEFAULTS only. Hardware drivers add their option block to
 * DISPLAY_OPTION_BLOCKS / BUTTON_OPTION_BLOCKS (one block per driver, e.g. `fb`,
 * `spi`, `gpio`) and the matching optional field to DisplayConfig / ButtonsConfig.
 */

export const DISPLAY_DRIVERS = ['sim', 'fb', 'spi'] as const;
export const BUTTON_DRIVERS = ['sim', 'gpio', 'input'] as const;
export type DisplayDriver = (typeof DISPLAY_DRIVERS)[number];
export type ButtonDriver = (typeof BUTTON_DRIVERS)[number];

export interface DisplayConfig {
  driver: DisplayDriver;
  /** Seconds without activity before the backlight goes off; 0 never. */
  sleepAfterSeconds: number;
  fb: FbConfig;
  spi: SpiConfig;
}

export interface ButtonsConfig {
  driver: ButtonDriver;
  /** A press held at least this long is a long press. */
  longPressMs: number;
  gpio: GpioButtonsConfig;
  input: InputButtonsConfig;
}

export interface SimConfig {
  mirror: { enabled: boolean; host: string; port: number };
  /** Directory for PNG snapshots; null means `<dataDir>/snapshots`. */
  snapshotDir: string | null;
  snapshotKeep: number;
  keyboard: boolean;
}

/** Phone setup (device/setup-mode.ts): the gadget's own access point and setup page. */
export interface SetupConfig {
  /** false: open the setup access point at start (a new or factory-reset gadget). */
  done: boolean;
  /** How the gadget reaches Wi-Fi: 'nmcli' (NetworkManager, on a Pi) or 'none' (the network is someone else's business). */
  network: 'none' | 'nmcli';
  ifname: string;
  /** The setup page listens here while the access point is up. */
  host: string;
  port: number;
  /** The gadget's address on its access point, as shown on its screen (NetworkManager's shared mode uses 10.42.0.1). */
  address: string;
  onlineTimeoutSeconds: number;
}

/** Self-update (device/self-update.ts). */
export interface UpdateConfig {
  /** URL of the release manifest (JSON: version, url, sha256); null turns updates off. */
  releaseUrl: string | null;
  /** Where releases are unpacked, next to the `current` link the service runs. */
  releasesDir: string;
}

export interface DeviceConfig {
  relay: { url: string; pingIntervalSeconds: number; deadAfterSeconds: number };
  device: { name: string; crewCode: string | null };
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  display: DisplayConfig;
  buttons: ButtonsConfig;
  sim: SimConfig;
  mqtt: MqttConfig;
  setup: SetupConfig;
  update: UpdateConfig;
}

/** The MQTT bridge (device/mqtt-bridge.ts): off unless `enabled`; TLS files are paths. */
export interface MqttConfig {
  enabled: boolean;
  url: string | null;
  username: string | null;
  password: string | null;
  ca: string | null;
  cert: string | null;
  key: string | null;
  baseTopic: string;
  discoveryPrefix: string;
  statusTopic: string;
  /** Home Assistant discovery; false removes the gadget's entities from HA. */
  homeassistant: boolean;
}

export const CONFIG_DEFAULTS: DeviceConfig = {
  relay: { url: 'ws://127.0.0.1:8080/ws', pingIntervalSeconds: 25, deadAfterSeconds: 60 },
  device: { name: 'LEELOO', crewCode: null },
  dataDir: './data/device',
  logLevel: 'info',
  display: { driver: 'sim', sleepAfterSeconds: HARDWARE_DEFAULTS.sleepAfterSeconds, fb: HARDWARE_DEFAULTS.fb, spi: HARDWARE_DEFAULTS.spi },
  buttons: { driver: 'sim', longPressMs: 700, gpio: HARDWARE_DEFAULTS.gpio, input: HARDWARE_DEFAULTS.input },
  sim: { mirror: { enabled: true, host: '127.0.0.1', port: 8081 }, snapshotDir: null, snapshotKeep: 50, keyboard: true },
  mqtt: {
    enabled: false, url: null, username: null, password: null, ca: null, cert: null, key: null,
    baseTopic: 'leeloo', discoveryPrefix: 'homeassistant', statusTopic: 'homeassistant/status', homeassistant: true,
  },
  setup: { done: true, network: 'none', ifname: 'wlan0', host: '0.0.0.0', port: 80, address: '10.42.0.1', onlineTimeoutSeconds: 30 },
  update: { releaseUrl: null, releasesDir: '/opt/leeloo/releases' },
};

type JsonSchema = Record<string, unknown>;

/** Option blocks of the display drivers, keyed by driver name (the hardware drivers add `fb`, `spi`). */
export const DISPLAY_OPTION_BLOCKS: Record<string, JsonSchema> = { fb: FB_BLOCK, spi: SPI_BLOCK, sleepAfterSeconds: SLEEP_PROPERTY };
/** Option blocks of the button drivers, keyed by driver name (the GPIO driver adds `gpio`). */
export const BUTTON_OPTION_BLOCKS: Record<string, JsonSchema> = { gpio: GPIO_BLOCK, input: INPUT_BLOCK };

function prop(title: string, description: string, schema: JsonSchema, fallback: unknown, examples: unknown[]): JsonSchema {
  return { title, description, ...schema, default: fallback, examples };
}

const d = CONFIG_DEFAULTS;

export function configSchema(): JsonSchema {
  return {
    $id: 'https://leeloo.invalid/device-config.json',
    title: 'LEELOO device configuration',
    type: 'object',
    additionalProperties: false,
    properties: {
      $schema: { type: 'string', title: 'Schema', description: 'Editors may point this at the schema.', default: '', examples: [''] },
      relay: prop('Relay', 'Where the crew relay is and how the connection is watched.', {
        type: 'object',
        additionalProperties: false,
        properties: {
          url: prop('Relay URL', 'WebSocket URL of the relay, ending in /ws.', { type: 'string', pattern: '^wss?://[^\\s]+$' }, d.relay.url, ['wss://leeloo.example.com/ws']),
          pingIntervalSeconds: prop('Ping interval', 'Seconds between app-level pings to the relay.', { type: 'integer', minimum: 5, maximum: 300 }, d.relay.pingIntervalSeconds, [25]),
          deadAfterSeconds: prop('Dead connection timeout', 'Seconds without any frame from the relay before the connection is dropped and re-opened.', { type: 'integer', minimum: 10, maximum: 900 }, d.relay.deadAfterSeconds, [60]),
        },
      }, d.relay, [d.relay]),
      device: prop('Device', 'Who this gadget is in its crew.', {
        type: 'object',
        additionalProperties: false,
        properties: {
          name: prop('Device name', 'The name the crew sees (1–32 characters).', { type: 'string', minLength: 1, maxLength: 32, pattern: '^[^\\u0000-\\u001f\\u007f]*\\S[^\\u0000-\\u001f\\u007f]*$' }, d.device.name, ['Kitchen', 'Ana']),
          crewCode: prop('Crew code', 'The crew to join (LEELOO-XXXX). null creates a new crew on first start.', { type: ['string', 'null'], pattern: CREW_CODE_PATTERN.source }, d.device.crewCode, ['LEELOO-7KQ2', null]),
        },
      }, d.device, [d.device]),
      dataDir: prop('Data directory', 'Where identity, outbox and last seen sequence are kept; relative to the config file.', { type: 'string', minLength: 1 }, d.dataDir, ['/var/lib/leeloo']),
      logLevel: prop('Log level', 'How much the daemon logs.', { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] }, d.logLevel, ['info']),
      display: prop('Display', 'Which display driver draws the screens, plus one option block per driver.', {
        type: 'object',
        additionalProperties: false,
        required: ['driver'],
        properties: {
          driver: prop('Display driver', 'sim (PNG + browser mirror), fb (Linux framebuffer) or spi (direct SPI panel).', { enum: [...DISPLAY_DRIVERS] }, d.display.driver, ['sim', 'fb']),
          ...DISPLAY_OPTION_BLOCKS,
        },
      }, d.display, [d.display]),
      buttons: prop('Buttons', 'Which button driver reads presses, plus one option block per driver.', {
        type: 'object',
        additionalProperties: false,
        required: ['driver'],
        properties: {
          driver: prop('Button driver', 'sim (keyboard + mirror page), input (gpio-key and rotary-encoder overlays, /dev/input; the Pi default) or gpio (sysfs GPIO, deprecated by the kernel).', { enum: [...BUTTON_DRIVERS] }, d.buttons.driver, ['sim', 'input']),
          longPressMs: prop('Long press', 'Milliseconds a button is held for a long press.', { type: 'integer', minimum: 200, maximum: 5000 }, d.buttons.longPressMs, [700]),
          ...BUTTON_OPTION_BLOCKS,
        },
      }, d.buttons, [d.buttons]),
      sim: prop('Simulator', 'Options of the simulated display and buttons.', {
        type: 'object',
        additionalProperties: false,
        properties: {
          mirror: prop('Mirror', 'The live browser mirror of the screen.', {
            type: 'object',
            additionalProperties: false,
            properties: {
              enabled: prop('Enabled', 'Serve the mirror page.', { type: 'boolean' }, d.sim.mirror.enabled, [true]),
              host: prop('Host', 'Interface the mirror listens on.', { type: 'string', minLength: 1 }, d.sim.mirror.host, ['127.0.0.1', '0.0.0.0']),
              port: prop('Port', 'Port of the mirror page (0 picks a free one).', { type: 'integer', minimum: 0, maximum: 65535 }, d.sim.mirror.port, [8081]),
            },
          }, d.sim.mirror, [d.sim.mirror]),
          snapshotDir: prop('Snapshot directory', 'Where PNG snapshots go; null means <dataDir>/snapshots.', { type: ['string', 'null'], minLength: 1 }, d.sim.snapshotDir, ['./snapshots', null]),
          snapshotKeep: prop('Snapshots kept', 'How many PNG snapshots are kept (oldest removed first); 0 writes none.', { type: 'integer', minimum: 0, maximum: 10000 }, d.sim.snapshotKeep, [50]),
          keyboard: prop('Keyboard', 'Drive the simulated buttons from the keyboard when stdin is a terminal.', { type: 'boolean' }, d.sim.keyboard, [true]),
        },
      }, d.sim, [d.sim]),
      mqtt: MQTT_BLOCK,
      setup: prop('Setup', 'The phone setup: the gadget opens its own Wi-Fi access point and a setup page when it has no working network or has not been set up.', {
        type: 'object',
        additionalProperties: false,
        properties: {
          done: prop('Set up', 'false opens the setup access point at start; the setup page sets it to true. A factory reset sets it to false.', { type: 'boolean' }, d.setup.done, [true, false]),
          network: prop('Network control', 'nmcli: NetworkManager runs the Wi-Fi (Raspberry Pi OS Bookworm and later); none: the gadget never opens an access point.', { enum: ['none', 'nmcli'] }, d.setup.network, ['nmcli']),
          ifname: prop('Wi-Fi interface', 'The interface the access point and the home network use.', { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,15}$' }, d.setup.ifname, ['wlan0']),
          host: prop('Setup page host', 'Interface the setup page listens on while the access point is up.', { type: 'string', minLength: 1 }, d.setup.host, ['0.0.0.0']),
          port: prop('Setup page port', 'Port of the setup page; phones probe port 80 (0 picks a free one).', { type: 'integer', minimum: 0, maximum: 65535 }, d.setup.port, [80]),
          address: prop('Access point address', 'The gadget\'s address on its own access point, shown on its screen.', { type: 'string', minLength: 1 }, d.setup.address, ['10.42.0.1']),
          onlineTimeoutSeconds: prop('Online wait', 'Seconds to wait at start for the home network before opening the access point.', { type: 'integer', minimum: 0, maximum: 600 }, d.setup.onlineTimeoutSeconds, [30]),
        },
      }, d.setup, [d.setup]),
      update: prop('Self-update', 'Where newer releases are found and kept.', {
        type: 'object',
        additionalProperties: false,
        properties: {
          releaseUrl: prop('Release URL', 'URL of the release manifest (JSON with version, url, sha256); null turns updates off.', { type: ['string', 'null'], pattern: '^https?://[^\\s]+$' }, d.update.releaseUrl, ['https://leeloo.example.com/releases/latest.json', null]),
          releasesDir: prop('Releases directory', 'Where releases are unpacked next to the `current` link the service runs; relative to the config file.', { type: 'string', minLength: 1 }, d.update.releasesDir, ['/opt/leeloo/releases']),
        },
      }, d.update, [d.update]),
    },
  };
}

const TOPIC = { type: 'string', minLength: 1, maxLength: 100, pattern: '^[^#+\\u0000]*[^#+/\\u0000]$' };
const FILE = { type: ['string', 'null'], minLength: 1 };

const MQTT_BLOCK: JsonSchema = prop('MQTT', 'The MQTT bridge with Home Assistant discovery; off by default.', {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: prop('Enabled', 'Run the MQTT bridge. false with a url removes the gadget from Home Assistant once at start.', { type: 'boolean' }, d.mqtt.enabled, [true]),
    url: prop('Broker URL', 'mqtt://, mqtts://, ws:// or wss:// URL of the broker.', { type: ['string', 'null'], pattern: '^(mqtts?|wss?)://[^\\s]+$' }, d.mqtt.url, ['mqtt://homeassistant.local:1883']),
    username: prop('Username', 'Broker user name, or null.', { type: ['string', 'null'], minLength: 1 }, d.mqtt.username, ['leeloo', null]),
    password: prop('Password', 'Broker password, or null.', { type: ['string', 'null'] }, d.mqtt.password, [null]),
    ca: prop('CA file', 'PEM file of the CA that signed the broker (TLS); relative to the config file.', FILE, d.mqtt.ca, ['/etc/leeloo/mqtt-ca.pem', null]),
    cert: prop('Client certificate', 'PEM client certificate file (TLS client auth), or null.', FILE, d.mqtt.cert, [null]),
    key: prop('Client key', 'PEM private key file of the client certificate, or null.', FILE, d.mqtt.key, [null]),
    baseTopic: prop('Base topic', 'State and commands go under <baseTopic>/<device_id>/.', TOPIC, d.mqtt.baseTopic, ['leeloo']),
    discoveryPrefix: prop('Discovery prefix', 'Home Assistant MQTT discovery prefix.', TOPIC, d.mqtt.discoveryPrefix, ['homeassistant']),
    statusTopic: prop('HA status topic', 'Home Assistant announces online here; the gadget then publishes discovery again.', TOPIC, d.mqtt.statusTopic, ['homeassistant/status']),
    homeassistant: prop('Home Assistant discovery', 'Publish discovery configs; false removes the entities.', { type: 'boolean' }, d.mqtt.homeassistant, [true]),
  },
  if: { properties: { enabled: { const: true } } },
  then: { properties: { url: { type: 'string' } } },
}, d.mqtt, [{ enabled: true, url: 'mqtt://127.0.0.1:1883' }]);

export class ConfigError extends Error {
  readonly code: 'config_missing' | 'config_unreadable' | 'config_invalid_json' | 'config_invalid';
  readonly errors: readonly string[];
  constructor(code: ConfigError['code'], message: string, errors: readonly string[] = []) {
    super(errors.length ? `${message}\n  - ${errors.join('\n  - ')}` : message);
    this.name = 'ConfigError';
    this.code = code;
    this.errors = errors;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Fills absent keys from the defaults, recursively; present keys (even wrong ones) are kept for the validator to judge. */
function withDefaults(defaults: unknown, value: unknown): unknown {
  if (value === undefined) return structuredClone(defaults);
  if (!isPlainObject(defaults) || !isPlainObject(value)) return value;
  const merged: Record<string, unknown> = { ...value };
  for (const [key, fallback] of Object.entries(defaults)) merged[key] = withDefaults(fallback, value[key]);
  return merged;
}

export function describeError(error: ErrorObject): string {
  const where = error.instancePath || '/';
  if (error.keyword === 'additionalProperties') {
    return `${where} has an unknown property "${String(error.params.additionalProperty)}"`;
  }
  if (error.keyword === 'enum') {
    return `${where} must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (error.keyword === 'pattern' && where === '/device/crewCode') {
    return `${where} must look like LEELOO-XXXX (letters and digits without I, O, 0, 1)`;
  }
  if (where === '/mqtt/url' && (error.keyword === 'pattern' || error.keyword === 'type')) {
    return `${where} must be an mqtt://, mqtts://, ws:// or wss:// URL when /mqtt/enabled is true`;
  }
  if (error.keyword === 'pattern' && where.startsWith('/mqtt/')) {
    return `${where} must be a topic without "+", "#" or a trailing "/"`;
  }
  if (error.keyword === 'pattern' && where === '/relay/url') {
    return `${where} must be a ws:// or wss:// URL`;
  }
  return `${where} ${error.message ?? 'is invalid'}`;
}

let compiled: ReturnType<Ajv['compile']> | null = null;

function validator(): ReturnType<Ajv['compile']> {
  // Compiled lazily so driver blocks registered at import time are part of the schema.
  compiled ??= new Ajv({ allErrors: true, strict: true, strictTypes: false }).compile(configSchema());
  return compiled;
}

/** Validates a parsed config object; relative paths are resolved against baseDir. Throws ConfigError. */
export function parseConfig(raw: unknown, baseDir: string): DeviceConfig {
  if (!isPlainObject(raw)) throw new ConfigError('config_invalid', 'The config must be a JSON object.', ['/ must be object']);
  const device = raw.device;
  if (isPlainObject(device) && typeof device.crewCode === 'string') {
    // People type codes in any case; the relay wants the canonical form.
    raw = { ...raw, device: { ...device, crewCode: device.crewCode.trim().toUpperCase() } };
  }
  const candidate = withDefaults(CONFIG_DEFAULTS, raw) as DeviceConfig;
  const validate = validator();
  if (!validate(candidate)) {
    // An unmet if/then is reported by the `then` error itself; the `if` line adds nothing.
    const errors = [...new Set((validate.errors ?? []).filter((e) => e.keyword !== 'if').map(describeError))];
    throw new ConfigError('config_invalid', 'The device config is invalid:', errors);
  }
  candidate.dataDir = path.resolve(baseDir, candidate.dataDir);
  candidate.update.releasesDir = path.resolve(baseDir, candidate.update.releasesDir);
  if (candidate.sim.snapshotDir !== null) candidate.sim.snapshotDir = path.resolve(baseDir, candidate.sim.snapshotDir);
  resolveMqttFiles(candidate.mqtt, baseDir);
  return candidate;
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
      errors.push(`/mqtt/${name} cannot be read: ${mqtt[name]} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if ((mqtt.cert === null) !== (mqtt.key === null)) errors.push('/mqtt/cert and /mqtt/key must be given together');
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
