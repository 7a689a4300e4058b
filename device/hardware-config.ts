import { PANEL_NAMES, type PanelName } from './panels/catalog.js';

/**
 * The config blocks of the real hardware drivers: `display.fb`, `display.spi` and
 * `buttons.gpio`, as JSON Schema (title, description, default, examples) plus their
 * types and defaults. device/config.ts puts them into the config schema. Pins are
 * BCM GPIO numbers as printed on the header; the defaults fit a Waveshare 3.5" (A)
 * (DC GPIO24, RST GPIO25 on CE0) with buttons on the header pins it leaves free.
 */
export type BacklightKind = 'none' | 'auto' | 'gpio' | 'sysfs' | 'fb-blank';

export interface BacklightConfig {
  kind: BacklightKind;
  /** GPIO for kind gpio. */
  pin: number | null;
  activeHigh: boolean;
  /** Device under /sys/class/backlight for kind sysfs; null takes the only one. */
  name?: string | null;
}

export interface FbConfig {
  device: string;
  /** The framebuffer's sysfs name (fb_ili9486, ili9486drmfb); when set it picks the device, whatever its number. */
  name?: string | null;
  backlight: BacklightConfig;
}

export interface SpiConfig {
  panel: PanelName;
  bus: number;
  chipSelect: number;
  speedHz: number | null;
  rotation: 0 | 90 | 180 | 270;
  regWidth: 8 | 16 | null;
  dcPin: number;
  resetPin: number | null;
  bgr: boolean | null;
  invert: boolean | null;
  backlight: BacklightConfig;
}

export interface RotaryConfig {
  a: number;
  b: number;
  stepsPerDetent?: 1 | 2 | 4;
  reverse?: boolean;
}

export interface GpioButtonsConfig {
  pins: { prev: number | null; next: number | null; primary: number | null; secondary: number | null };
  activeLow: boolean;
  debounceMs: number;
  doublePressMs: number;
  rotary: RotaryConfig | null;
}

/** The input driver: key codes of the gpio-key overlays and the rotary-encoder's axis. */
export interface InputButtonsConfig {
  keys: { prev: number | null; next: number | null; primary: number | null; secondary: number | null };
  /** REL axis of the rotary-encoder overlay (relative_axis=1; REL_X = 0), null for none. */
  rotaryAxis: number | null;
  reverse: boolean;
  /** /dev/input/eventN to read; null finds the devices by what they send. */
  devices: string[] | null;
}

export const HARDWARE_DEFAULTS = {
  fb: { device: '/dev/fb1', name: null, backlight: { kind: 'auto', pin: null, activeHigh: true, name: null } } as FbConfig,
  spi: {
    panel: 'ili9486',
    bus: 0,
    chipSelect: 0,
    speedHz: null,
    rotation: 90,
    regWidth: null,
    dcPin: 24,
    resetPin: 25,
    bgr: null,
    invert: null,
    backlight: { kind: 'none', pin: null, activeHigh: true, name: null },
  } as SpiConfig,
  gpio: {
    pins: { prev: 5, next: 6, primary: 13, secondary: 19 },
    activeLow: true,
    debounceMs: 20,
    doublePressMs: 350,
    rotary: null,
  } as GpioButtonsConfig,
  // KEY_LEFT, KEY_RIGHT, KEY_ENTER, KEY_ESC: what the installer's gpio-key lines send.
  input: { keys: { prev: 105, next: 106, primary: 28, secondary: 1 }, rotaryAxis: 0, reverse: false, devices: null } as InputButtonsConfig,
  sleepAfterSeconds: 300,
};

type JsonSchema = Record<string, unknown>;

function prop(title: string, description: string, schema: JsonSchema, fallback: unknown, examples: unknown[]): JsonSchema {
  return { title, description, ...schema, default: fallback, examples };
}

const GPIO_NUMBER = { type: 'integer', minimum: 0, maximum: 27 };
const OPTIONAL_GPIO = { type: ['integer', 'null'], minimum: 0, maximum: 27 };

