/**
 * Builds the gadget's release artefacts, one per board CPU: the compiled device,
 * protocol and shared Spotify client (no cloud/, no TypeScript), the fonts, the unit and the installer, a
 * package.json naming only what the device imports at run time (pinned to the versions
 * this checkout uses) with its package-lock.json, and node_modules/ already installed
 * for that CPU (`npm ci --omit=dev --ignore-scripts --cpu=…`: the JavaScript packages
 * and @napi-rs/canvas's prebuilt binary for the board). The Pi runs no npm at all: the
 * installer copies the release, so its peak memory is a copy's. The spi driver's two
 * small addons are cross-compiled here for the board's CPU and Node line
 * (scripts/device-addons.ts), so the Pi compiles nothing either; that needs Debian's
 * cross compilers: sudo apt-get install -y g++-arm-linux-gnueabihf g++-aarch64-linux-gnu.
 *
 *   npx tsx scripts/build-device-release.ts [--out DIR] [--arch armv7l|arm64|x64]... [--no-lock]
 *
 * For each --arch (default: armv7l and arm64, the Pi's two) writes
 * DIR/linux-ARCH/leeloo-device/ (default DIR: release/) and
 * DIR/leeloo-device-VERSION-linux-ARCH.tgz (the layout of device/release-layout.ts, which
 * the installer and the self-update read); prints the tarballs' paths and sizes last.
 * --no-lock skips the registry (no package-lock.json, no node_modules/): for tests of
 * the installer's plan only.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PLATFORM_FILE, RELEASE_FILE, RELEASE_TOP, releaseTarballName } from '../device/release-layout.js';
import { buildAddons, nodeTargets } from './device-addons.js';

const REPO = path.resolve(import.meta.dirname, '..');
/** The lowest Node the gadget supports: 22 on armv7l (to 2027-04), 24 on arm64. The installer reads it from here. */
export const DEVICE_NODE_ENGINES = '>=22.12';
/** Loaded by a computed name (optional addons that build on Linux only, for the spi driver), so no import names them. */
const OPTIONAL_ADDONS = ['onoff', 'spi-device'];

