import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Display, Frame } from './hardware.js';
import { HardwareError, errnoCode } from './hardware-error.js';
import { DeferredBacklight, NoBacklight, type Backlight } from './backlight.js';
import { OnoffGpioPort, type GpioPort } from './gpio-line.js';
import type { FbConfig } from './hardware-config.js';
import { changedRowSpans, type Image } from './dirty-rects.js';
import { BYTES_PER_PIXEL, assertFrameSize, convertFrame, type PixelOrder } from './rgb565.js';

/**
 * A Linux framebuffer (/dev/fbN) as fbtft or the DRM panel-mipi-dbi driver exposes it.
 * The geometry comes from sysfs; the frame is converted to the framebuffer's pixel
 * format and only the rows that changed are written, at their offsets in the device.
 * (fbtft repaints its whole panel on every write, whatever changed; the DRM drivers
 * and the spi driver send only the damaged rectangle: docs/HARDWARE.md.)
 * The panel is found by its sysfs name where one is configured (fbN numbers follow
 * probe order), and the HDMI framebuffer is never drawn into.
 */
export interface FbDisplayOptions {
  /** The device node, e.g. /dev/fb1, used when no name is given. */
  device: string;
  /** The framebuffer's sysfs name (fb_ili9486, ili9486drmfb): picks the device, whatever its number. */
  name?: string | null;
  /** Where sysfs is mounted; tests point it at a temp tree. */
  sysfsRoot?: string;
  width?: number;
  height?: number;
  backlight?: Backlight;
}

export interface FbGeometry {
  name: string;
  width: number;
  height: number;
  bitsPerPixel: number;
  stride: number;
}

export class FbDisplay implements Display {
  readonly width: number;
  readonly height: number;
  private readonly backlight: Backlight;
  private file: FileHandle | null = null;
  private geometry: FbGeometry | null = null;
  private shown: Image | null = null;
  /** While asleep the panel shows black and frames wait here for the wake. */
  private asleep = false;
  private wanted: Image | null = null;
  private openedDevice: string | null = null;

  constructor(private readonly options: FbDisplayOptions) {
    this.width = options.width ?? 480;
    this.height = options.height ?? 320;
    this.backlight = options.backlight ?? new NoBacklight();
  }

  /** The geometry read at start (null before). */
  get info(): FbGeometry | null {
    return this.geometry;
  }

  async start(): Promise<void> {
    const device = await panelFramebuffer(this.options.device, this.options.name ?? null, this.options.sysfsRoot);
    const geometry = await readFbGeometry(device, this.options.sysfsRoot);
    checkNotHdmi(geometry, device);
    checkFits(geometry, this.width, this.height, device);
    const file = await openDevice(device);
    this.openedDevice = device;
    this.file = file;
    this.geometry = geometry;
    this.shown = this.wanted = null;
    this.asleep = false;
    // A backlight that cannot be switched is a warning (DeferredBacklight), never a failed start.
    await this.backlight.set(true);
  }

  /** The device node start() opened (null before). */
  get device(): string | null {
    return this.openedDevice;
  }

  async present(frame: Frame): Promise<void> {
    const { geometry } = this.started();
    assertFrameSize(frame, this.width, this.height);
    const order = pixelOrder(geometry.bitsPerPixel);
    const next: Image = {
      width: this.width,
      height: this.height,
      bytesPerPixel: BYTES_PER_PIXEL[order],
      data: convertFrame(frame, order),
    };
    this.wanted = next;
    if (!this.asleep) await this.draw(next);
  }

  /**
   * Sleep paints the panel black as well as switching the backlight: most panels'
   * backlight cannot be switched from Linux (fbtft, Waveshare 3.5" (A)). Wake draws the
   * newest frame again.
   */
  async setBacklight(on: boolean): Promise<void> {
    if (this.file && !on && !this.asleep) {
      this.asleep = true;
      const shown = this.shown;
      if (shown) await this.draw({ ...shown, data: Buffer.alloc(shown.data.length) });
    } else if (this.file && on && this.asleep) {
      this.asleep = false;
      if (this.wanted) await this.draw(this.wanted);
    }
    await this.backlight.set(on);
  }

  private async draw(next: Image): Promise<void> {
    const { file, geometry } = this.started();
    for (const span of changedRowSpans(this.shown, next)) await writeRows(file, geometry, next, span);
    this.shown = next;
  }

  async stop(): Promise<void> {
    const file = this.file;
    this.file = null;
    this.shown = null;
    await file?.close();
    await this.backlight.release();
  }

  private started(): { file: FileHandle; geometry: FbGeometry } {
    if (!this.file || !this.geometry) {
      throw new HardwareError('not_started', 'The framebuffer display was not started; call start() first.');
    }
    return { file: this.file, geometry: this.geometry };
  }
}

/** Reads /sys/class/graphics/fbN/{name,virtual_size,bits_per_pixel,stride} for /dev/fbN. */
export async function readFbGeometry(device: string, sysfsRoot = '/sys'): Promise<FbGeometry> {
  const fb = basename(device);
  if (!/^fb\d+$/.test(fb)) {
    throw new HardwareError('fb_missing', `${device} is not a framebuffer device; expected a path like /dev/fb1.`);
  }
  const dir = join(sysfsRoot, 'class', 'graphics', fb);
  const name = await readAttr(dir, 'name');
  const [width, height] = (await readAttr(dir, 'virtual_size')).split(',').map(Number);
  const bitsPerPixel = Number(await readAttr(dir, 'bits_per_pixel'));
  const strideText = await readAttr(dir, 'stride').catch(() => '');
  const stride = strideText ? Number(strideText) : ((width ?? 0) * bitsPerPixel) / 8;
  if (!isCount(width) || !isCount(height) || !isCount(stride) || !isCount(bitsPerPixel)) {
    throw new HardwareError('fb_geometry', `${dir} reports an unreadable geometry (virtual_size, bits_per_pixel, stride).`);
  }
  return { name, width, height, bitsPerPixel, stride };
}

