import { BUTTON_NAMES, type ButtonEvent, type ButtonName, type Buttons } from './hardware.js';
import type { ButtonsConfig } from './config.js';
import { HardwareError } from './hardware-error.js';
import { OnoffGpioPort, sysfsGpioNumber, type Bit, type GpioLine, type GpioPort } from './gpio-line.js';
import { RotaryDecoder } from './rotary.js';
import { ButtonGestures } from './button-gestures.js';

/**
 * Push buttons on GPIO (to ground, with the Pi's pull-ups: active low) and an
 * optional rotary encoder. Each edge restarts a debounce timer; the level that holds
 * for `debounceMs` counts. A press is reported at once; held for `longPressMs` it
 * also reports long_press; pressed again within `doublePressMs` of a short press's
 * release it also reports double_press.
 */
export interface RotaryPins {
  a: number;
  b: number;
  stepsPerDetent?: 1 | 2 | 4;
  reverse?: boolean;
}

export interface GpioButtonsOptions {
  /** BCM GPIO numbers as printed on the header (GPIO17 → 17). */
  pins: Partial<Record<ButtonName, number>>;
  rotary?: RotaryPins | null;
  debounceMs?: number;
  longPressMs?: number;
  doublePressMs?: number;
  activeLow?: boolean;
  sysfsRoot?: string;
  gpio?: GpioPort;
  now?: () => number;
}

export const BUTTON_DEFAULTS = { debounceMs: 20, longPressMs: 800, doublePressMs: 350, activeLow: true } as const;

type Emit = (event: ButtonEvent) => void;

export class GpioButtons implements Buttons {
  private readonly listeners = new Set<(event: ButtonEvent) => void>();
  private readonly lines: GpioLine[] = [];
  private readonly trackers: ButtonTracker[] = [];
  private readonly gpio: GpioPort;
  private readonly now: () => number;

  constructor(private readonly options: GpioButtonsOptions) {
    this.gpio = options.gpio ?? new OnoffGpioPort();
    this.now = options.now ?? (() => Date.now());
  }

  async start(): Promise<void> {
    checkPins(this.options);
    try {
      for (const name of BUTTON_NAMES) {
        const pin = this.options.pins[name];
        if (pin !== undefined) await this.startButton(name, pin);
      }
      if (this.options.rotary) await this.startRotary(this.options.rotary);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  onEvent(listener: (event: ButtonEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    for (const tracker of this.trackers.splice(0)) tracker.cancel();
    for (const line of this.lines.splice(0)) line.release();
  }

  private readonly emit: Emit = (event) => {
    for (const listener of [...this.listeners]) listener(event);
  };

  private async openInput(pin: number, role: string): Promise<GpioLine> {
    const sysfs = await sysfsGpioNumber(pin, this.options.sysfsRoot);
    try {
      const line = await this.gpio.open(sysfs, 'in');
      this.lines.push(line);
      return line;
    } catch (error) {
      if (error instanceof HardwareError) throw error;
      throw new HardwareError('gpio_pin', `GPIO ${pin} (${role}, sysfs ${sysfs}) cannot be opened: ${String(error)}.`, {
        cause: error,
      });
    }
  }

  private async startButton(name: ButtonName, pin: number): Promise<void> {
    const line = await this.openInput(pin, `button ${name}`);
    const o = this.options;
    const activeLevel: Bit = (o.activeLow ?? BUTTON_DEFAULTS.activeLow) ? 0 : 1;
    const tracker = new ButtonTracker(name, activeLevel, {
      debounceMs: o.debounceMs ?? BUTTON_DEFAULTS.debounceMs,
      longPressMs: o.longPressMs ?? BUTTON_DEFAULTS.longPressMs,
      doublePressMs: o.doublePressMs ?? BUTTON_DEFAULTS.doublePressMs,
      now: this.now,
      emit: this.emit,
    });
    tracker.init(await line.read());
    this.trackers.push(tracker);
    line.watch((value) => tracker.edge(value));
  }

  private async startRotary(pins: RotaryPins): Promise<void> {
    const a = await this.openInput(pins.a, 'rotary A');
    const b = await this.openInput(pins.b, 'rotary B');
    const levels: [Bit, Bit] = [await a.read(), await b.read()];
    const decoder = new RotaryDecoder(levels[0], levels[1], pins.stepsPerDetent ?? 4);
    const sign = pins.reverse ? -1 : 1;
    const onEdge = (index: 0 | 1, value: Bit) => {
      levels[index] = value;
      const detent = decoder.update(levels[0], levels[1]);
      if (detent !== 0) this.emit({ kind: 'rotate', delta: (detent * sign) as 1 | -1, at: this.now() });
    };
    a.watch((value) => onEdge(0, value));
    b.watch((value) => onEdge(1, value));
  }
}

interface TrackerConfig {
  debounceMs: number;
  longPressMs: number;
  doublePressMs: number;
  now: () => number;
  emit: Emit;
}

/** One button's debounce; its gestures are ButtonGestures'. */
class ButtonTracker {
  private raw: Bit = 1;
  private pressed = false;
  private edgeAt = 0;
  private debounce: ReturnType<typeof setTimeout> | null = null;
  private heldAtStart = false;
  private readonly gestures: ButtonGestures;

  constructor(
    name: ButtonName,
    private readonly activeLevel: Bit,
    private readonly config: TrackerConfig,
  ) {
    this.gestures = new ButtonGestures(name, config);
  }

  /** A button already held when the daemon starts is not a press. */
  init(level: Bit): void {
    this.raw = level;
    this.pressed = level === this.activeLevel;
    this.heldAtStart = this.pressed;
  }

  edge(level: Bit): void {
    this.raw = level;
    this.edgeAt = this.config.now();
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.settle(), this.config.debounceMs);
  }

  cancel(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
    this.gestures.cancel();
  }

  private settle(): void {
    this.debounce = null;
    const pressed = this.raw === this.activeLevel;
    if (pressed === this.pressed) return;
    this.pressed = pressed;
    if (!pressed && this.heldAtStart) {
      this.heldAtStart = false;
      return;
    }
    if (pressed) this.gestures.press(this.edgeAt, this.config.debounceMs);
    else this.gestures.release(this.edgeAt);
  }
}

function checkPins(options: GpioButtonsOptions): void {
  const owners = new Map<number, string>();
  const claim = (pin: number, role: string) => {
    const owner = owners.get(pin);
    if (owner) throw new HardwareError('gpio_pin', `GPIO ${pin} is assigned to both ${owner} and ${role}.`);
    owners.set(pin, role);
  };
  for (const name of BUTTON_NAMES) {
    const pin = options.pins[name];
    if (pin !== undefined) claim(pin, `button ${name}`);
  }
  if (options.rotary) {
    claim(options.rotary.a, 'rotary A');
    claim(options.rotary.b, 'rotary B');
  }
}

/** The gpio driver as the config describes it. */
export function createGpioButtons(config: ButtonsConfig, deps: { gpio?: GpioPort; sysfsRoot?: string } = {}): GpioButtons {
  const { gpio: options, longPressMs } = config;
  const pins: Partial<Record<ButtonName, number>> = {};
  for (const name of BUTTON_NAMES) {
    const pin = options.pins[name];
    if (pin !== null) pins[name] = pin;
  }
  return new GpioButtons({
    pins,
    rotary: options.rotary,
    longPressMs,
    debounceMs: options.debounceMs,
    doublePressMs: options.doublePressMs,
    activeLow: options.activeLow,
    gpio: deps.gpio,
    sysfsRoot: deps.sysfsRoot,
  });
}
