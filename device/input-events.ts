import { arch } from 'node:process';

/**
 * struct input_event as evdev hands it to read(): a timeval, then u16 type, u16 code,
 * s32 value, little-endian on a Pi. The timeval is two longs of the reading process:
 * 24 bytes for a 64-bit process, 16 for a 32-bit one (also on a 64-bit kernel, whose
 * compat layer writes 32-bit events to 32-bit readers; the y2038 input_event keeps
 * 32-bit fields there too).
 */
export const EV_SYN = 0;
export const EV_KEY = 1;
export const EV_REL = 2;
export const SYN_REPORT = 0;
export const SYN_DROPPED = 3;
export const REL_X = 0;

export interface InputEvent {
  /** Kernel timestamp in ms (CLOCK_REALTIME unless someone changed it: the same clock as Date.now()). */
  at: number;
  type: number;
  code: number;
  value: number;
}

export type EventSize = 16 | 24;

/** The event size a process of this architecture reads. */
export function nativeEventSize(processArch: string = arch): EventSize {
  return ['arm', 'ia32', 'mips', 'mipsel', 'ppc'].includes(processArch) ? 16 : 24;
}

export function encodeInputEvent(event: InputEvent, size: EventSize): Buffer {
  const out = Buffer.alloc(size);
  const sec = Math.floor(event.at / 1000);
  const usec = Math.round((event.at - sec * 1000) * 1000);
  if (size === 24) {
    out.writeBigInt64LE(BigInt(sec), 0);
    out.writeBigInt64LE(BigInt(usec), 8);
  } else {
    out.writeUInt32LE(sec >>> 0, 0);
    out.writeUInt32LE(usec, 4);
  }
  out.writeUInt16LE(event.type, size - 8);
  out.writeUInt16LE(event.code, size - 6);
  out.writeInt32LE(event.value, size - 4);
  return out;
}

/** Cuts a byte stream into events; a read that ends mid-event keeps the rest for the next. */
export class InputEventReader {
  private rest: Buffer = Buffer.alloc(0);

  constructor(readonly size: EventSize = nativeEventSize()) {}

  push(chunk: Buffer): InputEvent[] {
    const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const events: InputEvent[] = [];
    let offset = 0;
    for (; offset + this.size <= data.length; offset += this.size) events.push(this.decode(data, offset));
    this.rest = Buffer.from(data.subarray(offset));
    return events;
  }

  private decode(data: Buffer, offset: number): InputEvent {
    const s = this.size;
    const sec = s === 24 ? Number(data.readBigInt64LE(offset)) : data.readUInt32LE(offset);
    const usec = s === 24 ? Number(data.readBigInt64LE(offset + 8)) : data.readUInt32LE(offset + 4);
    return {
      at: sec * 1000 + usec / 1000,
      type: data.readUInt16LE(offset + s - 8),
      code: data.readUInt16LE(offset + s - 6),
      value: data.readInt32LE(offset + s - 4),
    };
  }
}

/**
 * Groups events into the packets the kernel ends with SYN_REPORT. After SYN_DROPPED
 * (the client's buffer overflowed) everything up to the next SYN_REPORT is discarded,
 * as the evdev documentation says to.
 */
export class InputPackets {
  private pending: InputEvent[] = [];
  private dropping = false;
  dropped = 0;

  push(events: InputEvent[]): InputEvent[][] {
    const packets: InputEvent[][] = [];
    for (const event of events) {
      if (event.type === EV_SYN && event.code === SYN_DROPPED) {
        this.dropping = true;
        this.dropped++;
        this.pending = [];
      } else if (event.type === EV_SYN && event.code === SYN_REPORT) {
        if (!this.dropping && this.pending.length > 0) packets.push(this.pending);
        this.pending = [];
        this.dropping = false;
      } else if (!this.dropping) {
        this.pending.push(event);
      }
    }
    return packets;
  }
}