/** The board CPUs a release is built for (`uname -m` on Pi OS), and npm's name for each. */
const NPM_CPU: Record<string, string> = { armv7l: 'arm', arm64: 'arm64', x64: 'x64' };

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function options(name: string): string[] {
  return process.argv.flatMap((arg, i) => (arg === name && process.argv[i + 1] ? [process.argv[i + 1]!] : []));
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** What the gadget runs, compiled: the relay (cloud/) is not part of it. */
const DEVICE_PARTS = ['device', 'protocol', 'spotify'];

/** Compiles DEVICE_PARTS alone into `outDir`. */
async function compile(outDir: string, work: string): Promise<void> {
  const config = path.join(work, 'tsconfig.release.json');
  const tsconfig = {
    extends: path.join(REPO, 'tsconfig.json'),
    compilerOptions: { noEmit: false, outDir, rootDir: REPO, sourceMap: false, declaration: false, typeRoots: [path.join(REPO, 'node_modules/@types')] },
    include: DEVICE_PARTS.map((part) => path.join(REPO, part)),
  };
  await writeFile(config, JSON.stringify(tsconfig));
  execFileSync(path.join(REPO, 'node_modules/.bin/tsc'), ['-p', config], { stdio: 'inherit' });
}

/** Bare package names the compiled JS imports. */
async function importedPackages(dir: string): Promise<string[]> {
  const names = new Set<string>();
  const builtins = new Set(builtinModules);
  for (const file of (await filesUnder(dir)).filter((f) => f.endsWith('.js'))) {
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)(?:\/[^'"]*)?['"]/g)) {
      const spec = match[1]!;
      if (spec.startsWith('node:') || builtins.has(spec)) continue;
      names.add(spec);
    }
  }
  return [...names].sort();
}

async function installedVersion(name: string): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

interface RootPackage {
  version: string;
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** dist/, the files the Pi needs beside it, and the release's package.json, into `release`. */
async function assemble(release: string, compiled: string, root: RootPackage): Promise<string[]> {
  await rm(release, { recursive: true, force: true });
  await mkdir(path.join(release, 'dist'), { recursive: true });
  for (const part of DEVICE_PARTS) await cp(path.join(compiled, part), path.join(release, 'dist', part), { recursive: true });
  await cp(path.join(REPO, 'device/fonts'), path.join(release, 'dist/device/fonts'), { recursive: true });
  for (const file of [
    'systemd/leeloo-device.service',
    'scripts/install-pi.sh',
    'scripts/leeloo-launch.sh',
    'docs/HARDWARE.md',
    'device/device.example.json',
    'device/device.schema.json',
  ]) {
    await cp(path.join(REPO, file), path.join(release, file));
  }
  const imported = await importedPackages(path.join(release, 'dist'));
  const unknown = imported.filter((name) => !(name in root.dependencies));
  if (unknown.length > 0) throw new Error(`The device imports ${unknown.join(', ')}, which package.json does not list as a dependency.`);
  const dependencies = Object.fromEntries(await Promise.all(imported.map(async (name) => [name, await installedVersion(name)])));
  const optionalDependencies = Object.fromEntries(OPTIONAL_ADDONS.map((name) => [name, root.optionalDependencies?.[name] ?? '*']));
  const pkg = {
    name: RELEASE_TOP,
    version: root.version,
    private: true,
    type: 'module',
    description: 'The LEELOO gadget daemon, prebuilt with its node_modules for one board CPU: node dist/device/main.js.',
    engines: { node: DEVICE_NODE_ENGINES },
    dependencies,
    optionalDependencies,
    scripts: { device: 'node dist/device/main.js' },
  };
  await writeFile(path.join(release, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  return Object.entries(dependencies).map(([n, v]) => `${n}@${v}`);
}

/**
 * The lock (with each package's tarball URL, so no install has to fetch packuments) and
 * node_modules/ for `arch`: npm picks the optional platform packages by --cpu, runs no
 * install script (the addons are built afterwards, for the board, by buildAddons).
 */
function installModules(release: string, arch: string): void {
  const npm = (args: string[]) =>
    execFileSync('npm', [...args, '--no-audit', '--no-fund', '--omit-lockfile-registry-resolved=false'], { cwd: release, stdio: 'inherit' });
  npm(['install', '--package-lock-only', '--ignore-scripts']);
  npm(['ci', '--omit=dev', '--ignore-scripts', '--os=linux', `--cpu=${NPM_CPU[arch]}`, '--libc=glibc']);
}

async function main(): Promise<void> {
  const outRoot = path.resolve(option('--out') ?? path.join(REPO, 'release'));
  const arches = options('--arch');
  if (arches.length === 0) arches.push('armv7l', 'arm64');
  const bad = arches.filter((arch) => !(arch in NPM_CPU));
  if (bad.length > 0) throw new Error(`--arch ${bad.join(', ')}: a release is built for ${Object.keys(NPM_CPU).join(', ')}.`);
  const root = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as RootPackage;
  const work = await mkdtemp(path.join(tmpdir(), 'leeloo-release-'));
  const nodeLines = await nodeTargets();
  const built: string[] = [];
  try {
    await compile(path.join(work, 'out'), work);
    for (const arch of arches) {
      const platform = `linux-${arch}`;
      const release = path.join(outRoot, platform, RELEASE_TOP);
      const dependencies = await assemble(release, path.join(work, 'out'), root);
      await writeFile(path.join(release, PLATFORM_FILE), `${platform}\n`);
      if (!process.argv.includes('--no-lock')) {
        installModules(release, arch);
        const major = nodeLines[arch];
        if (!major) throw new Error(`scripts/install-pi.sh's node_target names no Node line for ${arch}.`);
        process.stdout.write(`${await buildAddons(release, arch, major)}\n`);
      }
      // The installer compares this to what /opt/leeloo holds: same hash, nothing to do.
      const hash = createHash('sha256');
      for (const file of await filesUnder(release))
        hash
          .update(path.relative(release, file))
          .update('\0')
          .update(await readFile(file));
      await writeFile(path.join(release, RELEASE_FILE), `${RELEASE_TOP} ${root.version} ${hash.digest('hex')} ${platform}\n`);
      const tarball = path.join(outRoot, releaseTarballName(root.version, platform));
      execFileSync('tar', ['-czf', tarball, '-C', path.dirname(release), RELEASE_TOP]);
      const { size } = await stat(tarball);
      process.stdout.write(`device runtime dependencies (${platform}): ${dependencies.join(', ')}\n`);
      built.push(`${tarball} (${(size / 1e6).toFixed(1)} MB), unpacked in ${release}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  process.stdout.write(`release: ${built.join('; ')}\n`);
}

await main();
