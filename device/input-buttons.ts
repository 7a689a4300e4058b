import { close, open, read } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { machine } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ButtonsConfig } from './config.js';
import { BUTTON_NAMES, type ButtonEvent, type ButtonName, type Buttons } from './hardware.js';
import { ButtonGestures } from './button-gestures.js';
import { HardwareError, errnoCode } from './hardware-error.js';
import { EV_KEY, EV_REL, InputEventReader, InputPackets, REL_X, nativeEventSize, type EventSize, type InputEvent } from './input-events.js';

/**
 * Buttons and the rotary encoder through the kernel's own drivers: the gpio-key and
 * rotary-encoder overlays turn the header pins into input devices, and this driver
 * reads their events from /dev/input/eventN. The kernel debounces, sets the pull-ups,
 * timestamps every edge and queues events while the daemon is busy, so a burst read
 * late is still every press and every detent, in order. No native addon: a blocking
 * read() per device on libuv's threadpool (the unit raises UV_THREADPOOL_SIZE).
 */
export interface InputButtonsOptions {
  /** Linux key codes (KEY_LEFT = 105) the gpio-key overlays send for each button. */
  keys: Partial<Record<ButtonName, number>>;
  /** The relative axis the rotary-encoder overlay reports (REL_X = 0), or null for none. */
  rotaryAxis?: number | null;
  reverse?: boolean;
  /** Event devices to read; null finds them in sysfs by what they can send. */
  devices?: string[] | null;
  longPressMs?: number;
  doublePressMs?: number;
  sysfsRoot?: string;
  devRoot?: string;
  eventSize?: EventSize;
  /** Bits of the kernel's long, which the sysfs capability bitmaps are printed in. */
  kernelLongBits?: 32 | 64;
  now?: () => number;
  warn?: (sentence: string) => void;
}

export const INPUT_DEFAULTS = { longPressMs: 800, doublePressMs: 350 } as const;
/** BUS_HOST: platform devices such as gpio-keys and rotary-encoder (a USB mouse is BUS_USB). */
const BUS_HOST = 0x19;

const fsOpen = promisify(open);
const fsRead = promisify(read);
const fsClose = promisify(close);

export class InputButtons implements Buttons {
  private readonly listeners = new Set<(event: ButtonEvent) => void>();
  private readonly gestures = new Map<number, { name: ButtonName; gestures: ButtonGestures; down: boolean }>();
  private fds: number[] = [];
  private readers: Promise<void>[] = [];
  private running = false;
  private readonly now: () => number;
  /** Detents and presses seen since start, for the button test script. */
  readonly counts = { presses: 0, detents: 0, dropped: 0 };

  constructor(private readonly options: InputButtonsOptions) {
    this.now = options.now ?? (() => Date.now());
  }

