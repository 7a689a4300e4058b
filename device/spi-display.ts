import type { Display, Frame, Rect } from './hardware.js';
import { HardwareError } from './hardware-error.js';
import { NoBacklight, openBacklightOrNone, type Backlight } from './backlight.js';
import { DeferredDisplay } from './deferred-display.js';
import { OnoffGpioPort, sysfsGpioNumber, type GpioPort } from './gpio-line.js';
import type { SpiConfig } from './hardware-config.js';
import { panelByName } from './panels/catalog.js';
import { findDirtyRects, type Image } from './dirty-rects.js';
import { FrameScaler } from './frame-scale.js';
import type { GpioLine } from './gpio-line.js';
import { DCS, ROTATIONS, madctlValue, rotatedSize, type PanelCommand, type PanelSpec, type Rotation } from './panels/panel.js';
import { assertFrameSize, convertFrame, extractRect } from './rgb565.js';
import { openSpiDevice, readSpidevBufsiz, type SpiPort } from './spi-port.js';
import { commandTransfers, splitTransfers, totalBytes, windowOverheadBytes, windowTransfers, type RegWidth, type Transfer } from './spi-transfers.js';

/**
 * An SPI panel driven directly: reset, init sequence, MADCTL rotation, then for each
 * frame only the rectangles that changed, each as an address window followed by its
 * RGB565 big-endian pixels, split to the spidev buffer size. DC selects command or data.
 *
 * Every DC+SPI sequence (init, a frame, a sleep or wake, shutdown) runs through one
 * queue, and each sequence sets DC before its first transfer: with transfers that
 * complete a turn later (spidev ioctls run on the threadpool) two sequences must
 * never share the bus or a remembered DC level.
 */
export interface SpiDisplayOptions {
  panel: PanelSpec;
  spi: SpiPort;
  dc: GpioLine;
  reset?: GpioLine | null;
  backlight?: Backlight;
  /** Landscape is 90 or 270. */
  rotation?: Rotation;
  speedHz?: number;
  regWidth?: RegWidth;
  bgr?: boolean;
  invert?: boolean;
  bufsiz?: number;
  /** Frame size the screens draw (480×320). */
  width?: number;
  height?: number;
  /** Waits the controller's delays; tests pass one that records instead of sleeping. */
  delay?: (ms: number) => Promise<void>;
}

