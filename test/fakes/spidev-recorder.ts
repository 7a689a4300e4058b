import type { Bit, GpioLine } from '../../device/gpio-line.js';
import type { SpiPort } from '../../device/spi-port.js';

/**
 * Stands in for /dev/spidevB.D and the DC line together, recording every transfer
 * with the DC level it was clocked out at, and decodes the recording back into
 * commands with their parameters and pixel data, as the panel controller would read
 * them. Like the real ones, a transfer (an ioctl on the threadpool) and a DC write (a
 * sysfs write) complete a turn later: the DC level that counts is the one on the line
 * when the transfer is clocked, not when it was asked for.
 */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface RecordedTransfer {
  dc: Bit;
  data: Buffer;
  speedHz: number;
}

export interface DecodedCommand {
  cmd: number;
  data: Buffer;
}

export class SpidevRecorder implements SpiPort {
  readonly transfers: RecordedTransfer[] = [];
  closed = false;
  dcLevel: Bit = 1;
  readonly dc: GpioLine;

  constructor(readonly bufsiz = 4096) {
    this.dc = {
      read: async () => this.dcLevel,
      write: async (value) => {
        await turn();
        this.dcLevel = value;
      },
      watch: () => undefined,
      release: () => undefined,
    };
  }

  async write(data: Buffer, speedHz: number): Promise<void> {
    if (this.closed) throw new Error('EBADF: spidev is closed');
    // spidev refuses a message longer than its buffer with EMSGSIZE.
    if (data.length > this.bufsiz) throw new Error(`EMSGSIZE: ${data.length} > bufsiz ${this.bufsiz}`);
    const copy = Buffer.from(data);
    await turn();
    this.transfers.push({ dc: this.dcLevel, data: copy, speedHz });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  clear(): void {
    this.transfers.length = 0;
  }

  /** Commands as the controller sees them; a 16-bit register bus carries each byte in the low half of a word. */
  commands(regWidth: 8 | 16 = 8): DecodedCommand[] {
    const out: DecodedCommand[] = [];
    for (const t of this.transfers) {
      if (t.dc === 0) {
        for (const cmd of narrow(t.data, regWidth)) out.push({ cmd, data: Buffer.alloc(0) });
      } else {
        const last = out[out.length - 1];
        if (!last) throw new Error('data sent before any command');
        last.data = Buffer.concat([last.data, t.data]);
      }
    }
    return out.map((c) => (c.cmd === 0x2c ? c : { cmd: c.cmd, data: Buffer.from(narrow(c.data, regWidth)) }));
  }

  get bytes(): number {
    return this.transfers.reduce((sum, t) => sum + t.data.length, 0);
  }
}

function narrow(data: Buffer, regWidth: 8 | 16): number[] {
  if (regWidth === 8) return [...data];
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 2) {
    if (data[i] !== 0) throw new Error(`high byte 0x${data[i]!.toString(16)} on a 16-bit register write`);
    out.push(data[i + 1]!);
  }
  return out;
}

/** Window coordinates and pixel bytes of each CASET/RASET/RAMWR group. */
export function windows(commands: DecodedCommand[]): Array<{ x0: number; x1: number; y0: number; y1: number; pixels: Buffer }> {
  const out = [];
  for (let i = 0; i + 2 < commands.length; i++) {
    const [c, r, w] = [commands[i]!, commands[i + 1]!, commands[i + 2]!];
    if (c.cmd !== 0x2a || r.cmd !== 0x2b || w.cmd !== 0x2c) continue;
    out.push({
      x0: c.data.readUInt16BE(0),
      x1: c.data.readUInt16BE(2),
      y0: r.data.readUInt16BE(0),
      y1: r.data.readUInt16BE(2),
      pixels: w.data,
    });
  }
  return out;
}
