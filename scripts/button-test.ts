/**
 * Prints every button event (press, release, long_press, double_press, rotate) with
 * the time since start, for checking wiring and debounce on a Pi.
 *
 *   npx tsx scripts/button-test.ts                    pins of the default config (GPIO 5, 6, 13, 19)
 *   npx tsx scripts/button-test.ts --config /etc/leeloo/device.json
 *   npx tsx scripts/button-test.ts --pins 5,6,13,19 --rotary 20,21 --seconds 60
 *   npx tsx scripts/button-test.ts --input            the gpio-key / rotary-encoder overlays (/dev/input)
 * Ends after --seconds (default 30) or Ctrl-C, then unexports the pins. With --input, or
 * a config whose buttons.driver is input, it reads the kernel's input devices instead.
 */
import { loadConfig, parseConfig } from '../device/config.js';
import { createGpioButtons } from '../device/gpio-buttons.js';
import { createInputButtons } from '../device/input-buttons.js';
import { BUTTON_NAMES, type ButtonEvent } from '../device/hardware.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const seconds = Number(option('--seconds') ?? 30);

function buttonsConfig() {
  const file = option('--config');
  const base = file ? loadConfig(file) : parseConfig({ buttons: { driver: args.includes('--input') ? 'input' : 'gpio' } }, process.cwd());
  const pins = option('--pins')?.split(',').map(Number);
  const rotary = option('--rotary')?.split(',').map(Number);
  const gpio = {
    ...base.buttons.gpio,
    ...(pins ? { pins: Object.fromEntries(BUTTON_NAMES.map((name, i) => [name, pins[i] ?? null])) } : {}),
    ...(rotary ? { rotary: { a: rotary[0], b: rotary[1] } } : {}),
  };
  // Validated like the daemon's config, so a typo gets the same readable error.
  const driver = base.buttons.driver === 'input' || args.includes('--input') ? 'input' : 'gpio';
  return parseConfig({ buttons: { driver, longPressMs: base.buttons.longPressMs, gpio, input: base.buttons.input } }, process.cwd()).buttons;
}

function describe(event: ButtonEvent, start: number): string {
  const t = ((event.at - start) / 1000).toFixed(3).padStart(8);
  return event.kind === 'rotate' ? `${t}s  rotate ${event.delta > 0 ? '+1' : '-1'}` : `${t}s  ${event.kind.padEnd(12)} ${event.button}`;
}

async function main(): Promise<void> {
  const config = buttonsConfig();
  const buttons = config.driver === 'input' ? createInputButtons(config) : createGpioButtons(config);
  await buttons.start();
  const start = Date.now();
  let count = 0;
  buttons.onEvent((event) => {
    count++;
    console.log(describe(event, start));
  });
  const pins = Object.entries(config.gpio.pins)
    .filter(([, pin]) => pin !== null)
    .map(([name, pin]) => `${name}=GPIO${pin}`);
  const source =
    config.driver === 'input'
      ? 'the kernel input devices (gpio-key, rotary-encoder)'
      : `${pins.join(' ')}${config.gpio.rotary ? ` rotary=GPIO${config.gpio.rotary.a},${config.gpio.rotary.b}` : ''}`;
  console.log(`button-test: listening on ${source} for ${seconds} s`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, seconds * 1000);
    process.once('SIGINT', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await buttons.stop();
  console.log(`button-test: ${count} events in ${((Date.now() - start) / 1000).toFixed(1)} s; pins unexported`);
}

main().catch((error: unknown) => {
  const e = error as { code?: string; message?: string };
  console.error(`button-test: failed${e.code ? ` [${e.code}]` : ''}: ${e.message ?? String(error)}`);
  process.exitCode = 1;
});
