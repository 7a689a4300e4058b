import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sysfsGpioNumber, type GpioLine, type GpioPort } from './gpio-line.js';
import type { BacklightConfig } from './hardware-config.js';
import { HardwareError, errnoCode } from './hardware-error.js';

/**
 * The backlight, switched on or off. Panels wire it to a GPIO, to a kernel backlight
 * device (/sys/class/backlight/*: bl_power where the driver has it, brightness
 * otherwise), or let the framebuffer's blank switch it (fbtft does).
 */
export interface Backlight {
  set(on: boolean): Promise<void>;
  release(): Promise<void>;
}

export class NoBacklight implements Backlight {
  async set(): Promise<void> {}
  async release(): Promise<void> {}
}

export class GpioBacklight implements Backlight {
  constructor(
    private readonly line: GpioLine,
    private readonly activeHigh = true,
  ) {}

  async set(on: boolean): Promise<void> {
    await this.line.write(on === this.activeHigh ? 1 : 0);
  }

  async release(): Promise<void> {
    this.line.release();
  }
}

// FB_BLANK_UNBLANK and FB_BLANK_POWERDOWN from linux/fb.h.
const UNBLANK = '0';
const POWERDOWN = '4';

export class SysfsBacklight implements Backlight {
  private constructor(
    private readonly dir: string,
    private readonly mode: 'bl_power' | 'brightness',
    private readonly maxBrightness: number,
  ) {}

  /** Opens the named device under /sys/class/backlight, or the only one there if no name is given. */
  static async open(sysfsRoot = '/sys', name?: string): Promise<SysfsBacklight> {
    const classDir = join(sysfsRoot, 'class', 'backlight');
    const dir = join(classDir, name ?? (await onlyDevice(classDir)));
    const max = Number(await readSysfs(dir, 'max_brightness'));
    const hasPower = await readSysfs(dir, 'bl_power').then(
      () => true,
      () => false,
    );
    return new SysfsBacklight(dir, hasPower ? 'bl_power' : 'brightness', Number.isFinite(max) && max > 0 ? max : 1);
  }

  async set(on: boolean): Promise<void> {
    if (this.mode === 'bl_power') await writeSysfs(this.dir, 'bl_power', on ? UNBLANK : POWERDOWN);
    else await writeSysfs(this.dir, 'brightness', on ? String(this.maxBrightness) : '0');
  }

  async release(): Promise<void> {}
}

/** Blanks the framebuffer through /sys/class/graphics/fbN/blank; fbtft turns its backlight off with it. */
export class FbBlankBacklight implements Backlight {
  constructor(private readonly fbDir: string) {}

  async set(on: boolean): Promise<void> {
    await writeSysfs(this.fbDir, 'blank', on ? UNBLANK : POWERDOWN);
  }

  async release(): Promise<void> {}
}

async function onlyDevice(classDir: string): Promise<string> {
  const names = await readdir(classDir).catch(() => [] as string[]);
  if (names.length === 0) {
    throw new HardwareError('backlight_missing', `No backlight device under ${classDir}; set backlight to "gpio" or "none".`);
  }
  if (names.length > 1) {
    throw new HardwareError('backlight_missing', `Several backlight devices under ${classDir} (${names.join(', ')}); name one.`);
  }
  return names[0]!;
}

async function readSysfs(dir: string, file: string): Promise<string> {
  try {
    return (await readFile(join(dir, file), 'utf8')).trim();
  } catch (error) {
    throw new HardwareError('backlight_missing', `${join(dir, file)} cannot be read (${errnoCode(error) ?? 'error'}).`, {
      cause: error,
    });
  }
}

async function writeSysfs(dir: string, file: string, value: string): Promise<void> {
  try {
    await writeFile(join(dir, file), value);
  } catch (error) {
    throw new HardwareError(
      'backlight_missing',
      `${join(dir, file)} cannot be written (${errnoCode(error) ?? 'error'}); is the user in group video?`,
      { cause: error },
    );
  }
}

export interface BacklightDeps {
  gpio: GpioPort;
  sysfsRoot?: string;
  /** The framebuffer's sysfs directory, for kind fb-blank. */
  fbDir?: string;
}

/** Opens the backlight a config block names. */
export async function openBacklight(config: BacklightConfig, deps: BacklightDeps): Promise<Backlight> {
  switch (config.kind) {
    case 'none':
      return new NoBacklight();
    case 'sysfs':
      return SysfsBacklight.open(deps.sysfsRoot, config.name ?? undefined);
    case 'fb-blank':
      if (!deps.fbDir) throw new HardwareError('backlight_missing', 'Backlight kind fb-blank works with the fb display driver only.');
      return new FbBlankBacklight(deps.fbDir);
    case 'gpio': {
      if (config.pin === null) throw new HardwareError('backlight_missing', 'Backlight kind gpio needs a pin.');
      const line = await deps.gpio.open(await sysfsGpioNumber(config.pin, deps.sysfsRoot), config.activeHigh ? 'high' : 'low');
      return new GpioBacklight(line, config.activeHigh);
    }
  }
}

/** A backlight opened on first use, so a driver built synchronously reports problems at start(). */
export class DeferredBacklight implements Backlight {
  private inner: Backlight | null = null;

  constructor(
    private readonly config: BacklightConfig,
    private readonly deps: BacklightDeps,
  ) {}

  async set(on: boolean): Promise<void> {
    this.inner ??= await openBacklight(this.config, this.deps);
    await this.inner.set(on);
  }

  async release(): Promise<void> {
    const inner = this.inner;
    this.inner = null;
    await inner?.release();
  }
}
