import { open, readFile, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
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
 */
export interface FbDisplayOptions {
  /** The device node, e.g. /dev/fb1. */
  device: string;
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
    const geometry = await readFbGeometry(this.options.device, this.options.sysfsRoot);
    checkFits(geometry, this.width, this.height, this.options.device);
    const file = await openDevice(this.options.device);
    try {
      await this.backlight.set(true);
    } catch (error) {
      await file.close();
      throw error;
    }
    this.file = file;
    this.geometry = geometry;
    this.shown = null;
  }

  async present(frame: Frame): Promise<void> {
    const { file, geometry } = this.started();
    assertFrameSize(frame, this.width, this.height);
    const order = pixelOrder(geometry.bitsPerPixel);
    const next: Image = {
      width: this.width,
      height: this.height,
      bytesPerPixel: BYTES_PER_PIXEL[order],
      data: convertFrame(frame, order),
    };
    for (const span of changedRowSpans(this.shown, next)) await writeRows(file, geometry, next, span);
    this.shown = next;
  }

  async setBacklight(on: boolean): Promise<void> {
    await this.backlight.set(on);
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

function isCount(value: number | undefined): value is number {
  return Number.isInteger(value) && (value as number) > 0;
}

async function readAttr(dir: string, file: string): Promise<string> {
  try {
    return (await readFile(join(dir, file), 'utf8')).trim();
  } catch (error) {
    throw new HardwareError(
      'fb_missing',
      `${join(dir, file)} cannot be read (${errnoCode(error) ?? 'error'}); is the panel overlay loaded?`,
      { cause: error },
    );
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
    throw new HardwareError(
      'fb_geometry',
      `${device} is ${geometry.width}×${geometry.height}; the screens need ${width}×${height}.${hint}`,
    );
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
}

/** The fb driver as the config describes it. */
export function createFbDisplay(config: FbConfig, deps: HardwareDeps = {}): FbDisplay {
  const sysfsRoot = deps.sysfsRoot ?? '/sys';
  const fbDir = join(sysfsRoot, 'class', 'graphics', basename(config.device));
  const backlight = new DeferredBacklight(config.backlight, { gpio: deps.gpio ?? new OnoffGpioPort(), sysfsRoot, fbDir });
  return new FbDisplay({ device: config.device, sysfsRoot, backlight });
}
