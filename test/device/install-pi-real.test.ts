/**
 * scripts/install-pi.sh run for real (not --dry-run) from a release built for this
 * machine's CPU, into a Pi file system in a temporary folder: what lands in /opt/leeloo
 * must run — @napi-rs/canvas with its platform binary, the shipped font — with no npm.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makePiRoot, runInstaller, type PiRoot } from '../helpers/pi-root.js';

const REPO = resolve('.');
let out: string;
let release: string;
let pi: PiRoot;

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, timeout: 170_000 }, (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'leeloo-release-real-'));
  const built = await run('npx', ['tsx', 'scripts/build-device-release.ts', '--out', out, '--arch', 'x64'], REPO);
  expect(built.stderr.split('\n').filter((l) => /error/i.test(l) && !/npm warn/i.test(l))).toEqual([]);
  expect(built.code).toBe(0);
  release = join(out, 'linux-x64/leeloo-device');
  pi = await makePiRoot();
}, 180_000);

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
  if (pi) await rm(pi.root, { recursive: true, force: true });
});

describe('install-pi.sh from a prebuilt release, for real', () => {
  it('ships node_modules for its CPU, with the package lock naming every tarball', async () => {
    expect(existsSync(join(release, 'node_modules/@napi-rs/canvas-linux-x64-gnu'))).toBe(true);
    expect(existsSync(join(release, 'node_modules/@napi-rs/canvas-linux-arm-gnueabihf'))).toBe(false);
    const lock = JSON.parse(await readFile(join(release, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string }>;
    };
    const unresolved = Object.entries(lock.packages).filter(([name, entry]) => name !== '' && !entry.resolved);
    expect(unresolved.map(([name]) => name)).toEqual([]);
  });

  it('installs an app that draws: canvas loads its binary and the shipped font, and no npm ran', async () => {
    const first = await runInstaller(release, pi, ['--no-start', '--relay-url', 'ws://127.0.0.1:1/ws']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).not.toMatch(/\bnpm\b/);
    const app = join(pi.root, 'opt/leeloo');
    const draw = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createCanvas, GlobalFonts } from '@napi-rs/canvas';
         const ok = GlobalFonts.registerFromPath('dist/device/fonts/DejaVuSans.ttf', 'LEELOO Test Sans');
         const canvas = createCanvas(120, 40); const ctx = canvas.getContext('2d');
         ctx.fillStyle = '#fff'; ctx.font = '24px "LEELOO Test Sans"'; ctx.fillText('Hi', 4, 30);
         const px = ctx.getImageData(0, 0, 120, 40).data; let lit = 0; for (let i = 0; i < px.length; i += 4) if (px[i] > 128) lit++;
         console.log(JSON.stringify({ ok: Boolean(ok), lit }));`,
      ],
      app,
    );
    expect(draw.stderr).toBe('');
    const drawn = JSON.parse(draw.stdout) as { ok: boolean; lit: number };
    expect(drawn.ok).toBe(true);
    expect(drawn.lit).toBeGreaterThan(20);
    expect(await pi.systemCalls()).toContain('systemctl daemon-reload');
  });

  it('copies nothing the second time', async () => {
    const second = await runInstaller(release, pi, ['--no-start', '--relay-url', 'ws://127.0.0.1:1/ws']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('holds this release already');
    expect(second.stdout).not.toContain('+ cp -R');
  });

  it('refuses a release built for another CPU with a sentence', async () => {
    const wrong = await runInstaller(release, pi, ['--no-start'], { LEELOO_ARCH: 'armv7l' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('this release is built for linux-x64, but this board is linux-armv7l');
  });
});
