/**
 * Renders the setup screens (device/screens/setup.ts) as the gadget draws them, into
 * docs/setup/*.png for the README's setup guide. Run: npx tsx scripts/render-setup-screens.ts
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCanvas } from '@napi-rs/canvas';
import { ScreenRenderer } from '../device/screens/renderer.js';
import { SetupScreen, type SetupStep } from '../device/screens/setup.js';
import { initialState } from '../device/state.js';

const OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/setup');
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const hotspot = { ssid: 'LEELOO-7KQ2', password: 'HXRT4MNP9Q' };

const STEPS: Record<string, SetupStep> = {
  '1-access-point': { kind: 'hotspot', hotspot, url: 'http://10.42.0.1/', error: null },
  '2-joining': { kind: 'connecting', ssid: 'Home', startedAt: NOW - 700 },
  '3-connected': { kind: 'connected', ssid: 'Home' },
  '4-wrong-password': { kind: 'hotspot', hotspot, url: 'http://10.42.0.1/', error: '"Home" refused the password; type it again (it is case-sensitive).' },
  '5-boot-hold': { kind: 'boot_hold', heldMs: 4000, setupAtMs: 3000, resetAtMs: 10_000 },
  '6-factory-reset': { kind: 'reset', done: true },
};

const renderer = new ScreenRenderer();
const state = { ...initialState('LEELOO', ''), connection: { status: 'offline' as const, detail: 'Setup', retryAt: null } };
await mkdir(OUT, { recursive: true });
for (const [name, step] of Object.entries(STEPS)) {
  const screen = new SetupScreen();
  screen.step = step;
  const frame = renderer.render({ screen, state, now: NOW });
  const canvas = createCanvas(frame.width, frame.height);
  const g = canvas.getContext('2d');
  const image = g.createImageData(frame.width, frame.height);
  image.data.set(frame.data);
  g.putImageData(image, 0, 0);
  await writeFile(path.join(OUT, `${name}.png`), await canvas.encode('png'));
}
console.log(`rendered ${Object.keys(STEPS).length} setup screens into ${path.relative(process.cwd(), OUT)}/`);