function backlightSchema(fallback: BacklightConfig): JsonSchema {
  return prop('Backlight', 'How the backlight is switched for screen sleep.', {
    type: 'object',
    additionalProperties: false,
    properties: {
      kind: prop('Kind', 'none, auto (a /sys/class/backlight device this user may write, else none), gpio (a pin), sysfs (a named /sys/class/backlight device) or fb-blank (DRM framebuffers; root-only unless a udev rule opens it).', { enum: ['none', 'auto', 'gpio', 'sysfs', 'fb-blank'] }, fallback.kind, ['auto', 'gpio']),
      pin: prop('Pin', 'BCM GPIO driving the backlight (kind gpio).', OPTIONAL_GPIO, fallback.pin, [18, null]),
      activeHigh: prop('Active high', 'The backlight is on when the pin is high.', { type: 'boolean' }, fallback.activeHigh, [true]),
      name: prop('Device name', 'Name under /sys/class/backlight (kind sysfs); null takes the only one.', { type: ['string', 'null'], minLength: 1, pattern: '^[^/]+$' }, fallback.name, ['soc:backlight', null]),
    },
  }, fallback, [fallback]);
}

const fb = HARDWARE_DEFAULTS.fb;
export const FB_BLOCK: JsonSchema = prop('Framebuffer', 'Options of the fb driver (fbtft or panel-mipi-dbi framebuffer).', {
  type: 'object',
  additionalProperties: false,
  properties: {
    device: prop('Device', 'The framebuffer device node, used when name is null; never the HDMI one (vc4drmfb).', { type: 'string', pattern: '^/dev/fb[0-9]+$' }, fb.device, ['/dev/fb1', '/dev/fb0']),
    name: prop('Name', 'The panel framebuffer by its /sys/class/graphics/fbN/name (fbN numbers change with probe order); null uses device.', { type: ['string', 'null'], minLength: 1, maxLength: 31 }, fb.name, ['ili9486drmfb', 'fb_ili9486', null]),
    backlight: backlightSchema(fb.backlight),
  },
}, fb, [fb]);

const spi = HARDWARE_DEFAULTS.spi;
export const SPI_BLOCK: JsonSchema = prop('SPI panel', 'Options of the spi driver (the panel driven directly over spidev).', {
  type: 'object',
  additionalProperties: false,
  properties: {
    panel: prop('Panel', 'The panel controller.', { enum: [...PANEL_NAMES] }, spi.panel, ['ili9486', 'st7796']),
    bus: prop('SPI bus', 'N in /dev/spidevN.M.', { type: 'integer', minimum: 0, maximum: 6 }, spi.bus, [0]),
    chipSelect: prop('Chip select', 'M in /dev/spidevN.M (CE0 = 0).', { type: 'integer', minimum: 0, maximum: 3 }, spi.chipSelect, [0]),
    speedHz: prop('SPI clock', 'Hz; null uses the panel default (16 MHz for the ILI9486).', { type: ['integer', 'null'], minimum: 100000, maximum: 125000000 }, spi.speedHz, [16000000, null]),
    rotation: prop('Rotation', 'Degrees; 90 or 270 give landscape.', { enum: [0, 90, 180, 270] }, spi.rotation, [90, 270]),
    regWidth: prop('Register width', '16 for boards with a 16-bit shift register (Waveshare 3.5" A), 8 otherwise; null uses the panel default.', { enum: [8, 16, null] }, spi.regWidth, [16, 8, null]),
    dcPin: prop('DC pin', 'BCM GPIO of the data/command line.', GPIO_NUMBER, spi.dcPin, [24]),
    resetPin: prop('Reset pin', 'BCM GPIO of the reset line, null if not wired.', OPTIONAL_GPIO, spi.resetPin, [25, null]),
    bgr: prop('BGR', 'Colour filter order; null uses the panel default.', { type: ['boolean', 'null'] }, spi.bgr, [null, true]),
    invert: prop('Invert', 'Display inversion (IPS panels); null uses the panel default.', { type: ['boolean', 'null'] }, spi.invert, [null, true]),
    backlight: backlightSchema(spi.backlight),
  },
}, spi, [spi]);

