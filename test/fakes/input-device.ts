import { execFileSync } from 'node:child_process';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { EV_SYN, SYN_REPORT, encodeInputEvent, type EventSize, type InputEvent } from '../../device/input-events.js';
import type { SysfsTree } from './sysfs-tree.js';

/**
 * An evdev device as the gpio-key and rotary-encoder drivers present it: sysfs
 * attributes under class/input/eventN/device (name, id/bustype, capability bitmaps in
 * hex longs, most significant first) and the device node as a FIFO. Events written
 * while the reader is busy queue in the pipe, as they queue in evdev's client buffer,
 * and arrive merged into one read; `send` can also cut them at any byte.
 */
export function capabilityBitmap(bits: readonly number[], longBits: 32 | 64): string {
  if (bits.length === 0) return '0';
  const words: bigint[] = [];
  for (const bit of bits) {
    const i = Math.floor(bit / longBits);
    while (words.length <= i) words.push(0n);
    words[i] = words[i]! | (1n << BigInt(bit % longBits));
  }
  return words
    .reverse()
    .map((w) => w.toString(16))
    .join(' ');
}

export interface InputDeviceSpec {
  name: string;
  bustype?: number;
  keys?: number[];
  rel?: number[];
  longBits?: 32 | 64;
}

export class FakeInputDevice {
  private writer: FileHandle | null = null;

  private constructor(
    readonly node: string,
    readonly size: EventSize,
  ) {}

  static async create(tree: SysfsTree, index: number, spec: InputDeviceSpec, size: EventSize = 24): Promise<FakeInputDevice> {
    const dir = `sys/class/input/event${index}/device`;
    const longBits = spec.longBits ?? 64;
    await tree.file(`${dir}/name`, spec.name);
    await tree.file(`${dir}/id/bustype`, (spec.bustype ?? 0x19).toString(16).padStart(4, '0'));
    await tree.file(`${dir}/capabilities/key`, capabilityBitmap(spec.keys ?? [], longBits));
    await tree.file(`${dir}/capabilities/rel`, capabilityBitmap(spec.rel ?? [], longBits));
    await mkdir(join(tree.dev, 'input'), { recursive: true });
    const node = join(tree.dev, 'input', `event${index}`);
    execFileSync('mkfifo', [node]);
    return new FakeInputDevice(node, size);
  }

  /** Opens the writing end; resolves once the driver has opened the reading end. */
  async connect(): Promise<void> {
    this.writer = await open(this.node, 'w');
  }

  /** The bytes of events, each packet closed by SYN_REPORT as the kernel sends them. */
  encode(packets: InputEvent[][]): Buffer {
    const events = packets.flatMap((packet) => [...packet, { at: packet[0]!.at, type: EV_SYN, code: SYN_REPORT, value: 0 }]);
    return Buffer.concat(events.map((event) => encodeInputEvent(event, this.size)));
  }

  /** Writes raw bytes synchronously, in chunks of `chunk` bytes (the event loop does not run meanwhile). */
  writeNow(bytes: Buffer, chunk = bytes.length): void {
    if (!this.writer) throw new Error('connect() first');
    for (let start = 0; start < bytes.length; start += chunk) writeSync(this.writer.fd, bytes.subarray(start, start + chunk));
  }

  /** The device goes away: the driver's read sees the end. */
  async disconnect(): Promise<void> {
    await this.writer?.close();
    this.writer = null;
  }
}