export interface PresentStats {
  rects: Rect[];
  bytes: number;
  transfers: number;
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SpiDisplay implements Display {
  readonly width: number;
  readonly height: number;
  readonly panelWidth: number;
  readonly panelHeight: number;
  private readonly rotation: Rotation;
  readonly speedHz: number;
  readonly regWidth: RegWidth;
  readonly bufsiz: number;
  private readonly scaler: FrameScaler;
  private readonly backlight: Backlight;
  private readonly delay: (ms: number) => Promise<void>;
  /** What the panel's memory holds (black while asleep). */
  private shown: Image | null = null;
  /** The newest frame the screens asked for, drawn again on wake. */
  private wanted: Image | null = null;
  private asleep = false;
  private started = false;
  private bus: Promise<unknown> = Promise.resolve();
  /** What the last present() sent. */
  lastPresent: PresentStats = { rects: [], bytes: 0, transfers: 0 };

  constructor(private readonly options: SpiDisplayOptions) {
    this.rotation = checkRotation(options.panel, options.rotation ?? 90);
    ({ width: this.panelWidth, height: this.panelHeight } = rotatedSize(options.panel, this.rotation));
    this.width = options.width ?? 480;
    this.height = options.height ?? 320;
    this.speedHz = options.speedHz ?? options.panel.defaultSpeedHz;
    this.regWidth = options.regWidth ?? options.panel.defaultRegWidth;
    this.bufsiz = options.bufsiz ?? 4096;
    this.scaler = new FrameScaler(this.width, this.height, this.panelWidth, this.panelHeight);
    this.backlight = options.backlight ?? new NoBacklight();
    this.delay = options.delay ?? wait;
  }

  async start(): Promise<void> {
    await this.exclusive(async () => {
      await this.hardwareReset();
      for (const command of this.initSequence()) await this.command(command);
      this.shown = this.wanted = null;
      this.asleep = false;
      this.started = true;
      await this.backlight.set(true);
    });
  }

  /** The whole init sequence for this panel and its options, as sent after reset. */
  initSequence(): PanelCommand[] {
    const { panel } = this.options;
    return [
      ...panel.init,
      { cmd: DCS.MADCTL, data: [madctlValue(panel, this.rotation, this.options.bgr ?? panel.bgr)] },
      { cmd: (this.options.invert ?? panel.invert) ? DCS.INVON : DCS.INVOFF },
      { cmd: DCS.DISPON, delayMs: 20 },
    ];
  }

  async present(frame: Frame): Promise<void> {
    if (!this.started) throw new HardwareError('not_started', 'The SPI display was not started; call start() first.');
    assertFrameSize(frame, this.width, this.height);
    const next = this.panelImage(frame);
    await this.exclusive(async () => {
      this.wanted = next;
      // Asleep, the panel keeps showing black; the frame is drawn on wake.
      if (!this.asleep) await this.draw(next);
    });
  }

  private async draw(next: Image): Promise<void> {
    const { rects, transfers } = planUpdate(this.shown, next, this);
    await this.send(transfers);
    this.shown = next;
    this.lastPresent = { rects, bytes: totalBytes(transfers), transfers: transfers.length };
  }

  /** The frame as the panel stores it: scaled to the panel if it is smaller, RGB565 big-endian. */
  panelImage(frame: Frame): Image {
    const scaled = this.scaler.scale(frame);
    return { width: this.panelWidth, height: this.panelHeight, bytesPerPixel: 2, data: convertFrame(scaled, 'rgb565be') };
  }

  /**
   * Sleep paints the panel black before DISPOFF (boards like the Waveshare 3.5" (A)
   * have the backlight wired to 3V3, so black is all the dark they get); wake sends
   * DISPON and draws the newest frame again.
   */
  async setBacklight(on: boolean): Promise<void> {
    await this.exclusive(async () => {
      if (this.started && !on && !this.asleep) {
        this.asleep = true;
        await this.draw(blackImage(this.panelWidth, this.panelHeight));
        await this.command({ cmd: DCS.DISPOFF });
      } else if (this.started && on && this.asleep) {
        this.asleep = false;
        await this.command({ cmd: DCS.DISPON });
        if (this.wanted) await this.draw(this.wanted);
      }
      await this.backlight.set(on);
    });
  }

  async stop(): Promise<void> {
    await this.exclusive(async () => {
      if (this.started) {
        await this.command({ cmd: DCS.DISPOFF });
        await this.command({ cmd: DCS.SLPIN, delayMs: 5 });
        await this.backlight.set(false);
      }
      this.started = false;
      this.shown = this.wanted = null;
      await this.backlight.release();
      this.options.dc.release();
      this.options.reset?.release();
      await this.options.spi.close();
    });
  }

  /** Runs one DC+SPI sequence after every sequence queued before it. */
  private exclusive<T>(sequence: () => Promise<T>): Promise<T> {
    const run = this.bus.then(sequence, sequence);
    this.bus = run.catch(() => undefined);
    return run;
  }

  private async hardwareReset(): Promise<void> {
    const reset = this.options.reset;
    if (!reset) return;
    await reset.write(1);
    await this.delay(5);
    await reset.write(0);
    await this.delay(20);
    await reset.write(1);
    await this.delay(120);
  }

  private async command(command: PanelCommand): Promise<void> {
    await this.send(splitTransfers(commandTransfers(command, this.regWidth), this.bufsiz));
    if (command.delayMs) await this.delay(command.delayMs);
  }

  /** One sequence's transfers; DC is written before the first, whatever an earlier sequence left. */
  private async send(chunks: Transfer[]): Promise<void> {
    let dc: 0 | 1 | null = null;
    for (const chunk of chunks) {
      if (chunk.dc !== dc) {
        await this.options.dc.write(chunk.dc);
        dc = chunk.dc;
      }
      await this.options.spi.write(chunk.data, transferSpeedHz(chunk.data.length, this.speedHz));
    }
  }
}

/** Commands and transfers of up to 64 bytes go at most 10 MHz, as the kernel's mipi_dbi_spi_cmd_max_speed does. */
export const SHORT_TRANSFER_BYTES = 64;
export const COMMAND_MAX_SPEED_HZ = 10_000_000;
export function transferSpeedHz(length: number, speedHz: number): number {
  return length <= SHORT_TRANSFER_BYTES ? Math.min(speedHz, COMMAND_MAX_SPEED_HZ) : speedHz;
}

function blackImage(width: number, height: number): Image {
  return { width, height, bytesPerPixel: 2, data: Buffer.alloc(width * height * 2) };
}

/** The rectangles that changed and the transfers (split to bufsiz) that update them. */
export function planUpdate(
  shown: Image | null,
  next: Image,
  bus: { regWidth: RegWidth; speedHz: number; bufsiz: number },
): { rects: Rect[]; transfers: Transfer[] } {
  const rects = findDirtyRects(shown, next, { windowOverheadBytes: windowOverheadBytes(bus.regWidth, bus.speedHz) });
  const windows = rects.flatMap((rect) => windowTransfers(rect, extractRect(next.data, next.width, 2, rect), bus.regWidth));
  return { rects, transfers: splitTransfers(windows, bus.bufsiz) };
}

function checkRotation(panel: PanelSpec, rotation: number): Rotation {
  if (!(ROTATIONS as readonly number[]).includes(rotation)) {
    throw new HardwareError('panel_rotation', `Rotation ${rotation} is not one of ${ROTATIONS.join(', ')}.`);
  }
  const size = rotatedSize(panel, rotation as Rotation);
  if (size.width < size.height) {
    throw new HardwareError(
      'panel_rotation',
      `Rotation ${rotation} turns the ${panel.name} portrait (${size.width}×${size.height}); the screens are landscape, use 90 or 270.`,
    );
  }
  return rotation as Rotation;
}

export interface SpiDeps {
  gpio?: GpioPort;
  /** Told why the backlight is not switched; it never stops the display. */
  warn?: (sentence: string) => void;
  sysfsRoot?: string;
  openSpi?: (bus: number, chipSelect: number, maxSpeedHz: number) => Promise<SpiPort>;
  delay?: (ms: number) => Promise<void>;
}

/** The spi driver as the config describes it; the bus and lines are opened by start(). */
export function createSpiDisplay(config: SpiConfig, deps: SpiDeps = {}): DeferredDisplay {
  const panel = panelByName(config.panel);
  // Validates the rotation now, so a bad config fails before anything is opened.
  checkRotation(panel, config.rotation);
  return new DeferredDisplay(480, 320, () => openSpiDisplay(config, panel, deps));
}

async function openSpiDisplay(config: SpiConfig, panel: PanelSpec, deps: SpiDeps): Promise<SpiDisplay> {
  const gpio = deps.gpio ?? new OnoffGpioPort();
  const speedHz = config.speedHz ?? panel.defaultSpeedHz;
  const opened: Array<{ release(): void | Promise<void> }> = [];
  try {
    const line = async (pin: number) => {
      const l = await gpio.open(await sysfsGpioNumber(pin, deps.sysfsRoot), 'high');
      opened.push(l);
      return l;
    };
    const dc = await line(config.dcPin);
    const reset = config.resetPin === null ? null : await line(config.resetPin);
    const backlight = await openBacklightOrNone(config.backlight, { gpio, sysfsRoot: deps.sysfsRoot, warn: deps.warn });
    opened.push(backlight);
    const spi = await (deps.openSpi ?? openSpiDevice)(config.bus, config.chipSelect, speedHz);
    const bufsiz = await readSpidevBufsiz(deps.sysfsRoot);
    return new SpiDisplay({
      panel,
      spi,
      dc,
      reset,
      backlight,
      bufsiz,
      speedHz,
      rotation: config.rotation,
      regWidth: config.regWidth ?? undefined,
      bgr: config.bgr ?? undefined,
      invert: config.invert ?? undefined,
      delay: deps.delay,
    });
  } catch (error) {
    for (const item of opened) await item.release();
    throw error;
  }
}
