import { z } from 'zod';
import { PANEL_NAMES, type PanelName } from './panels/catalog.js';
import { section, setting } from './setting.js';

/**
 * The config blocks of the real hardware drivers: `display.fb`, `display.spi`,
 * `buttons.gpio` and `buttons.input`, each property with its default and documentation;
 * device/config.ts puts them into the config schema. Pins are BCM GPIO numbers as printed
 * on the header; the defaults fit a Waveshare 3.5" (A) (DC GPIO24, RST GPIO25 on CE0)
 * with buttons on the header pins it leaves free.
 */

const gpioNumber = z.number().int().min(0).max(27);

function backlight(kind: 'auto' | 'none') {
  return section('Backlight', 'How the backlight is switched for screen sleep.', {
    kind: setting(
      z.enum(['none', 'auto', 'gpio', 'sysfs', 'fb-blank']).default(kind),
      'Kind',
      'none, auto (a /sys/class/backlight device this user may write, else none), gpio (a pin), sysfs (a named /sys/class/backlight device) or fb-blank (DRM framebuffers; root-only unless a udev rule opens it).',
      ['auto', 'gpio'],
    ),
    pin: setting(gpioNumber.nullable().default(null), 'Pin', 'BCM GPIO driving the backlight (kind gpio).', [18, null]),
    activeHigh: setting(z.boolean().default(true), 'Active high', 'The backlight is on when the pin is high.', [true]),
    name: setting(
      z
        .string()
        .min(1)
        .regex(/^[^/]+$/, 'must be a name under /sys/class/backlight, without "/"')
        .nullable()
        .default(null),
      'Device name',
      'Name under /sys/class/backlight (kind sysfs); null takes the only one.',
      ['soc:backlight', null],
    ),
  });
}

export const FbSettings = section('Framebuffer', 'Options of the fb driver (fbtft or panel-mipi-dbi framebuffer).', {
  device: setting(
    z
      .string()
      .regex(/^\/dev\/fb[0-9]+$/, 'must be a framebuffer device such as /dev/fb1')
      .default('/dev/fb1'),
    'Device',
    'The framebuffer device node, used when name is null; never the HDMI one (vc4drmfb).',
    ['/dev/fb1', '/dev/fb0'],
  ),
  name: setting(
    z.string().min(1).max(31).nullable().default(null),
    'Name',
    'The panel framebuffer by its /sys/class/graphics/fbN/name (fbN numbers change with probe order); null uses device.',
    ['ili9486drmfb', 'fb_ili9486', null],
  ),
  backlight: backlight('auto'),
});

export const SpiSettings = section('SPI panel', 'Options of the spi driver (the panel driven directly over spidev).', {
  panel: setting(z.enum(PANEL_NAMES as [PanelName, ...PanelName[]]).default('ili9486'), 'Panel', 'The panel controller.', ['ili9486', 'st7796']),
  bus: setting(z.number().int().min(0).max(6).default(0), 'SPI bus', 'N in /dev/spidevN.M.', [0]),
  chipSelect: setting(z.number().int().min(0).max(3).default(0), 'Chip select', 'M in /dev/spidevN.M (CE0 = 0).', [0]),
  speedHz: setting(
    z.number().int().min(100_000).max(125_000_000).nullable().default(null),
    'SPI clock',
    'Hz; null uses the panel default (16 MHz for the ILI9486).',
    [16_000_000, null],
  ),
  rotation: setting(z.literal([0, 90, 180, 270]).default(90), 'Rotation', 'Degrees; 90 or 270 give landscape.', [90, 270]),
  regWidth: setting(
    z.literal([8, 16]).nullable().default(null),
    'Register width',
    '16 for boards with a 16-bit shift register (Waveshare 3.5" A), 8 otherwise; null uses the panel default.',
    [16, 8, null],
  ),
  dcPin: setting(gpioNumber.default(24), 'DC pin', 'BCM GPIO of the data/command line.', [24]),
  resetPin: setting(gpioNumber.nullable().default(25), 'Reset pin', 'BCM GPIO of the reset line, null if not wired.', [25, null]),
  bgr: setting(z.boolean().nullable().default(null), 'BGR', 'Colour filter order; null uses the panel default.', [null, true]),
  invert: setting(z.boolean().nullable().default(null), 'Invert', 'Display inversion (IPS panels); null uses the panel default.', [null, true]),
  backlight: backlight('none'),
});

