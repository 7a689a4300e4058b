import { afterEach, describe, expect, it } from 'vitest';
import { SpiDisplay, planUpdate, type SpiDisplayOptions } from '../../device/spi-display.js';
import { commandTransfers, splitTransfers, type Transfer } from '../../device/spi-transfers.js';
import { panelByName, PANEL_NAMES } from '../../device/panels/catalog.js';
import { ILI9486 } from '../../device/panels/ili9486.js';
import { ST7789 } from '../../device/panels/st7789.js';
import { GpioBacklight } from '../../device/backlight.js';
import { readSpidevBufsiz } from '../../device/spi-port.js';
import type { Frame } from '../../device/hardware.js';
import { FakeGpioLine } from '../fakes/gpio-line.js';
import { SpidevRecorder, windows } from '../fakes/spidev-recorder.js';
import { SysfsTree } from '../fakes/sysfs-tree.js';
import { BASE_SCREEN, renderSample } from '../fakes/sample-frames.js';

/** A frame where every pixel differs from its neighbours: r = x, g = y, b = x xor y. */
function gradientFrame(width = 480, height = 320): Frame {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      data.set([x & 0xff, y & 0xff, (x ^ y) & 0xff, 0xff], o);
    }
  }
  return { width, height, data };
}

/** RGB565 big-endian of a rectangle of an RGBA frame, computed independently of the driver. */
function expected565(frame: Frame, x0: number, y0: number, w: number, h: number): Buffer {
  const out = Buffer.alloc(w * h * 2);
  let i = 0;
  for (let y = y0; y < y0 + h; y++) {
    for (let x = x0; x < x0 + w; x++) {
      const o = (y * frame.width + x) * 4;
      const [r, g, b] = [frame.data[o]!, frame.data[o + 1]!, frame.data[o + 2]!];
      out.writeUInt16BE(((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3), i);
      i += 2;
    }
  }
  return out;
}

function rig(options: Partial<SpiDisplayOptions> = {}, bufsiz = 4096) {
  const spi = new SpidevRecorder(bufsiz);
  const reset = new FakeGpioLine(537, 'high');
  const delays: number[] = [];
  const display = new SpiDisplay({
    panel: ILI9486,
    spi,
    dc: spi.dc,
    reset,
    bufsiz,
    delay: async (ms) => {
      delays.push(ms);
    },
    ...options,
  });
  return { spi, reset, delays, display };
}

describe('SpiDisplay on the Waveshare ILI9486 (16-bit register bus)', () => {
  it('resets the panel and sends the init sequence with landscape MADCTL', async () => {
    const { spi, reset, delays, display } = rig();
    await display.start();
    expect(reset.writes).toEqual([1, 0, 1]);
    const commands = spi.commands(16);
    expect(commands.map((c) => c.cmd)).toEqual([0xb0, 0x11, 0x3a, 0xc2, 0xc5, 0xe0, 0xe1, 0xe2, 0x36, 0x20, 0x29]);
    expect([...commands[2]!.data]).toEqual([0x55]);
    expect([...commands[8]!.data]).toEqual([0x28]); // MV | BGR
    expect(spi.transfers[0]!.data).toEqual(Buffer.from([0x00, 0xb0]));
    expect(spi.transfers[1]!.data).toEqual(Buffer.from([0x00, 0x00]));
    expect(delays).toEqual([5, 20, 120, 250, 20]);
    // Commands and their parameters are short transfers: at most 10 MHz, as mipi_dbi sends them.
    expect(spi.transfers.every((t) => t.speedHz === 10_000_000)).toBe(true);
  });

  it('sends a known frame as one full window of big-endian RGB565 in bufsiz chunks', async () => {
    const { spi, display } = rig({}, 4096);
    await display.start();
    spi.clear();
    const frame = gradientFrame();
    await display.present(frame);
    const [window] = windows(spi.commands(16));
    expect(window).toMatchObject({ x0: 0, x1: 479, y0: 0, y1: 319 });
    expect(window!.pixels.equals(expected565(frame, 0, 0, 480, 320))).toBe(true);
    const pixelChunks = spi.transfers.filter((t) => t.data.length > 8);
    expect(pixelChunks.length).toBe(Math.ceil((480 * 320 * 2) / 4096));
    expect(spi.transfers.every((t) => t.data.length <= 4096 && t.data.length % 2 === 0)).toBe(true);
    expect(display.lastPresent.bytes).toBe(spi.bytes);
  });

  it('sends only the changed rectangle on a progress bar step', async () => {
    const { spi, display } = rig();
    await display.start();
    await display.present(renderSample(BASE_SCREEN));
    spi.clear();
    const next = renderSample({ ...BASE_SCREEN, progress: 0.34 });
    await display.present(next);
    const x0 = 24 + Math.round(432 * 0.31);
    const x1 = 24 + Math.round(432 * 0.34) - 1;
    const sent = windows(spi.commands(16));
    expect(sent.map(({ x0, x1, y0, y1 }) => ({ x0, x1, y0, y1 }))).toEqual([{ x0, x1, y0: 260, y1: 267 }]);
    expect(sent[0]!.pixels.equals(expected565(next, x0, 260, x1 - x0 + 1, 8))).toBe(true);
    expect(spi.bytes).toBeLessThan(1000);
  });

  it('sends nothing for an identical frame', async () => {
    const { spi, display } = rig();
    await display.start();
    await display.present(renderSample(BASE_SCREEN));
    spi.clear();
    await display.present(renderSample(BASE_SCREEN));
    expect(spi.transfers).toEqual([]);
  });

  it('splits to a small spidev buffer without breaking 16-bit words', async () => {
    const { spi, display } = rig({}, 1001);
    await display.start();
    await display.present(gradientFrame());
    expect(spi.transfers.every((t) => t.data.length <= 1000 && t.data.length % 2 === 0)).toBe(true);
    expect(windows(spi.commands(16))[0]!.pixels.length).toBe(480 * 320 * 2);
  });

  it('turns the display and its backlight off and on, and shuts down cleanly', async () => {
    const light = new FakeGpioLine(530, 'low');
    const { spi, reset, display } = rig({ backlight: new GpioBacklight(light) });
    await display.start();
    expect(light.writes).toEqual([1]);
    const frame = gradientFrame();
    await display.present(frame);
    spi.clear();
    await display.setBacklight(false);
    // Asleep: black fills the panel before DISPOFF (a backlight wired to 3V3 stays lit).
    const asleep = spi.commands(16);
    expect(asleep.map((c) => c.cmd)).toEqual([0x2a, 0x2b, 0x2c, 0x28]);
    expect(asleep[2]!.data.equals(Buffer.alloc(480 * 320 * 2))).toBe(true);
    spi.clear();
    await display.present(renderSample(BASE_SCREEN));
    expect(spi.transfers).toEqual([]);
    await display.setBacklight(true);
    // Awake: DISPON, then the newest frame the screens drew.
    const awake = spi.commands(16);
    expect(awake.map((c) => c.cmd)).toEqual([0x29, 0x2a, 0x2b, 0x2c]);
    expect(awake[3]!.data.length).toBeGreaterThan(0);
    expect(light.writes).toEqual([1, 0, 1]);
    spi.clear();
    await display.stop();
    expect(spi.commands(16).map((c) => c.cmd)).toEqual([0x28, 0x10]);
    expect(spi.closed).toBe(true);
    expect(reset.released && light.released).toBe(true);
  });
});

/** The bus as the panel reads it: every byte with the DC level it was clocked at. */
function bus(transfers: ReadonlyArray<{ dc: 0 | 1; data: Buffer }>): { dc: string; data: Buffer } {
  return { dc: transfers.map((t) => String(t.dc).repeat(t.data.length)).join(''), data: Buffer.concat(transfers.map((t) => t.data)) };
}

describe('SpiDisplay sequences on a bus whose transfers complete a turn later', () => {
  it('never mixes a sleep or wake command into a frame in flight', async () => {
    const { spi, display } = rig();
    await display.start();
    const a = renderSample(BASE_SCREEN);
    const b = gradientFrame();
    const c = renderSample({ ...BASE_SCREEN, progress: 0.9 });
    await display.present(a);
    spi.clear();
    // The screen-sleep timer and the render loop do not wait for each other.
    await Promise.all([display.present(b), display.setBacklight(false), display.setBacklight(true), display.present(c)]);
    const [imgA, imgB, imgC] = [a, b, c].map((f) => display.panelImage(f));
    const black = { ...imgA!, data: Buffer.alloc(imgA!.data.length) };
    const command = (cmd: number): Transfer[] => splitTransfers(commandTransfers({ cmd }, 16), 4096);
    const frame = (from: typeof imgA, to: typeof imgA) => planUpdate(from!, to!, display).transfers;
    const expected = [...frame(imgA, imgB), ...frame(imgB, black), ...command(0x28), ...command(0x29), ...frame(black, imgB), ...frame(imgB, imgC)];
    const sent = bus(spi.transfers);
    const want = bus(expected);
    expect(sent.data.length).toBe(want.data.length);
    // Compared byte by byte with its DC level: a command read as a parameter, or pixels read as commands, fail here.
    expect(sent.dc === want.dc).toBe(true);
    expect(sent.data.equals(want.data)).toBe(true);
  });

  it('keeps the queue going after a failed transfer', async () => {
    const { spi, display } = rig();
    await display.start();
    spi.closed = true;
    await expect(display.present(gradientFrame())).rejects.toThrow(/EBADF/);
    spi.closed = false;
    spi.clear();
    await display.setBacklight(false);
    expect(spi.commands(16).at(-1)!.cmd).toBe(0x28);
    expect(spi.transfers[0]!.dc).toBe(0);
  });
});

describe('SpiDisplay panels', () => {
  it.each(PANEL_NAMES)('%s: init ends with MADCTL for rotation 270, inversion and DISPON on an 8-bit bus', async (name) => {
    const panel = panelByName(name);
    const { spi, display } = rig({ panel, rotation: 270, regWidth: 8 });
    await display.start();
    const commands = spi.commands(8);
    const tail = commands.slice(-3);
    expect(commands.slice(0, panel.init.length).map((c) => c.cmd)).toEqual(panel.init.map((c) => c.cmd));
    expect(tail[0]).toEqual({ cmd: 0x36, data: Buffer.from([panel.madctl[270] | (panel.bgr ? 0x08 : 0)]) });
    expect(tail[1]!.cmd).toBe(panel.invert ? 0x21 : 0x20);
    expect(tail[2]!.cmd).toBe(0x29);
    expect(spi.transfers.every((t) => t.speedHz === Math.min(panel.defaultSpeedHz, 10_000_000))).toBe(true);
  });

  it('fits the 480×320 frame onto a 320×240 ST7789, letterboxed in black', async () => {
    const { spi, display } = rig({ panel: ST7789, regWidth: 8 });
    await display.start();
    spi.clear();
    const white: Frame = { width: 480, height: 320, data: new Uint8Array(480 * 320 * 4).fill(0xff) };
    await display.present(white);
    const [window] = windows(spi.commands(8));
    expect(window).toMatchObject({ x0: 0, x1: 319, y0: 0, y1: 239 });
    const top = Math.floor((240 - 213) / 2);
    expect(window!.pixels.readUInt16BE(0)).toBe(0x0000);
    expect(window!.pixels.readUInt16BE((top * 320 + 5) * 2)).toBe(0xffff);
    expect(window!.pixels.readUInt16BE(((top + 213) * 320 + 5) * 2)).toBe(0x0000);
  });

  it('overrides colour order and inversion from options', async () => {
    const { spi, display } = rig({ bgr: false, invert: true });
    await display.start();
    const commands = spi.commands(16);
    expect(commands.find((c) => c.cmd === 0x36)!.data[0]).toBe(0x20);
    expect(commands.some((c) => c.cmd === 0x21)).toBe(true);
  });
});

describe('SpiDisplay bad input', () => {
  it('rejects an unknown panel, an invalid or portrait rotation', () => {
    expect(() => panelByName('ssd1306')).toThrow(expect.objectContaining({ code: 'panel_unknown' }));
    expect(() => rig({ rotation: 45 as never })).toThrow(expect.objectContaining({ code: 'panel_rotation' }));
    expect(() => rig({ rotation: 0 })).toThrow(expect.objectContaining({ code: 'panel_rotation', message: expect.stringMatching(/portrait/) }));
  });

  it('rejects presenting before start and frames of the wrong size', async () => {
    const { display } = rig();
    await expect(display.present(gradientFrame())).rejects.toMatchObject({ code: 'not_started' });
    await display.start();
    await expect(display.present(gradientFrame(320, 240))).rejects.toMatchObject({ code: 'frame_size' });
  });
});

describe('readSpidevBufsiz', () => {
  let tree: SysfsTree | null = null;
  afterEach(async () => {
    await tree?.remove();
  });

  it('reads the module parameter and falls back to 4096', async () => {
    tree = await SysfsTree.create();
    expect(await readSpidevBufsiz(tree.sys)).toBe(4096);
    await tree.spidevBufsiz(65536);
    expect(await readSpidevBufsiz(tree.sys)).toBe(65536);
    await tree.file('sys/module/spidev/parameters/bufsiz', 'junk');
    expect(await readSpidevBufsiz(tree.sys)).toBe(4096);
  });
});
