import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The screens' words must show on a Pi with no fonts installed. The probe runs in a
 * mount namespace where every system font directory is an empty tmpfs, so Skia can
 * find only the fonts LEELOO ships in device/fonts.
 */
const PROBE = `
import { createCanvas } from '@napi-rs/canvas';
import { font, uiFontProblem } from './device/screens/theme.js';
const inked = (f) => {
  const g = createCanvas(120, 30).getContext('2d');
  g.fillStyle = '#fff';
  g.font = f;
  g.fillText('Kitchen', 2, 22);
  return g.getImageData(0, 0, 120, 30).data.filter((v, i) => i % 4 === 3 && v > 0).length;
};
const system = inked('16px sans-serif');
const problem = uiFontProblem();
console.log(JSON.stringify({ system, ours: inked(font(16)), bold: inked(font(16, 'bold')), italic: inked('italic ' + font(16)), problem }));
`;

const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts'].filter((dir) => existsSync(dir));
const canUnshare = process.getuid?.() === 0 && existsSync('/usr/bin/unshare');

function probeWithoutSystemFonts(): Promise<{ system: number; ours: number; bold: number; italic: number; problem: string | null }> {
  const hide = FONT_DIRS.map((dir) => `mount -t tmpfs none ${dir}`).join(' && ');
  const script = `${hide} && exec node --import tsx --input-type=module -e "$PROBE"`;
  return new Promise((done, fail) => {
    execFile(
      'unshare',
      ['-m', 'sh', '-c', script],
      { cwd: resolve('.'), env: { ...process.env, PROBE, HOME: '/nonexistent' }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) fail(new Error(`${error.message}\n${stderr}`));
        else done(JSON.parse(stdout.trim().split('\n').at(-1)!));
      },
    );
  });
}

describe('the screen font', () => {
  it.skipIf(!canUnshare)('draws text from device/fonts with no system font installed', async () => {
    const result = await probeWithoutSystemFonts();
    // The namespace really hides the system fonts: the canvas default draws nothing there.
    expect(result.system).toBe(0);
    expect(result.problem).toBeNull();
    expect(result.ours).toBeGreaterThan(100);
    expect(result.bold).toBeGreaterThan(result.ours);
    expect(result.italic).toBeGreaterThan(100);
  });
});
