/**
 * Display test pattern: colour bars, a grey ramp, a frame border and text, then a
 * moving bar to measure the frame rate the display really reaches.
 *
 *   npx tsx scripts/display-test.ts                      the display of device.json (--config FILE)
 *   npx tsx scripts/display-test.ts --fb /dev/fb1        a framebuffer (or any file of its size)
 *   npx tsx scripts/display-test.ts --spi ili9486        an SPI panel with the config's pins
 *   npx tsx scripts/display-test.ts --seconds 5
 * On a machine without a panel, `--fb FILE --sysfs DIR` drives a file standing in for
 * the framebuffer (the script creates both in a temp dir with --fake-fb).
 */
import { createCanvas } from '@napi-rs/canvas';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, parseConfig, type DeviceConfig } from '../device/config.js';
import { createDisplay } from '../device/drivers.js';
import { createFbDisplay } from '../device/fb-display.js';
import type { Display, Frame } from '../device/hardware.js';
import { FbSettings } from '../device/hardware-config.js';
import { createSpiDisplay } from '../device/spi-display.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const seconds = Number(option('--seconds') ?? 3);
const W = 480;
const H = 320;
const BARS = ['#ffffff', '#ffff00', '#00ffff', '#00ff00', '#ff00ff', '#ff0000', '#0000ff', '#000000'];

function pattern(barX: number, label: string): Frame {
  const canvas = createCanvas(W, H);
  const g = canvas.getContext('2d');
  BARS.forEach((color, i) => {
    g.fillStyle = color;
    g.fillRect((i * W) / BARS.length, 0, W / BARS.length + 1, 180);
  });
  for (let i = 0; i < 32; i++) {
    const v = Math.round((i * 255) / 31);
    g.fillStyle = `rgb(${v},${v},${v})`;
    g.fillRect((i * W) / 32, 180, W / 32 + 1, 40);
  }
  g.fillStyle = '#101018';
  g.fillRect(0, 220, W, 100);
  g.strokeStyle = '#ff0000';
  g.strokeRect(0.5, 0.5, W - 1, H - 1);
  g.fillStyle = '#ffffff';
  g.font = 'bold 22px sans-serif';
  g.fillText('LEELOO display test', 12, 252);
  g.font = '16px sans-serif';
  g.fillText(label, 12, 276);
  g.fillStyle = '#1db954';
  g.fillRect(barX, 296, 40, 12);
  return { width: W, height: H, data: g.getImageData(0, 0, W, H).data };
}

async function fakeFramebuffer(): Promise<{ device: string; sysfs: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'leeloo-fb-'));
  const dir = join(root, 'sys/class/graphics/fb1');
  await mkdir(dir, { recursive: true });
  const attrs = { name: 'fake_fb', virtual_size: `${W},${H}`, bits_per_pixel: '16', stride: String(W * 2), blank: '0' };
  for (const [file, value] of Object.entries(attrs)) await writeFile(join(dir, file), `${value}\n`);
  await writeFile(join(root, 'fb1'), Buffer.alloc(W * H * 2));
  return { device: join(root, 'fb1'), sysfs: join(root, 'sys'), cleanup: () => rm(root, { recursive: true, force: true }) };
}

function configFromArgs(): DeviceConfig {
  const file = option('--config');
  return file ? loadConfig(file) : parseConfig({ display: { driver: 'sim' }, sim: { mirror: { enabled: false } } }, process.cwd());
}

async function chooseDisplay(): Promise<{ display: Display; label: string; cleanup: () => Promise<void> }> {
  const none = async () => undefined;
  if (args.includes('--fake-fb')) {
    const fake = await fakeFramebuffer();
    return {
      display: createFbDisplay({ ...FbSettings.parse({}), device: fake.device }, { sysfsRoot: fake.sysfs }),
      label: `fake framebuffer ${fake.device}`,
      cleanup: fake.cleanup,
    };
  }
  const fb = option('--fb');
  if (fb) {
    return {
      display: createFbDisplay({ ...FbSettings.parse({ backlight: { kind: 'none' } }), device: fb }, { sysfsRoot: option('--sysfs') }),
      label: `framebuffer ${fb}`,
      cleanup: none,
    };
  }
  const config = configFromArgs();
  const panel = option('--spi');
  if (panel) {
    const spi = parseConfig({ display: { driver: 'spi', spi: { ...config.display.spi, panel } } }, process.cwd()).display.spi;
    return { display: createSpiDisplay(spi), label: `SPI panel ${panel}`, cleanup: none };
  }
  const log = pino({ level: 'warn' });
  return { display: createDisplay(config, log), label: `${config.display.driver} display`, cleanup: none };
}

async function main(): Promise<void> {
  const { display, label, cleanup } = await chooseDisplay();
  try {
    await display.start();
    await display.present(pattern(0, label));
    const end = performance.now() + seconds * 1000;
    let frames = 0;
    const started = performance.now();
    while (performance.now() < end) {
      await display.present(pattern((frames * 8) % (W - 40), label));
      frames++;
    }
    const elapsed = (performance.now() - started) / 1000;
    await display.stop();
    console.log(`display-test: ${label}: ${frames} frames in ${elapsed.toFixed(1)} s = ${(frames / elapsed).toFixed(1)} fps (moving bar, partial updates)`);
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  const e = error as { code?: string; message?: string };
  console.error(`display-test: failed${e.code ? ` [${e.code}]` : ''}: ${e.message ?? String(error)}`);
  process.exitCode = 1;
});
