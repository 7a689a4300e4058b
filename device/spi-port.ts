import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HardwareError, errnoCode } from './hardware-error.js';

/** The SPI bus as the panel driver sees it: write-only transfers at a given clock. */
export interface SpiPort {
  write(data: Buffer, speedHz: number): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_SPIDEV_BUFSIZ = 4096;

/** spidev's per-message limit, from /sys/module/spidev/parameters/bufsiz (4096 when unreadable). */
export async function readSpidevBufsiz(sysfsRoot = '/sys'): Promise<number> {
  const text = await readFile(join(sysfsRoot, 'module', 'spidev', 'parameters', 'bufsiz'), 'utf8').catch(() => '');
  const value = Number(text.trim());
  return Number.isInteger(value) && value >= 2 ? value : DEFAULT_SPIDEV_BUFSIZ;
}

/** The part of spi-device's API this port uses (an optional dependency: it builds on Linux only). */
interface SpiMessage {
  sendBuffer: Buffer;
  byteLength: number;
  speedHz: number;
}
interface SpiDevice {
  transfer(message: SpiMessage[], callback: (err: Error | null, message: SpiMessage[]) => void): SpiDevice;
  close(callback: (err: Error | null) => void): SpiDevice;
}
interface SpiModule {
  open(bus: number, device: number, options: { mode: number; maxSpeedHz: number }, callback: (err: Error | null) => void): SpiDevice;
}

async function loadSpiDevice(): Promise<SpiModule> {
  // A variable name keeps TypeScript from needing the package where it did not install.
  const name = 'spi-device';
  let mod: SpiModule & { default?: SpiModule };
  try {
    mod = (await import(name)) as SpiModule & { default?: SpiModule };
  } catch (error) {
    throw new HardwareError(
      'spi_missing',
      `The spi-device addon does not load (${(error as Error).message.split('\n')[0]}); the device release ships it prebuilt for its CPU and Node line: install it with scripts/install-pi.sh --display spi.`,
      { cause: error },
    );
  }
  return typeof mod.open === 'function' ? mod : mod.default!;
}

/** Opens /dev/spidevBUS.DEVICE in mode 0 through the spi-device addon. */
export async function openSpiDevice(bus: number, device: number, maxSpeedHz: number): Promise<SpiPort> {
  const spi = await loadSpiDevice();
  const handle = await new Promise<SpiDevice>((resolve, reject) => {
    const opened: SpiDevice = spi.open(bus, device, { mode: 0, maxSpeedHz }, (err) => {
      if (err) reject(openError(bus, device, err));
      else resolve(opened);
    });
  });
  return {
    write: (data, speedHz) => transfer(handle, data, speedHz),
    close: () => new Promise((resolve) => handle.close(() => resolve())),
  };
}

function transfer(handle: SpiDevice, data: Buffer, speedHz: number): Promise<void> {
  return new Promise((resolve, reject) => {
    handle.transfer([{ sendBuffer: data, byteLength: data.length, speedHz }], (err) => {
      if (err) reject(new HardwareError('spi_transfer', `An SPI transfer of ${data.length} bytes failed: ${err.message}.`, { cause: err }));
      else resolve();
    });
  });
}

function openError(bus: number, device: number, err: Error): HardwareError {
  const code = errnoCode(err);
  const hint = code === 'ENOENT' ? 'enable SPI (dtparam=spi=on) and do not load a panel overlay on the same chip select' : 'is the user in group spi?';
  return new HardwareError('spi_missing', `/dev/spidev${bus}.${device} cannot be opened (${code ?? err.message}); ${hint}.`, {
    cause: err,
  });
}