type PerButton<T> = { prev: T; next: T; primary: T; secondary: T };
const BUTTON_ROLES: PerButton<string> = { prev: 'Previous screen.', next: 'Next screen.', primary: 'Share / confirm.', secondary: 'React / back.' };

/** One value per logical button (a pin, a key code). */
function perButton<T>(title: string, description: string, schema: JsonSchema, fallback: PerButton<T>): JsonSchema {
  const properties = Object.fromEntries(
    (Object.keys(BUTTON_ROLES) as (keyof PerButton<T>)[]).map((name) => [name, prop(name[0]!.toUpperCase() + name.slice(1), BUTTON_ROLES[name], schema, fallback[name], [fallback[name]])]),
  );
  return prop(title, description, { type: 'object', additionalProperties: false, properties }, fallback, [fallback]);
}

const gpio = HARDWARE_DEFAULTS.gpio;
export const GPIO_BLOCK: JsonSchema = prop('GPIO buttons', 'Options of the gpio button driver.', {
  type: 'object',
  additionalProperties: false,
  properties: {
    pins: perButton('Pins', 'BCM GPIO of each button (wired to ground); null if absent.', OPTIONAL_GPIO, gpio.pins),
    activeLow: prop('Active low', 'Buttons pull the pin to ground when pressed.', { type: 'boolean' }, gpio.activeLow, [true]),
    debounceMs: prop('Debounce', 'Milliseconds a level must hold to count.', { type: 'integer', minimum: 1, maximum: 200 }, gpio.debounceMs, [20]),
    doublePressMs: prop('Double press', 'Milliseconds between a release and the next press for a double press.', { type: 'integer', minimum: 50, maximum: 2000 }, gpio.doublePressMs, [350]),
    rotary: prop('Rotary encoder', 'Two pins of a rotary encoder, or null.', {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['a', 'b'],
      properties: {
        a: prop('A', 'BCM GPIO of pin A.', GPIO_NUMBER, 20, [20]),
        b: prop('B', 'BCM GPIO of pin B.', GPIO_NUMBER, 21, [21]),
        stepsPerDetent: prop('Steps per detent', 'Quadrature steps per click.', { enum: [1, 2, 4] }, 4, [4]),
        reverse: prop('Reverse', 'Swap the direction.', { type: 'boolean' }, false, [false]),
      },
    }, gpio.rotary, [null, { a: 20, b: 21, stepsPerDetent: 4, reverse: false }]),
  },
}, gpio, [gpio]);

export const SLEEP_PROPERTY: JsonSchema = prop('Screen sleep', 'Seconds without activity before the backlight goes off; 0 never.', { type: 'integer', minimum: 0, maximum: 86400 }, HARDWARE_DEFAULTS.sleepAfterSeconds, [300, 0]);

const input = HARDWARE_DEFAULTS.input;
const KEY_CODE = { type: ['integer', 'null'], minimum: 1, maximum: 767 };
export const INPUT_BLOCK: JsonSchema = prop('Input-event buttons', 'Options of the input driver: buttons from the gpio-key overlay and the encoder from the rotary-encoder overlay, read from /dev/input/event*. The pins are the gpio block\'s (the installer writes them into config.txt).', {
  type: 'object',
  additionalProperties: false,
  properties: {
    keys: perButton('Key codes', 'Linux key code (linux/input-event-codes.h) each button sends, by default KEY_LEFT, KEY_RIGHT, KEY_ENTER, KEY_ESC; null if absent.', KEY_CODE, input.keys),
    rotaryAxis: prop('Encoder axis', 'REL axis the rotary-encoder overlay reports with relative_axis=1 (REL_X = 0); null for no encoder.', { type: ['integer', 'null'], minimum: 0, maximum: 15 }, input.rotaryAxis, [0, null]),
    reverse: prop('Reverse', 'Swap the encoder direction.', { type: 'boolean' }, input.reverse, [false]),
    devices: prop('Devices', 'Event devices to read; null finds the gpio-key and rotary-encoder devices in /sys/class/input.', { type: ['array', 'null'], items: { type: 'string', pattern: '^/dev/input/' } }, input.devices, [null, ['/dev/input/event0']]),
  },
}, input, [input]);
