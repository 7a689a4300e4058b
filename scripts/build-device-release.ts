/**
 * Builds the gadget's release artefact: the compiled device and protocol (no cloud/,
 * no TypeScript), the fonts, the unit and the installer, and a package.json naming only
 * what the device imports at run time, pinned to the versions this checkout uses, with
 * its package-lock.json. The Pi installs it with `npm ci --omit=dev`: no compiler, no
 * relay-only module, nothing under /home.
 *
 *   npx tsx scripts/build-device-release.ts [--out DIR] [--no-lock]
 *
 * Writes DIR/leeloo-device/ (default DIR: release/) and DIR/leeloo-device-VERSION.tgz;
 * prints the tarball's path and size last. --no-lock skips the registry lookup that
 * writes package-lock.json (tests of the installer's plan only).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '..');
/** The lowest Node the gadget supports: 22 on armv7l (to 2027-04), 24 on arm64. The installer reads it from here. */
export const DEVICE_NODE_ENGINES = '>=22.12';
/** Loaded by a computed name (optional addons that build on Linux only, for the spi driver), so no import names them. */
const OPTIONAL_ADDONS = ['onoff', 'spi-device'];
/** Packages of the device's tree whose install scripts may run (node-gyp builds of the addons). */
const ADDON_BUILDS = ['spi-device', 'epoll'];

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
}

/** Compiles device/ and protocol/ alone into `outDir`. */
async function compile(outDir: string, work: string): Promise<void> {
  const config = path.join(work, 'tsconfig.release.json');
  const tsconfig = {
    extends: path.join(REPO, 'tsconfig.json'),
    compilerOptions: { noEmit: false, outDir, rootDir: REPO, sourceMap: false, declaration: false, typeRoots: [path.join(REPO, 'node_modules/@types')] },
    include: [path.join(REPO, 'device'), path.join(REPO, 'protocol')],
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

async function main(): Promise<void> {
  const outRoot = path.resolve(option('--out') ?? path.join(REPO, 'release'));
  const release = path.join(outRoot, 'leeloo-device');
  const root = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    allowScripts?: Record<string, boolean>;
  };
  const work = await mkdtemp(path.join(tmpdir(), 'leeloo-release-'));
  try {
    await compile(path.join(work, 'out'), work);
    await rm(release, { recursive: true, force: true });
    await mkdir(path.join(release, 'dist'), { recursive: true });
    for (const part of ['device', 'protocol']) await cp(path.join(work, 'out', part), path.join(release, 'dist', part), { recursive: true });
    await cp(path.join(REPO, 'device/fonts'), path.join(release, 'dist/device/fonts'), { recursive: true });
    for (const file of ['systemd/leeloo-device.service', 'scripts/install-pi.sh', 'scripts/leeloo-launch.sh', 'docs/HARDWARE.md', 'device/device.example.json', 'device/device.schema.json']) {
      await cp(path.join(REPO, file), path.join(release, file));
    }
    const imported = await importedPackages(path.join(release, 'dist'));
    const unknown = imported.filter((name) => !(name in root.dependencies));
    if (unknown.length > 0) throw new Error(`The device imports ${unknown.join(', ')}, which package.json does not list as a dependency.`);
    const dependencies = Object.fromEntries(await Promise.all(imported.map(async (name) => [name, await installedVersion(name)])));
    const optionalDependencies = Object.fromEntries(OPTIONAL_ADDONS.map((name) => [name, root.optionalDependencies?.[name] ?? '*']));
    const allowScripts = Object.fromEntries(ADDON_BUILDS.map((name) => [name, true]));
    const pkg = {
      name: 'leeloo-device',
      version: root.version,
      private: true,
      type: 'module',
      description: 'The LEELOO gadget daemon, prebuilt: npm ci --omit=dev, then node dist/device/main.js.',
      engines: { node: DEVICE_NODE_ENGINES },
      dependencies,
      optionalDependencies,
      allowScripts,
      scripts: { device: 'node dist/device/main.js' },
    };
    await writeFile(path.join(release, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    if (!process.argv.includes('--no-lock')) {
      execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: release, stdio: 'inherit' });
    }
    // The installer compares this to what /opt/leeloo holds: same hash, nothing to do.
    const hash = createHash('sha256');
    for (const file of await filesUnder(release)) hash.update(path.relative(release, file)).update('\0').update(await readFile(file));
    await writeFile(path.join(release, 'RELEASE'), `leeloo-device ${root.version} ${hash.digest('hex')}\n`);
    const tarball = path.join(outRoot, `leeloo-device-${root.version}.tgz`);
    execFileSync('tar', ['-czf', tarball, '-C', outRoot, 'leeloo-device']);
    const { size } = await stat(tarball);
    process.stdout.write(`device runtime dependencies: ${Object.entries(dependencies).map(([n, v]) => `${n}@${v}`).join(', ')}\n`);
    process.stdout.write(`release: ${tarball} (${(size / 1e6).toFixed(1)} MB), unpacked in ${release}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