  async start(): Promise<void> {
    checkKeys(this.options.keys);
    const emit = (event: ButtonEvent) => this.emit(event);
    for (const name of BUTTON_NAMES) {
      const code = this.options.keys[name];
      if (code === undefined) continue;
      const config = {
        longPressMs: this.options.longPressMs ?? INPUT_DEFAULTS.longPressMs,
        doublePressMs: this.options.doublePressMs ?? INPUT_DEFAULTS.doublePressMs,
        emit,
      };
      this.gestures.set(code, { name, gestures: new ButtonGestures(name, config), down: false });
    }
    const devices = this.options.devices ?? (await this.findDevices());
    this.running = true;
    try {
      for (const device of devices) this.fds.push(await openDevice(device));
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.readers = this.fds.map((fd, i) => this.readLoop(fd, devices[i]!));
  }

  onEvent(listener: (event: ButtonEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Closes the devices. A read already waiting in the kernel returns at the next event
   * (Linux does not wake a read on close); its result is ignored.
   */
  async stop(): Promise<void> {
    this.running = false;
    for (const entry of this.gestures.values()) entry.gestures.cancel();
    for (const fd of this.fds.splice(0)) await fsClose(fd).catch(() => undefined);
  }

  /** Resolves when every device reached its end (tests: the fake's writer closed). */
  async ended(): Promise<void> {
    await Promise.all(this.readers);
  }

  private emit(event: ButtonEvent): void {
    if (event.kind === 'press') this.counts.presses++;
    if (event.kind === 'rotate') this.counts.detents++;
    for (const listener of [...this.listeners]) listener(event);
  }

  private async readLoop(fd: number, device: string): Promise<void> {
    const reader = new InputEventReader(this.options.eventSize ?? nativeEventSize());
    const packets = new InputPackets();
    // evdev returns as many whole events as fit: 64 at a time.
    const buffer = Buffer.alloc(reader.size * 64);
    while (this.running) {
      let bytes: number;
      try {
        bytes = (await fsRead(fd, buffer, 0, buffer.length, null)).bytesRead;
      } catch (error) {
        if (this.running) this.options.warn?.(`${device} stopped sending events (${errnoCode(error) ?? String(error)}).`);
        return;
      }
      if (!this.running) return;
      if (bytes === 0) return;
      for (const packet of packets.push(reader.push(buffer.subarray(0, bytes)))) this.onPacket(packet);
      if (packets.dropped > this.counts.dropped) {
        this.counts.dropped = packets.dropped;
        this.options.warn?.(`${device}: the kernel's event buffer overflowed and dropped events (SYN_DROPPED).`);
      }
    }
  }

  private onPacket(packet: InputEvent[]): void {
    const axis = this.options.rotaryAxis === undefined ? REL_X : this.options.rotaryAxis;
    for (const event of packet) {
      if (event.type === EV_KEY) this.onKey(event);
      else if (event.type === EV_REL && event.code === axis) this.onTurn(event);
    }
  }

  private onKey(event: InputEvent): void {
    const entry = this.gestures.get(event.code);
    // value 2 is autorepeat; a press already seen is not pressed again.
    if (!entry || event.value === 2) return;
    const down = event.value === 1;
    if (down === entry.down) return;
    entry.down = down;
    if (down) entry.gestures.press(event.at, Math.max(0, this.now() - event.at));
    else entry.gestures.release(event.at);
  }

  private onTurn(event: InputEvent): void {
    const sign = (Math.sign(event.value) * (this.options.reverse ? -1 : 1)) as 1 | -1;
    for (let i = 0; i < Math.abs(event.value); i++) this.emit({ kind: 'rotate', delta: sign, at: event.at });
  }

  private async findDevices(): Promise<string[]> {
    const sysfsRoot = this.options.sysfsRoot ?? '/sys';
    const classDir = join(sysfsRoot, 'class', 'input');
    const names = (await readdir(classDir).catch(() => [] as string[])).filter((n) => /^event\d+$/.test(n)).sort();
    const wantedKeys = Object.values(this.options.keys).filter((code): code is number => code !== undefined);
    const axis = this.options.rotaryAxis === undefined ? REL_X : this.options.rotaryAxis;
    const longBits = this.options.kernelLongBits ?? (/64|s390x/.test(machine()) ? 64 : 32);
    const found: string[] = [];
    for (const name of names) {
      const caps = await readCapabilities(join(classDir, name, 'device'));
      if (caps.bustype !== BUS_HOST) continue;
      const keys = wantedKeys.some((code) => hasBit(caps.key, code, longBits));
      const turns = axis !== null && hasBit(caps.rel, axis, longBits);
      if (keys || turns) found.push(join(this.options.devRoot ?? '/dev', 'input', name));
    }
    if (found.length === 0) {
      throw new HardwareError(
        'input_missing',
        `No input device under ${classDir} sends the LEELOO keys (${wantedKeys.join(', ')}) or turns; add the gpio-key and rotary-encoder overlays to config.txt (scripts/install-pi.sh writes them) and reboot.`,
      );
    }
    return found;
  }
}

async function readCapabilities(dir: string): Promise<{ bustype: number; key: string; rel: string }> {
  const read = (file: string) =>
    readFile(join(dir, file), 'utf8').then(
      (t) => t.trim(),
      () => '',
    );
  return { bustype: parseInt((await read('id/bustype')) || '0', 16), key: await read('capabilities/key'), rel: await read('capabilities/rel') };
}

/** Whether bit `bit` is set in a sysfs capability bitmap: hex longs, most significant first. */
export function hasBit(bitmap: string, bit: number, longBits: 32 | 64): boolean {
  const words = bitmap.split(/\s+/).filter(Boolean).reverse();
  const word = words[Math.floor(bit / longBits)];
  if (!word) return false;
  return ((BigInt(`0x${word}`) >> BigInt(bit % longBits)) & 1n) === 1n;
}

async function openDevice(device: string): Promise<number> {
  try {
    return await fsOpen(device, 'r');
  } catch (error) {
    const code = errnoCode(error);
    const hint = code === 'EACCES' ? 'is the user in group input?' : 'is the overlay loaded?';
    throw new HardwareError('input_missing', `${device} cannot be opened (${code ?? String(error)}); ${hint}`, { cause: error });
  }
}

function checkKeys(keys: Partial<Record<ButtonName, number>>): void {
  const owners = new Map<number, ButtonName>();
  for (const name of BUTTON_NAMES) {
    const code = keys[name];
    if (code === undefined) continue;
    const owner = owners.get(code);
    if (owner) throw new HardwareError('input_event', `Key code ${code} is assigned to both ${owner} and ${name}.`);
    owners.set(code, name);
  }
}

/** The input driver as the config describes it. */
export function createInputButtons(config: ButtonsConfig, deps: Partial<InputButtonsOptions> = {}): InputButtons {
  const keys: Partial<Record<ButtonName, number>> = {};
  for (const name of BUTTON_NAMES) {
    const code = config.input.keys[name];
    if (code !== null) keys[name] = code;
  }
  const { rotaryAxis, reverse, devices } = config.input;
  return new InputButtons({ keys, rotaryAxis, reverse, devices, longPressMs: config.longPressMs, doublePressMs: config.gpio.doublePressMs, ...deps });
}
