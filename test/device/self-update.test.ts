import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PLATFORM_FILE, RELEASE_FILE, RELEASE_MAIN, RELEASE_TOP, thisPlatform } from '../../device/release-layout.js';
import { compareVersions, confirmRelease, installedVersion, SelfUpdate, UpdateError } from '../../device/self-update.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

const run = promisify(execFile);
const log = pino({ level: 'silent' });
const LAUNCHER = path.resolve('scripts/leeloo-launch.sh');

/**
 * A release tarball in the build's layout (device/release-layout.ts; test/device/install-pi-real.test.ts
 * updates from one the build script made): leeloo-device/ at the top, with package.json, PLATFORM,
 * RELEASE and a dist/device/main.js that says which release runs.
 */
async function makeRelease(dir: string, version: string, platform = thisPlatform()): Promise<Buffer> {
  const root = path.join(dir, `build-${version}-${platform}`);
  const top = path.join(root, RELEASE_TOP);
  await mkdir(path.join(top, path.dirname(RELEASE_MAIN)), { recursive: true });
  await writeFile(path.join(top, 'package.json'), JSON.stringify({ name: RELEASE_TOP, version }));
  await writeFile(path.join(top, RELEASE_MAIN), `console.log('release ${version}', process.argv.slice(2).join(' '));\n`);
  await writeFile(path.join(top, PLATFORM_FILE), `${platform}\n`);
  await writeFile(path.join(top, RELEASE_FILE), `${RELEASE_TOP} ${version} ${'0'.repeat(64)} ${platform}\n`);
  const tarball = path.join(dir, `leeloo-${version}.tar.gz`);
  await run('tar', ['-czf', tarball, '-C', root, RELEASE_TOP]);
  return readFile(tarball);
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('self-update from a release server on 127.0.0.1', () => {
  let dir: string;
  let releases: string;
  let server: http.Server;
  let base: string;
  const files = new Map<string, { type: string; body: Buffer | string }>();

  beforeEach(async () => {
    dir = await makeTempDir();
    releases = path.join(dir, 'releases');
    files.clear();
    server = http.createServer((req, res) => {
      const file = files.get(req.url ?? '');
      if (!file) return void res.writeHead(404).end('no such file');
      res.writeHead(200, { 'Content-Type': file.type }).end(file.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await removeTempDir(dir);
  });

  async function publish(version: string, checksum?: string, tarball?: Buffer): Promise<string> {
    tarball ??= await makeRelease(dir, version);
    files.set(`/leeloo-${version}.tar.gz`, { type: 'application/gzip', body: tarball });
    files.set(`/${version}.json`, {
      type: 'application/json',
      body: JSON.stringify({ version, url: `${base}/leeloo-${version}.tar.gz`, sha256: checksum ?? sha256(tarball) }),
    });
    return `${base}/${version}.json`;
  }

  const launch = async (): Promise<string> =>
    (
      await run('sh', [LAUNCHER, '--config', '/etc/leeloo/device.json'], {
        env: { ...process.env, LEELOO_RELEASES_DIR: releases, LEELOO_NODE: process.execPath },
      })
    ).stdout.trim();

  it('installs a newer release beside the running one and switches current', async () => {
    const update = new SelfUpdate({ releaseUrl: await publish('0.2.0'), releasesDir: releases, version: '0.1.0', log });
    const manifest = await update.check();
    expect(manifest?.version).toBe('0.2.0');
    await update.install(manifest!);
    expect(await readlink(path.join(releases, 'current'))).toBe('0.2.0');
    expect(await readFile(path.join(releases, 'update.state'), 'utf8')).toBe('candidate=0.2.0\nprevious=\nattempts=0\n');
    expect((await readdir(releases)).sort()).toEqual(['0.2.0', 'current', 'update.state']);
    expect(await launch()).toBe('release 0.2.0 --config /etc/leeloo/device.json');
  });

  it('refuses a tarball whose checksum does not match, and keeps what runs', async () => {
    const update = new SelfUpdate({ releaseUrl: await publish('0.2.0', 'ab'.repeat(32)), releasesDir: releases, version: '0.1.0', log });
    const manifest = await update.check();
    const failure = await update.install(manifest!).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UpdateError);
    expect((failure as Error).message).toMatch(/does not match its checksum .* nothing was installed/);
    expect(await readdir(releases)).toEqual([]);
  });

  it('refuses a corrupt tarball, one in another layout and one for another CPU, and leaves the running release alone', async () => {
    const good = new SelfUpdate({ releaseUrl: await publish('0.2.0'), releasesDir: releases, version: '0.1.0', log });
    await good.install((await good.check())!);
    expect(await confirmRelease(releases, '0.2.0')).toBe(true);
    const before = (await readdir(releases)).sort();
    const attempt = async (version: string, tarball: Buffer): Promise<Error> => {
      const update = new SelfUpdate({ releaseUrl: await publish(version, undefined, tarball), releasesDir: releases, version: '0.2.0', log });
      const failure = (await update.install((await update.check())!).catch((e: unknown) => e)) as Error;
      expect(failure).toBeInstanceOf(UpdateError);
      // The checksum matched (the server published what it had): the unpacked contents were refused.
      expect((await readdir(releases)).sort()).toEqual(before);
      expect(await readlink(path.join(releases, 'current'))).toBe('0.2.0');
      expect(await launch()).toBe('release 0.2.0 --config /etc/leeloo/device.json');
      return failure;
    };
    const whole = await makeRelease(dir, '0.3.0');
    expect((await attempt('0.3.0', whole.subarray(0, Math.floor(whole.length / 2)))).message).toMatch(/could not be unpacked/);
    expect((await attempt('0.3.0', Buffer.from('not a tarball at all'))).message).toMatch(/could not be unpacked/);
    const flat = path.join(dir, 'flat');
    await mkdir(path.join(flat, 'dist/device'), { recursive: true });
    await writeFile(path.join(flat, 'package.json'), JSON.stringify({ version: '0.3.0' }));
    await writeFile(path.join(flat, RELEASE_MAIN), '');
    await run('tar', ['-czf', path.join(dir, 'flat.tgz'), '-C', flat, '.']);
    expect((await attempt('0.3.0', await readFile(path.join(dir, 'flat.tgz')))).message).toContain(`no ${RELEASE_TOP}/ folder at its top`);
    const other = thisPlatform() === 'linux-arm64' ? 'linux-armv7l' : 'linux-arm64';
    expect((await attempt('0.3.0', await makeRelease(dir, '0.3.0', other))).message).toContain(`built for ${other}, but this gadget is ${thisPlatform()}`);
  });

  it('sees no update when the server has the same or an older version, and says why a manifest is bad', async () => {
    expect(await new SelfUpdate({ releaseUrl: await publish('0.1.0'), releasesDir: releases, version: '0.1.0', log }).check()).toBeNull();
    files.set('/broken.json', { type: 'application/json', body: JSON.stringify({ version: 'latest', url: 'x', sha256: '' }) });
    await expect(new SelfUpdate({ releaseUrl: `${base}/broken.json`, releasesDir: releases, version: '0.1.0', log }).check()).rejects.toThrow(
      'no valid "version"',
    );
    await expect(new SelfUpdate({ releaseUrl: `${base}/missing.json`, releasesDir: releases, version: '0.1.0', log }).check()).rejects.toThrow('answered 404');
    expect(compareVersions('0.10.0', '0.9.9')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0-rc.1', '1.0.0')).toBeLessThan(0);
    expect(installedVersion()).toBe(JSON.parse(await readFile('package.json', 'utf8')).version);
  });

  it('the menu entry shows the version, checks on a press, installs on the next and restarts', async () => {
    const update = new SelfUpdate({ releaseUrl: await publish('0.2.0'), releasesDir: releases, version: '0.1.0', log });
    let restarts = 0;
    const entry = update.menuEntry(() => restarts++);
    const state = {} as never;
    let redraws = 0;
    const host = { invalidate: () => redraws++ } as never;
    expect(entry.label(state)).toBe('Version 0.1.0');
    expect(entry.detail?.(state)).toBe('Press to check for an update');
    entry.run?.(host);
    await waitUntil(() => update.status.kind === 'available', 'the check');
    expect(entry.detail?.(state)).toBe('Press to install 0.2.0');
    entry.run?.(host);
    await waitUntil(() => restarts === 1, 'the restart after the install');
    expect(entry.detail?.(state)).toBe('Restarting into 0.2.0…');
    expect(await readlink(path.join(releases, 'current'))).toBe('0.2.0');
    expect(redraws).toBeGreaterThanOrEqual(4);
  });

  it('falls back to the previous release when the new one does not reach READY, and keeps a confirmed one', async () => {
    const first = new SelfUpdate({ releaseUrl: await publish('0.2.0'), releasesDir: releases, version: '0.1.0', log });
    await first.install((await first.check())!);
    await launch();
    expect(await confirmRelease(releases, '0.2.0')).toBe(true); // 0.2.0 reached READY
    expect(await launch()).toMatch(/^release 0\.2\.0/);

    const second = new SelfUpdate({ releaseUrl: await publish('0.3.0'), releasesDir: releases, version: '0.2.0', log });
    await second.install((await second.check())!);
    expect(await readFile(path.join(releases, 'update.state'), 'utf8')).toBe('candidate=0.3.0\nprevious=0.2.0\nattempts=0\n');
    // 0.3.0 starts twice and never confirms (it crashed, or systemd's start timeout killed it).
    expect(await launch()).toMatch(/^release 0\.3\.0/);
    expect(await launch()).toMatch(/^release 0\.3\.0/);
    expect(await confirmRelease(releases, '0.2.0')).toBe(false);
    expect(await launch()).toMatch(/^release 0\.2\.0/);
    expect(await readlink(path.join(releases, 'current'))).toBe('0.2.0');
    expect((await readFile(path.join(releases, 'rolled-back'), 'utf8')).trim()).toBe('0.3.0');
    expect(await launch()).toMatch(/^release 0\.2\.0/);
  });
});
