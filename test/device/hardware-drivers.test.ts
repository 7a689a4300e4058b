import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig, ConfigError } from '../../device/config.js';
import { FbSettings } from '../../device/hardware-config.js';
import { createSpiDisplay } from '../../device/spi-display.js';
import { createFbDisplay } from '../../device/fb-display.js';
import { createGpioButtons } from '../../device/gpio-buttons.js';
import { FakeGpioPort } from '../fakes/gpio-line.js';
import { SpidevRecorder } from '../fakes/spidev-recorder.js';
import { SysfsTree } from '../fakes/sysfs-tree.js';
import { BASE_SCREEN, renderSample } from '../fakes/sample-frames.js';

let tree: SysfsTree;

beforeEach(async () => {
  tree = await SysfsTree.create();
  await tree.gpiochip(512, 'pinctrl-bcm2711', 58);
});

afterEach(async () => {
  await tree.remove();
});

function configErrors(raw: unknown): readonly string[] {
  try {
    parseConfig(raw, '/tmp');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('hardware config blocks', () => {
  it('fills the fb, spi and gpio defaults for a Waveshare 3.5" (A)', () => {
    const config = parseConfig({ display: { driver: 'spi' }, buttons: { driver: 'gpio' } }, '/tmp');
    expect(config.display.spi).toMatchObject({ panel: 'ili9486', dcPin: 24, resetPin: 25, rotation: 90, bus: 0, chipSelect: 0 });
    expect(config.display.fb.device).toBe('/dev/fb1');
    expect(config.buttons.gpio.pins).toEqual({ prev: 5, next: 6, primary: 13, secondary: 19 });
    expect(config.display.sleepAfterSeconds).toBe(300);
  });

  it('says what is wrong with bad hardware options', () => {
    const errors = configErrors({
      display: { driver: 'spi', fb: { device: '/dev/sda' }, spi: { panel: 'ssd1306', dcPin: 40, rotation: 45 } },
      buttons: { driver: 'gpio', gpio: { pins: { primary: 'GPIO17' }, rotary: { a: 20 } } },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        'display.fb.device must be a framebuffer device such as /dev/fb1',
        'display.spi.panel must be one of "ili9486", "st7796", "st7789", "ili9341"',
        'display.spi.dcPin must be at most 27',
        'display.spi.rotation must be one of 0, 90, 180, 270',
        'buttons.gpio.pins.primary must be a number',
        'buttons.gpio.rotary.b is missing: it must be a number',
      ]),
    );
  });
});

/** The fb block's defaults; the tests point `device` at a fake /dev, which the schema would refuse. */
const FB_DEFAULTS = FbSettings.parse({});

describe('drivers built from the config', () => {
  it('opens the SPI panel on the sysfs lines of a 6.6 kernel and splits to its bufsiz', async () => {
    await tree.spidevBufsiz(8192);
    const config = parseConfig({ display: { driver: 'spi' } }, '/tmp');
    const gpio = new FakeGpioPort();
    const spi = new SpidevRecorder(8192);
    const opened: unknown[] = [];
    const display = createSpiDisplay(config.display.spi, {
      gpio,
      sysfsRoot: tree.sys,
      delay: async () => undefined,
      openSpi: async (...args) => {
        opened.push(args);
        return spi;
      },
    });
    await display.start();
    expect(opened).toEqual([[0, 0, 16_000_000]]);
    expect(gpio.line(512 + 24).writes.length).toBeGreaterThan(0);
    expect(gpio.line(512 + 25).writes).toEqual([1, 0, 1]);
    await display.present(renderSample(BASE_SCREEN));
    expect(Math.max(...spi.transfers.map((t) => t.data.length))).toBe(8192);
    await display.stop();
    expect(gpio.line(512 + 24).released && spi.closed).toBe(true);
  });

  it('releases the lines it opened when spidev is missing', async () => {
    const config = parseConfig({ display: { driver: 'spi' } }, '/tmp');
    const gpio = new FakeGpioPort();
    const display = createSpiDisplay(config.display.spi, {
      gpio,
      sysfsRoot: tree.sys,
      openSpi: async () => {
        throw Object.assign(new Error('/dev/spidev0.0 missing'), { code: 'spi_missing' });
      },
    });
    await expect(display.start()).rejects.toMatchObject({ code: 'spi_missing' });
    expect([...gpio.lines.values()].every((l) => l.released)).toBe(true);
    await expect(display.present(renderSample(BASE_SCREEN))).rejects.toMatchObject({ code: 'not_started' });
  });

  it('sleeps the default fb display by painting it black, with no backlight device to switch', async () => {
    const device = await tree.framebuffer(1, { name: 'fb_ili9486', width: 480, height: 320, bpp: 16 });
    const config = parseConfig({ display: { driver: 'fb', fb: { device: '/dev/fb1' } } }, '/tmp');
    expect(config.display.fb.backlight.kind).toBe('auto');
    const display = createFbDisplay({ ...config.display.fb, device }, { sysfsRoot: tree.sys });
    await display.start();
    const frame = renderSample(BASE_SCREEN);
    await display.present(frame);
    await display.setBacklight(false);
    expect((await readFile(device)).every((byte) => byte === 0)).toBe(true);
    // fbtft has no blank op: the default never writes blank.
    expect(await readFile(join(tree.sys, 'class/graphics/fb1/blank'), 'utf8')).toBe('0\n');
    await display.present(renderSample({ ...BASE_SCREEN, progress: 0.8 }));
    expect((await readFile(device)).every((byte) => byte === 0)).toBe(true);
    await display.setBacklight(true);
    expect((await readFile(device)).some((byte) => byte !== 0)).toBe(true);
    await display.stop();
  });

  it('picks the framebuffer by its sysfs name, never the HDMI one', async () => {
    await tree.framebuffer(0, { name: 'vc4drmfb', width: 1920, height: 1080, bpp: 32 });
    const panel = await tree.framebuffer(1, { name: 'ili9486drmfb', width: 480, height: 320, bpp: 16 });
    const byName = createFbDisplay({ ...FB_DEFAULTS, device: join(tree.dev, 'fb0'), name: 'ili9486drmfb' }, { sysfsRoot: tree.sys });
    await byName.start();
    expect(byName.device).toBe(panel);
    await byName.stop();
    const hdmi = createFbDisplay({ ...FB_DEFAULTS, device: join(tree.dev, 'fb0') }, { sysfsRoot: tree.sys });
    await expect(hdmi.start()).rejects.toMatchObject({ code: 'fb_missing', message: /HDMI output \(vc4drmfb\)/ });
    const missing = createFbDisplay({ ...FB_DEFAULTS, device: join(tree.dev, 'fb0'), name: 'fb_st7796s' }, { sysfsRoot: tree.sys });
    await expect(missing.start()).rejects.toMatchObject({ code: 'fb_missing', message: /fb0 \(vc4drmfb\), fb1 \(ili9486drmfb\)/ });
  });

  it('switches a sysfs backlight through bl_power', async () => {
    await tree.framebuffer(1, { name: 'fb_ili9486', width: 480, height: 320, bpp: 16 });
    const dir = await tree.backlight('soc:backlight', { max: 255, blPower: true });
    const display = createFbDisplay(
      { ...FB_DEFAULTS, device: join(tree.dev, 'fb1'), backlight: { ...FB_DEFAULTS.backlight, kind: 'sysfs' } },
      { sysfsRoot: tree.sys },
    );
    await display.start();
    await display.setBacklight(false);
    expect(await readFile(join(dir, 'bl_power'), 'utf8')).toBe('4');
    await display.stop();
  });

  it('warns about a missing sysfs backlight and starts anyway', async () => {
    await tree.framebuffer(1, { name: 'fb_ili9486', width: 480, height: 320, bpp: 16 });
    const warnings: string[] = [];
    const display = createFbDisplay(
      { ...FB_DEFAULTS, device: join(tree.dev, 'fb1'), backlight: { ...FB_DEFAULTS.backlight, kind: 'sysfs' } },
      { sysfsRoot: tree.sys, warn: (sentence) => warnings.push(sentence) },
    );
    await display.start();
    await display.setBacklight(false);
    await display.present(renderSample(BASE_SCREEN));
    expect(warnings).toEqual([expect.stringMatching(/^No backlight control: No backlight device under .*backlight; set backlight/)]);
    await display.stop();
  });

  it('builds buttons without the pins set to null', async () => {
    const config = parseConfig({ buttons: { driver: 'gpio', gpio: { pins: { prev: null, next: null } } } }, '/tmp');
    const gpio = new FakeGpioPort();
    const buttons = createGpioButtons(config.buttons, { gpio, sysfsRoot: tree.sys });
    await buttons.start();
    expect([...gpio.lines.keys()].sort()).toEqual([512 + 13, 512 + 19]);
    await buttons.stop();
  });
});
