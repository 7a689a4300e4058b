import { constants } from 'node:fs';
import { access, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HardwareError, errnoCode } from './hardware-error.js';

/**
 * GPIO lines through the kernel's sysfs interface (onoff). Pins are configured as the
 * header labels them (BCM numbers, GPIO17 = 17); newer kernels number sysfs lines
 * from the gpiochip's base (512 on Pi OS bookworm's 6.6 kernels, 571 on a Pi 5's RP1),
 * so the base is read from /sys/class/gpio/gpiochipN/{label,base,ngpio}.
 */
export type Bit = 0 | 1;
export type LineMode = 'in' | 'low' | 'high';

export interface GpioLine {
  read(): Promise<Bit>;
  write(value: Bit): Promise<void>;
  /** Inputs only: calls back with the line's new value on every edge. */
  watch(listener: (value: Bit) => void): void;
  /** Stops watching and unexports the line. */
  release(): void;
}

/** Opens a line by its sysfs number; inputs are opened with interrupts on both edges. */
export interface GpioPort {
  open(sysfsNumber: number, mode: LineMode): Promise<GpioLine>;
}

/** Labels of the controller that drives the 40-pin header, most specific first (Pi 5, Pi 4, older). */
export const HEADER_CHIP_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'] as const;
export const HEADER_GPIO_MAX = 27;

interface Chip {
  label: string;
  base: number;
  ngpio: number;
}

/** The sysfs line number of header pin GPIO`bcm`. */
export async function sysfsGpioNumber(bcm: number, sysfsRoot = '/sys'): Promise<number> {
  if (!Number.isInteger(bcm) || bcm < 0 || bcm > HEADER_GPIO_MAX) {
    throw new HardwareError('gpio_pin', `GPIO ${bcm} is not a header GPIO; use a BCM number from 0 to ${HEADER_GPIO_MAX}.`);
  }
  const chips = await listChips(sysfsRoot);
  const chip = HEADER_CHIP_LABELS.map((label) => chips.find((c) => c.label === label)).find((c) => c);
  if (!chip) {
    const seen = chips.map((c) => c.label).join(', ') || 'none';
    throw new HardwareError(
      'gpio_chip_missing',
      `No Raspberry Pi GPIO controller (${HEADER_CHIP_LABELS.join(', ')}) under ${sysfsRoot}/class/gpio; found: ${seen}.`,
    );
  }
  return chip.base + bcm;
}

async function listChips(sysfsRoot: string): Promise<Chip[]> {
  const dir = join(sysfsRoot, 'class', 'gpio');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new HardwareError('gpio_unavailable', `${dir} cannot be read (${errnoCode(error) ?? 'error'}); this kernel has no sysfs GPIO or this is not a Pi.`, {
      cause: error,
    });
  }
  const chips: Chip[] = [];
  for (const name of names.filter((n) => n.startsWith('gpiochip'))) chips.push(await readChip(join(dir, name)));
  return chips;
}

async function readChip(dir: string): Promise<Chip> {
  const read = async (file: string) => (await readFile(join(dir, file), 'utf8')).trim();
  return { label: await read('label'), base: Number(await read('base')), ngpio: Number(await read('ngpio')) };
}

/**
 * Exports a sysfs GPIO line and waits, without blocking the event loop, until udev has
 * given the gpio group its attributes (the kernel creates them root-only; Pi OS's udev
 * rule changes them a few hundred ms later). onoff, finding the line exported, skips
 * its own synchronous wait.
 */
export async function exportLine(sysfsNumber: number, mode: LineMode, options: { sysfsRoot?: string; timeoutMs?: number } = {}): Promise<void> {
  const classDir = join(options.sysfsRoot ?? '/sys', 'class', 'gpio');
  const lineDir = join(classDir, `gpio${sysfsNumber}`);
  const exported = await stat(lineDir).then(
    () => true,
    () => false,
  );
  if (!exported) {
    await writeFile(join(classDir, 'export'), String(sysfsNumber)).catch((error: unknown) => {
      // EBUSY: someone exported it meanwhile, which is fine.
      if (errnoCode(error) !== 'EBUSY') {
        throw new HardwareError(
          'gpio_unavailable',
          `${join(classDir, 'export')} cannot be written (${errnoCode(error) ?? String(error)}); is the user in group gpio?`,
          { cause: error },
        );
      }
    });
  }
  const files = ['value', 'direction', 'active_low', ...(mode === 'in' ? ['edge'] : [])].map((f) => join(lineDir, f));
  const deadline = Date.now() + (options.timeoutMs ?? 2000);
  for (;;) {
    const ready = await Promise.all(
      files.map((f) =>
        access(f, constants.R_OK | constants.W_OK).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (ready.every(Boolean)) return;
    if (Date.now() >= deadline) {
      const missing = files.filter((_, i) => !ready[i]).join(', ');
      throw new HardwareError('gpio_unavailable', `${missing} did not become writable after export; is the user in group gpio?`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The real port: onoff, loaded only when a Pi asks for it (it needs the epoll addon). */
export class OnoffGpioPort implements GpioPort {
  async open(sysfsNumber: number, mode: LineMode): Promise<GpioLine> {
    const { Gpio } = await loadOnoff();
    if (!Gpio.accessible) {
      throw new HardwareError('gpio_unavailable', 'sysfs GPIO (/sys/class/gpio) is not accessible; is the user in group gpio?');
    }
    await exportLine(sysfsNumber, mode);
    try {
      const gpio = mode === 'in' ? new Gpio(sysfsNumber, 'in', 'both') : new Gpio(sysfsNumber, mode);
      return wrapOnoff(gpio);
    } catch (error) {
      throw new HardwareError(
        'gpio_pin',
        `sysfs GPIO ${sysfsNumber} cannot be opened (${errnoCode(error) ?? String(error)}); is it in use by an overlay or another program?`,
        { cause: error },
      );
    }
  }
}

/** The part of onoff's API this port uses (onoff is an optional dependency: it builds on Linux only). */
interface OnoffGpio {
  read(): Promise<0 | 1>;
  write(value: 0 | 1): Promise<void>;
  watch(callback: (err: Error | null | undefined, value: 0 | 1) => void): void;
  unwatchAll(): void;
  unexport(): void;
}
interface OnoffModule {
  Gpio: { new (gpio: number, direction: string, edge?: string): OnoffGpio; readonly accessible: boolean };
}

async function loadOnoff(): Promise<OnoffModule> {
  // A variable name keeps TypeScript from needing the package where it did not install.
  const name = 'onoff';
  let mod: OnoffModule & { default?: OnoffModule };
  try {
    mod = (await import(name)) as OnoffModule & { default?: OnoffModule };
  } catch (error) {
    throw new HardwareError(
      'gpio_unavailable',
      `The onoff addon does not load (${(error as Error).message.split('\n')[0]}); the device release ships it and its epoll addon prebuilt for its CPU and Node line: install it with scripts/install-pi.sh --display spi.`,
      { cause: error },
    );
  }
  return mod.Gpio ? mod : mod.default!;
}

function wrapOnoff(gpio: OnoffGpio): GpioLine {
  return {
    read: () => gpio.read(),
    write: (value) => gpio.write(value),
    watch: (listener) =>
      gpio.watch((err, value) => {
        if (!err) listener(value);
      }),
    release: () => {
      gpio.unwatchAll();
      gpio.unexport();
    },
  };
}
