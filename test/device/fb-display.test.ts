import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FbDisplay, readFbGeometry } from '../../device/fb-display.js';
import { FbBlankBacklight } from '../../device/backlight.js';
import { HardwareError } from '../../device/hardware-error.js';
import { SysfsTree } from '../fakes/sysfs-tree.js';
import { decodeFramebuffer, opaque, quantize565 } from '../fakes/framebuffer-file.js';
import { BASE_SCREEN, renderSample } from '../fakes/sample-frames.js';

let tree: SysfsTree;

async function writeAt(path: string, bytes: Buffer, position: number): Promise<void> {
  const handle = await open(path, 'r+');
  await handle.write(bytes, 0, bytes.length, position);
  await handle.close();
}

beforeEach(async () => {
  tree = await SysfsTree.create();
});

afterEach(async () => {
  await tree.remove();
});

async function startedDisplay(geometry: { width: number; height: number; bpp: 16 | 32; stride?: number }) {
  const device = await tree.framebuffer(1, { name: 'fb_ili9486', ...geometry });
  const display = new FbDisplay({ device, sysfsRoot: tree.sys });
  await display.start();
  return { display, device };
}

describe('FbDisplay', () => {
  it('reads the geometry from sysfs', async () => {
    const device = await tree.framebuffer(1, { name: 'fb_ili9486', width: 480, height: 320, bpp: 16 });
    expect(await readFbGeometry(device, tree.sys)).toEqual({
      name: 'fb_ili9486',
      width: 480,
      height: 320,
      bitsPerPixel: 16,
      stride: 960,
    });
  });

  it('writes a frame as RGB565 little-endian that decodes back to the frame', async () => {
    const { display, device } = await startedDisplay({ width: 480, height: 320, bpp: 16 });
    const frame = renderSample(BASE_SCREEN);
    await display.present(frame);
    const shown = await decodeFramebuffer(device, { width: 480, height: 320, bpp: 16 });
    expect(Buffer.from(shown).equals(Buffer.from(quantize565(frame.data)))).toBe(true);
    const raw = await readFile(device);
    expect(raw.readUInt16LE(0)).toBe(((0x10 & 0xf8) << 8) | ((0x10 & 0xfc) << 3) | (0x18 >> 3));
    await display.stop();
  });

  it('writes 32 bpp framebuffers as XRGB8888 and honours a padded stride', async () => {
    const { display, device } = await startedDisplay({ width: 480, height: 320, bpp: 32, stride: 2048 });
    const frame = renderSample(BASE_SCREEN);
    await display.present(frame);
    const shown = await decodeFramebuffer(device, { width: 480, height: 320, bpp: 32, stride: 2048 });
    expect(Buffer.from(shown).equals(Buffer.from(opaque(frame.data)))).toBe(true);
    await display.stop();
  });

  it('writes only the rows that changed, at their offsets', async () => {
    const { display, device } = await startedDisplay({ width: 480, height: 320, bpp: 16 });
    await display.present(renderSample(BASE_SCREEN));
    // Mark rows the next frame does not change: a driver that rewrote them would erase the mark.
    const marker = Buffer.alloc(960 * 10, 0xab);
    await writeAt(device, marker, 100 * 960);
    const next = renderSample({ ...BASE_SCREEN, progress: 0.34 });
    await display.present(next);
    const raw = await readFile(device);
    expect(raw.subarray(100 * 960, 110 * 960).equals(marker)).toBe(true);
    const expected = Buffer.from(quantize565(next.data));
    const shown = Buffer.from(await decodeFramebuffer(device, { width: 480, height: 320, bpp: 16 }));
    expect(shown.subarray(260 * 1920, 268 * 1920).equals(expected.subarray(260 * 1920, 268 * 1920))).toBe(true);
    await display.stop();
  });

  it('rejects a portrait framebuffer with advice to rotate', async () => {
    const device = await tree.framebuffer(1, { name: 'fb_ili9486', width: 320, height: 480, bpp: 16 });
    const display = new FbDisplay({ device, sysfsRoot: tree.sys });
    await expect(display.start()).rejects.toMatchObject({ code: 'fb_geometry', message: /rotate=90/ });
  });

  it('rejects a framebuffer format it cannot drive', async () => {
    const device = await tree.framebuffer(1, { name: 'fb_x', width: 480, height: 320, bpp: 8 });
    await expect(new FbDisplay({ device, sysfsRoot: tree.sys }).start()).rejects.toMatchObject({ code: 'fb_format' });
  });

  it('rejects garbage geometry', async () => {
    const device = await tree.framebuffer(1, { name: 'fb_x', width: 480, height: 320, bpp: 16 });
    await tree.file('sys/class/graphics/fb1/virtual_size', 'banana');
    await expect(new FbDisplay({ device, sysfsRoot: tree.sys }).start()).rejects.toMatchObject({ code: 'fb_geometry' });
  });

  it('reports a missing framebuffer clearly', async () => {
    const display = new FbDisplay({ device: join(tree.dev, 'fb3'), sysfsRoot: tree.sys });
    const error = await display.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HardwareError);
    expect(error).toMatchObject({ code: 'fb_missing', message: /overlay/ });
    await expect(new FbDisplay({ device: '/dev/null' }).start()).rejects.toMatchObject({ code: 'fb_missing' });
  });

  it('rejects a frame of the wrong size and presenting before start', async () => {
    const device = await tree.framebuffer(1, { name: 'fb_ili9486', width: 480, height: 320, bpp: 16 });
    const display = new FbDisplay({ device, sysfsRoot: tree.sys });
    await expect(display.present(renderSample(BASE_SCREEN))).rejects.toMatchObject({ code: 'not_started' });
    await display.start();
    await expect(display.present(renderSample(BASE_SCREEN, 320, 240))).rejects.toMatchObject({ code: 'frame_size' });
    await display.stop();
  });

  it('blanks and unblanks through the framebuffer backlight', async () => {
    const device = await tree.framebuffer(1, { name: 'fb_ili9486', width: 480, height: 320, bpp: 16 });
    const fbDir = join(tree.sys, 'class/graphics/fb1');
    const display = new FbDisplay({ device, sysfsRoot: tree.sys, backlight: new FbBlankBacklight(fbDir) });
    await display.start();
    await display.setBacklight(false);
    expect(await readFile(join(fbDir, 'blank'), 'utf8')).toBe('4');
    await display.setBacklight(true);
    expect(await readFile(join(fbDir, 'blank'), 'utf8')).toBe('0');
    await display.stop();
  });
});
