import type { Display, Frame } from './hardware.js';
import { HardwareError } from './hardware-error.js';

/**
 * A display whose driver can only be opened asynchronously (sysfs reads, GPIO
 * exports, opening spidev): built at once from the config, opened in start(), so a
 * missing device is reported by start() with its code and sentence.
 */
export class DeferredDisplay implements Display {
  private inner: Display | null = null;

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly open: () => Promise<Display>,
  ) {}

  async start(): Promise<void> {
    const display = await this.open();
    await display.start();
    this.inner = display;
  }

  async present(frame: Frame): Promise<void> {
    await this.started().present(frame);
  }

  async setBacklight(on: boolean): Promise<void> {
    await this.started().setBacklight(on);
  }

  async stop(): Promise<void> {
    const inner = this.inner;
    this.inner = null;
    await inner?.stop();
  }

  /** The opened driver, for scripts that report its statistics. */
  get driver(): Display | null {
    return this.inner;
  }

  private started(): Display {
    if (!this.inner) throw new HardwareError('not_started', 'The display was not started; call start() first.');
    return this.inner;
  }
}
