import type { Bit, GpioLine, GpioPort, LineMode } from '../../device/gpio-line.js';

/**
 * A sysfs GPIO line as onoff presents it: a value, writes, and an interrupt callback
 * on every edge. `drive()` is the outside world changing the pin (a finger on a
 * button, bounce included); a log records everything in order.
 */
export class FakeGpioLine implements GpioLine {
  value: Bit;
  released = false;
  readonly writes: Bit[] = [];
  private readonly listeners: Array<(value: Bit) => void> = [];

  constructor(
    readonly sysfsNumber: number,
    readonly mode: LineMode,
    private readonly log?: Array<{ line: number; value: Bit }>,
  ) {
    this.value = mode === 'low' ? 0 : 1;
  }

  async read(): Promise<Bit> {
    return this.value;
  }

  async write(value: Bit): Promise<void> {
    if (this.mode === 'in') throw new Error(`EPERM: gpio${this.sysfsNumber} is an input`);
    this.value = value;
    this.writes.push(value);
    this.log?.push({ line: this.sysfsNumber, value });
  }

  watch(listener: (value: Bit) => void): void {
    this.listeners.push(listener);
  }

  release(): void {
    this.released = true;
    this.listeners.length = 0;
  }

  /** The pin changes level: the kernel raises an edge interrupt and onoff calls back. */
  drive(value: Bit): void {
    this.value = value;
    for (const listener of [...this.listeners]) listener(value);
  }

  get watched(): boolean {
    return this.listeners.length > 0;
  }
}

export class FakeGpioPort implements GpioPort {
  readonly lines = new Map<number, FakeGpioLine>();
  readonly log: Array<{ line: number; value: Bit }> = [];
  /** Sysfs numbers that fail to open, as a pin claimed by an overlay would. */
  readonly busy = new Set<number>();
  /** Level of an idle input: 1 with the Pi's pull-ups, 0 where buttons pull up against a pull-down. */
  idleInputLevel: Bit = 1;

  async open(sysfsNumber: number, mode: LineMode): Promise<FakeGpioLine> {
    if (this.busy.has(sysfsNumber)) throw new Error(`EBUSY: gpio${sysfsNumber}`);
    const line = new FakeGpioLine(sysfsNumber, mode, this.log);
    if (mode === 'in') line.value = this.idleInputLevel;
    this.lines.set(sysfsNumber, line);
    return line;
  }

  line(sysfsNumber: number): FakeGpioLine {
    const line = this.lines.get(sysfsNumber);
    if (!line) throw new Error(`gpio${sysfsNumber} was never opened`);
    return line;
  }
}