const ROLES = { prev: 'Previous screen.', next: 'Next screen.', primary: 'Share / confirm.', secondary: 'React / back.' } as const;

/** One value per logical button (a pin, a key code), each with its default. */
function perButton(title: string, description: string, value: z.ZodNullable<z.ZodNumber>, defaults: Record<keyof typeof ROLES, number>) {
  const one = (role: keyof typeof ROLES) => setting(value.default(defaults[role]), role[0]!.toUpperCase() + role.slice(1), ROLES[role], [defaults[role]]);
  return section(title, description, { prev: one('prev'), next: one('next'), primary: one('primary'), secondary: one('secondary') });
}

const Rotary = z.strictObject({
  a: setting(gpioNumber, 'A', 'BCM GPIO of pin A.', [20]),
  b: setting(gpioNumber, 'B', 'BCM GPIO of pin B.', [21]),
  stepsPerDetent: setting(z.literal([1, 2, 4]).default(4), 'Steps per detent', 'Quadrature steps per click.', [4]),
  reverse: setting(z.boolean().default(false), 'Reverse', 'Swap the direction.', [false]),
});

export const GpioSettings = section('GPIO buttons', 'Options of the gpio button driver.', {
  pins: perButton('Pins', 'BCM GPIO of each button (wired to ground); null if absent.', gpioNumber.nullable(), {
    prev: 5,
    next: 6,
    primary: 13,
    secondary: 19,
  }),
  activeLow: setting(z.boolean().default(true), 'Active low', 'Buttons pull the pin to ground when pressed.', [true]),
  debounceMs: setting(z.number().int().min(1).max(200).default(20), 'Debounce', 'Milliseconds a level must hold to count.', [20]),
  doublePressMs: setting(
    z.number().int().min(50).max(2000).default(350),
    'Double press',
    'Milliseconds between a release and the next press for a double press.',
    [350],
  ),
  rotary: setting(Rotary.nullable().default(null), 'Rotary encoder', 'Two pins of a rotary encoder, or null.', [
    null,
    { a: 20, b: 21, stepsPerDetent: 4, reverse: false },
  ]),
});

// KEY_LEFT, KEY_RIGHT, KEY_ENTER, KEY_ESC: what the installer's gpio-key lines send.
export const InputSettings = section(
  'Input-event buttons',
  "Options of the input driver: buttons from the gpio-key overlay and the encoder from the rotary-encoder overlay, read from /dev/input/event*. The pins are the gpio block's (the installer writes them into config.txt).",
  {
    keys: perButton(
      'Key codes',
      'Linux key code (linux/input-event-codes.h) each button sends, by default KEY_LEFT, KEY_RIGHT, KEY_ENTER, KEY_ESC; null if absent.',
      z.number().int().min(1).max(767).nullable(),
      { prev: 105, next: 106, primary: 28, secondary: 1 },
    ),
    rotaryAxis: setting(
      z.number().int().min(0).max(15).nullable().default(0),
      'Encoder axis',
      'REL axis the rotary-encoder overlay reports with relative_axis=1 (REL_X = 0); null for no encoder.',
      [0, null],
    ),
    reverse: setting(z.boolean().default(false), 'Reverse', 'Swap the encoder direction.', [false]),
    devices: setting(
      z
        .array(z.string().regex(/^\/dev\/input\//, 'must be a device under /dev/input/'))
        .nullable()
        .default(null),
      'Devices',
      'Event devices to read; null finds the gpio-key and rotary-encoder devices in /sys/class/input.',
      [null, ['/dev/input/event0']],
    ),
  },
);

export const SleepSetting = setting(
  z.number().int().min(0).max(86_400).default(300),
  'Screen sleep',
  'Seconds without activity (a button press, an incoming share or reaction, the owner starting music) before the backlight goes off, whether or not music plays; 0 never. Combines with sleepWithoutMusicSeconds: whichever falls due first turns the screen off.',
  [300, 0],
);

export type FbConfig = z.output<typeof FbSettings>;
export type SpiConfig = z.output<typeof SpiSettings>;
export type BacklightConfig = FbConfig['backlight'];
export type BacklightKind = BacklightConfig['kind'];
export type GpioButtonsConfig = z.output<typeof GpioSettings>;
export type RotaryConfig = z.output<typeof Rotary>;
export type InputButtonsConfig = z.output<typeof InputSettings>;
