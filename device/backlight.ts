import { constants } from 'node:fs';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sysfsGpioNumber, type GpioLine, type GpioPort } from './gpio-line.js';
import type { BacklightConfig } from './hardware-config.js';
import { HardwareError, errnoCode } from './hardware-error.js';

/**
 * The backlight, switched on or off. Panels wire it to a GPIO, to a kernel backlight
 * device (/sys/class/backlight/*: bl_power where the driver has it and lets us write
 * it, brightness otherwise), or let the framebuffer's blank switch it (DRM fbdev
 * does; fbtft's fb_ili9486 has no blank op and answers EINVAL). sysfs attributes are
 * root-owned 0644 unless a udev rule hands them to a group, so every sysfs kind
 * checks that this process may write before it is chosen.
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
    const mode = (await writable(join(dir, 'bl_power'))) ? 'bl_power' : 'brightness';
    if (mode === 'brightness' && !(await writable(join(dir, 'brightness')))) {
      throw new HardwareError(
        'backlight_denied',
        `${join(dir, 'brightness')} is not writable by this user; give group video write access with the udev rule in docs/HARDWARE.md, or set backlight to "none".`,
      );
    }
    return new SysfsBacklight(dir, mode, Number.isFinite(max) && max > 0 ? max : 1);
  }

  /** The first device under /sys/class/backlight this process may switch, or null. */
  static async findWritable(sysfsRoot = '/sys'): Promise<SysfsBacklight | null> {
    const classDir = join(sysfsRoot, 'class', 'backlight');
    const names = (await readdir(classDir).catch(() => [] as string[])).sort();
    for (const name of names) {
      const backlight = await SysfsBacklight.open(sysfsRoot, name).catch(() => null);
      if (backlight) return backlight;
    }
    return null;
  }

  async set(on: boolean): Promise<void> {
    if (this.mode === 'bl_power') await writeSysfs(this.dir, 'bl_power', on ? UNBLANK : POWERDOWN);
    else await writeSysfs(this.dir, 'brightness', on ? String(this.maxBrightness) : '0');
  }

  async release(): Promise<void> {}
}

/** Blanks the framebuffer through /sys/class/graphics/fbN/blank (DRM fbdev; root-only unless a udev rule says otherwise). */
export class FbBlankBacklight implements Backlight {
  constructor(private readonly fbDir: string) {}

  async set(on: boolean): Promise<void> {
    await writeSysfs(this.fbDir, 'blank', on ? UNBLANK : POWERDOWN);
  }

  async release(): Promise<void> {}
}

/** Whether this process may write `file`, decided by the kernel (mode, owner, groups, capabilities). */
export async function writable(file: string): Promise<boolean> {
  return access(file, constants.W_OK).then(
    () => true,
    () => false,
  );
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
    throw new HardwareError('backlight_missing', `${join(dir, file)} cannot be written (${errnoCode(error) ?? 'error'}); is the user in group video?`, {
      cause: error,
    });
  }
}

export interface BacklightDeps {
  gpio: GpioPort;
  sysfsRoot?: string;
  /** The framebuffer's sysfs directory, for kind fb-blank. */
  fbDir?: string;
  /** Told why the backlight is not switched (the daemon logs it as a warning); it never stops the daemon. */
  warn?: (sentence: string) => void;
}

/** Opens the backlight a config block names. */
export async function openBacklight(config: BacklightConfig, deps: BacklightDeps): Promise<Backlight> {
  switch (config.kind) {
    case 'none':
      return new NoBacklight();
    case 'auto':
      return (await SysfsBacklight.findWritable(deps.sysfsRoot)) ?? noWritableBacklight(deps);
    case 'sysfs':
      return SysfsBacklight.open(deps.sysfsRoot, config.name ?? undefined);
    case 'fb-blank': {
      if (!deps.fbDir) throw new HardwareError('backlight_missing', 'Backlight kind fb-blank works with the fb display driver only.');
      const blank = join(deps.fbDir, 'blank');
      if (!(await writable(blank))) {
        throw new HardwareError('backlight_denied', `${blank} is not writable by this user (root-only by default); use backlight "auto" or "none".`);
      }
      return new FbBlankBacklight(deps.fbDir);
    }
    case 'gpio': {
      if (config.pin === null) throw new HardwareError('backlight_missing', 'Backlight kind gpio needs a pin.');
      const line = await deps.gpio.open(await sysfsGpioNumber(config.pin, deps.sysfsRoot), config.activeHigh ? 'high' : 'low');
      return new GpioBacklight(line, config.activeHigh);
    }
  }
}

/** Kind auto found nothing it may switch: say so when a device exists (a udev rule would fix it). */
async function noWritableBacklight(deps: BacklightDeps): Promise<Backlight> {
  const classDir = join(deps.sysfsRoot ?? '/sys', 'class', 'backlight');
  const names = await readdir(classDir).catch(() => [] as string[]);
  if (names.length > 0) {
    deps.warn?.(
      `No backlight control: ${names.map((n) => join(classDir, n, 'brightness')).join(', ')} not writable by this user; the screen sleeps by going black. The udev rule in docs/HARDWARE.md gives group video access.`,
    );
  }
  return new NoBacklight();
}

/** openBacklight, but a backlight that cannot be opened is a warning and no backlight control. */
export async function openBacklightOrNone(config: BacklightConfig, deps: BacklightDeps): Promise<Backlight> {
  try {
    return await openBacklight(config, deps);
  } catch (error) {
    deps.warn?.(`No backlight control: ${(error as Error).message}`);
    return new NoBacklight();
  }
}

/**
 * A backlight opened on first use, so a driver built synchronously reports problems at
 * start(). It never throws: a backlight that cannot be opened or switched is reported
 * through deps.warn (once per distinct sentence) and the screen keeps drawing.
 */
export class DeferredBacklight implements Backlight {
  private inner: Backlight | null = null;
  private readonly warned = new Set<string>();

  constructor(
    private readonly config: BacklightConfig,
    private readonly deps: BacklightDeps,
  ) {}

  async set(on: boolean): Promise<void> {
    this.inner ??= await openBacklightOrNone(this.config, { ...this.deps, warn: (sentence) => this.warn(sentence) });
    try {
      await this.inner.set(on);
    } catch (error) {
      this.warn(`The backlight could not be switched ${on ? 'on' : 'off'}: ${(error as Error).message}`);
    }
  }

  async release(): Promise<void> {
    const inner = this.inner;
    this.inner = null;
    await inner?.release();
  }

  private warn(sentence: string): void {
    if (this.warned.has(sentence)) return;
    this.warned.add(sentence);
    this.deps.warn?.(sentence);
  }
}