/** Names the HDMI/composite output's framebuffer has on a Pi (DRM vc4, the legacy firmware fb, simplefb). */
export const HDMI_FB_NAMES = ['vc4drmfb', 'BCM2708 FB', 'simple', 'simplefb', 'simple-framebuffer'] as const;

function checkNotHdmi(geometry: FbGeometry, device: string): void {
  if ((HDMI_FB_NAMES as readonly string[]).includes(geometry.name)) {
    throw new HardwareError(
      'fb_missing',
      `${device} is the HDMI output (${geometry.name}), not the panel; set display.fb.name to the panel's name from /sys/class/graphics/fb*/name (ili9486drmfb, fb_ili9486).`,
    );
  }
}

/** /dev/fbN of the framebuffer named `name` in sysfs, else `device`. */
export async function panelFramebuffer(device: string, name: string | null, sysfsRoot = '/sys'): Promise<string> {
  if (name === null) return device;
  const classDir = join(sysfsRoot, 'class', 'graphics');
  const seen: string[] = [];
  for (const fb of (await readdir(classDir).catch(() => [] as string[])).filter((n) => /^fb\d+$/.test(n)).sort()) {
    const fbName = (await readFile(join(classDir, fb, 'name'), 'utf8').catch(() => '')).trim();
    if (fbName === name) return join(dirname(device), fb);
    seen.push(`${fb} (${fbName || 'unnamed'})`);
  }
  throw new HardwareError('fb_missing', `No framebuffer named ${name} under ${classDir} (found: ${seen.join(', ') || 'none'}); is the panel overlay loaded?`);
}

function isCount(value: number | undefined): value is number {
  return Number.isInteger(value) && (value as number) > 0;
}

async function readAttr(dir: string, file: string): Promise<string> {
  try {
    return (await readFile(join(dir, file), 'utf8')).trim();
  } catch (error) {
    throw new HardwareError('fb_missing', `${join(dir, file)} cannot be read (${errnoCode(error) ?? 'error'}); is the panel overlay loaded?`, { cause: error });
  }
}

function pixelOrder(bitsPerPixel: number): PixelOrder {
  if (bitsPerPixel === 16) return 'rgb565le';
  if (bitsPerPixel === 32) return 'xrgb8888le';
  throw new HardwareError('fb_format', `The framebuffer has ${bitsPerPixel} bits per pixel; LEELOO drives 16 (RGB565) or 32.`);
}

function checkFits(geometry: FbGeometry, width: number, height: number, device: string): void {
  pixelOrder(geometry.bitsPerPixel);
  if (geometry.width < width || geometry.height < height) {
    const hint = geometry.width === height && geometry.height === width ? ' Rotate it in the overlay (rotate=90).' : '';
    throw new HardwareError('fb_geometry', `${device} is ${geometry.width}×${geometry.height}; the screens need ${width}×${height}.${hint}`);
  }
  if (geometry.stride < (geometry.width * geometry.bitsPerPixel) / 8) {
    throw new HardwareError('fb_geometry', `${device} reports a stride of ${geometry.stride} bytes, shorter than one row.`);
  }
}

async function openDevice(device: string): Promise<FileHandle> {
  try {
    return await open(device, 'r+');
  } catch (error) {
    const code = errnoCode(error);
    const hint = code === 'EACCES' ? 'is the user in group video?' : 'is the panel overlay loaded?';
    throw new HardwareError('fb_missing', `${device} cannot be opened (${code ?? 'error'}); ${hint}`, { cause: error });
  }
}

/** Writes rows [y, y+h) of `image` at their offsets; one write when rows are contiguous in the device. */
async function writeRows(file: FileHandle, geometry: FbGeometry, image: Image, span: { y: number; h: number }): Promise<void> {
  const rowBytes = image.width * image.bytesPerPixel;
  if (rowBytes === geometry.stride) {
    const start = span.y * rowBytes;
    await file.write(image.data, start, span.h * rowBytes, start);
    return;
  }
  for (let y = span.y; y < span.y + span.h; y++) {
    await file.write(image.data, y * rowBytes, rowBytes, y * geometry.stride);
  }
}

export interface HardwareDeps {
  gpio?: GpioPort;
  sysfsRoot?: string;
  /** Told why the backlight is not switched; it never stops the display. */
  warn?: (sentence: string) => void;
}

/** The fb driver as the config describes it. */
export function createFbDisplay(config: FbConfig, deps: HardwareDeps = {}): FbDisplay {
  const sysfsRoot = deps.sysfsRoot ?? '/sys';
  const fbDir = join(sysfsRoot, 'class', 'graphics', basename(config.device));
  const backlight = new DeferredBacklight(config.backlight, { gpio: deps.gpio ?? new OnoffGpioPort(), sysfsRoot, fbDir, warn: deps.warn });
  return new FbDisplay({ device: config.device, name: config.name ?? null, sysfsRoot, backlight });
}
