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

type SpiModule = typeof import('spi-device');
type SpiDevice = ReturnType<SpiModule['open']>;

async function loadSpiDevice(): Promise<SpiModule> {
  const mod = (await import('spi-device')) as SpiModule & { default?: SpiModule };
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
  const hint =
    code === 'ENOENT'
      ? 'enable SPI (dtparam=spi=on) and do not load a panel overlay on the same chip select'
      : 'is the user in group spi?';
  return new HardwareError('spi_missing', `/dev/spidev${bus}.${device} cannot be opened (${code ?? err.message}); ${hint}.`, {
    cause: err,
  });
}
