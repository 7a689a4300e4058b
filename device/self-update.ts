import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, readlink, rename, rm, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { ERROR_CODES } from '../protocol/index.js';
import { syncDirectory, writeFileAtomic } from './atomic-file.js';
import { PLATFORM_FILE, RELEASE_FILE, RELEASE_MAIN, RELEASE_TOP, thisPlatform } from './release-layout.js';
import type { MenuEntry, ScreenHost } from './screens/screen.js';

/**
 * Self-update. On disk (releasesDir, /opt/leeloo/releases on a Pi):
 *
 *   <version>/          one unpacked release each: the leeloo-device/ folder of a release
 *                       tarball (device/release-layout.ts: package.json, dist/, node_modules/)
 *   current -> <version> the release the service runs, switched by an atomic rename
 *   update.state        while a new release has not yet reached READY: candidate, previous, attempts
 *   rolled-back         the version the launcher gave up on, for the menu to say so
 *
 * The service starts through scripts/leeloo-launch.sh, which counts the starts of an
 * unconfirmed candidate and, after two that did not reach READY, points `current` back at
 * the previous release. The daemon confirms its own version once it is READY.
 */

export interface ReleaseManifest {
  readonly version: string;
  /** The release tarball (scripts/build-device-release.ts) for this board's CPU: leeloo-device/ at its top. */
  readonly url: string;
  /** Hex SHA-256 of the tarball. */
  readonly sha256: string;
}

export class UpdateError extends Error {
  readonly code = 'update_failed';
  constructor(message: string = ERROR_CODES.update_failed) {
    super(message);
    this.name = 'UpdateError';
  }
}

const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?$/;
const MAX_TARBALL_BYTES = 300 * 1024 * 1024;
export const STATE_FILE = 'update.state';
export const ROLLED_BACK_FILE = 'rolled-back';

/** Negative when a is older than b; pre-releases sort before their release. */
export function compareVersions(a: string, b: string): number {
  const [coreA = '', preA] = a.split('-', 2);
  const [coreB = '', preB] = b.split('-', 2);
  const partsA = coreA.split('.').map(Number);
  const partsB = coreB.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const diff = (partsA[i] ?? 0) - (partsB[i] ?? 0);
    if (diff !== 0) return diff;
  }
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  return preA < preB ? -1 : 1;
}

/** The version in the package.json of the running app (found upwards from this file: device/ under tsx, dist/device/ when built). */
export function installedVersion(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) return String((JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version ?? '0.0.0');
    if (path.dirname(dir) === dir) return '0.0.0';
  }
}

export function parseManifest(raw: unknown): ReleaseManifest {
  const m = raw as Partial<Record<keyof ReleaseManifest, unknown>> | null;
  if (!m || typeof m !== 'object') throw new UpdateError('The release manifest is not a JSON object.');
  if (typeof m.version !== 'string' || !VERSION.test(m.version)) throw new UpdateError('The release manifest has no valid "version" (like 1.2.3).');
  if (typeof m.url !== 'string' || !/^https?:\/\//.test(m.url)) throw new UpdateError('The release manifest has no http(s) "url" of the tarball.');
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(m.sha256)) throw new UpdateError('The release manifest has no "sha256" (64 hex digits).');
  return { version: m.version, url: m.url, sha256: m.sha256.toLowerCase() };
}

export interface SelfUpdateOptions {
  readonly releaseUrl: string | null;
  readonly releasesDir: string;
  readonly version: string;
  readonly log: Logger;
  readonly timeoutMs?: number;
  /** The "linux-ARCH" a release must be built for (default: this machine's). */
  readonly platform?: string;
}

type UpdateStatus =
  | { kind: 'idle' }
  | { kind: 'checking' }
  | { kind: 'latest' }
  | { kind: 'available'; manifest: ReleaseManifest }
  | { kind: 'installing'; version: string }
  | { kind: 'installed'; version: string }
  | { kind: 'failed'; message: string };

export class SelfUpdate {
  status: UpdateStatus = { kind: 'idle' };

  constructor(private readonly options: SelfUpdateOptions) {}

  /** The newest release if it is newer than the one running, else null. */
  async check(): Promise<ReleaseManifest | null> {
    if (!this.options.releaseUrl) throw new UpdateError('No release URL is configured (update.releaseUrl).');
    const res = await this.fetch(this.options.releaseUrl);
    const manifest = parseManifest(await res.json().catch(() => null));
    return compareVersions(manifest.version, this.options.version) > 0 ? manifest : null;
  }

  /** Downloads, checks the SHA-256, unpacks beside the others and switches `current`; the caller restarts the daemon. */
  async install(manifest: ReleaseManifest): Promise<void> {
    const dir = this.options.releasesDir;
    await mkdir(dir, { recursive: true });
    const tarball = path.join(dir, `.download-${randomBytes(6).toString('hex')}.tar.gz`);
    const unpacked = path.join(dir, `.unpack-${manifest.version}-${randomBytes(6).toString('hex')}`);
    try {
      const digest = await this.download(manifest.url, tarball);
      if (digest !== manifest.sha256)
        throw new UpdateError(
          `The download of ${manifest.version} does not match its checksum (sha256 ${digest.slice(0, 12)}…, expected ${manifest.sha256.slice(0, 12)}…); nothing was installed.`,
        );
      await mkdir(unpacked);
      await untar(tarball, unpacked);
      const release = path.join(unpacked, RELEASE_TOP);
      await checkRelease(release, manifest.version, this.options.platform ?? thisPlatform());
      const target = path.join(dir, manifest.version);
      const previous = await readlink(path.join(dir, 'current')).catch(() => '');
      if (previous === manifest.version) throw new UpdateError(`Release ${manifest.version} is the one running; nothing was installed.`);
      await rm(target, { recursive: true, force: true });
      await rename(release, target);
      await writeFileAtomic(path.join(dir, STATE_FILE), `candidate=${manifest.version}\nprevious=${previous}\nattempts=0\n`);
      await switchCurrent(dir, manifest.version);
      this.options.log.info({ version: manifest.version, previous }, 'release installed; restarting into it');
    } finally {
      await rm(tarball, { force: true });
      await rm(unpacked, { recursive: true, force: true });
    }
  }

  /** The long-press menu's entry: the version, and check / install on press. `restart` runs after an install. */
  menuEntry(restart: () => void): MenuEntry {
    return {
      id: 'update',
      // Before the queue entries, which the end of the menu keeps reaching by wrapping round.
      order: 45,
      label: () => `Version ${this.options.version}`,
      detail: () => this.describe(),
      run: (host) => void this.press(host, restart),
    };
  }

  private describe(): string {
    const s = this.status;
    switch (s.kind) {
      case 'idle':
        return rolledBack(this.options.releasesDir) ?? (this.options.releaseUrl ? 'Press to check for an update' : 'Updates are off');
      case 'checking':
        return 'Checking…';
      case 'latest':
        return 'This is the newest version';
      case 'available':
        return `Press to install ${s.manifest.version}`;
      case 'installing':
        return `Installing ${s.version}…`;
      case 'installed':
        return `Restarting into ${s.version}…`;
      case 'failed':
        return s.message;
    }
  }

  private async press(host: ScreenHost, restart: () => void): Promise<void> {
    const s = this.status;
    if (s.kind === 'checking' || s.kind === 'installing' || s.kind === 'installed') return;
    try {
      if (s.kind === 'available') {
        this.setStatus(host, { kind: 'installing', version: s.manifest.version });
        await this.install(s.manifest);
        this.setStatus(host, { kind: 'installed', version: s.manifest.version });
        restart();
        return;
      }
      this.setStatus(host, { kind: 'checking' });
      const manifest = await this.check();
      this.setStatus(host, manifest ? { kind: 'available', manifest } : { kind: 'latest' });
    } catch (error) {
      this.options.log.warn({ err: (error as Error).message }, 'update failed');
      this.setStatus(host, { kind: 'failed', message: error instanceof UpdateError ? error.message : `The update failed: ${(error as Error).message}` });
    }
  }

  private setStatus(host: ScreenHost, status: UpdateStatus): void {
    this.status = status;
    host.invalidate();
  }

  private async fetch(url: string): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000) });
    } catch (error) {
      throw new UpdateError(`The release server did not answer (${(error as Error).message}); try again later.`);
    }
    if (!res.ok) throw new UpdateError(`The release server answered ${res.status} for ${url}.`);
    return res;
  }

  private async download(url: string, file: string): Promise<string> {
    const res = await this.fetch(url);
    if (!res.body) throw new UpdateError('The release server sent no tarball.');
    const hash = createHash('sha256');
    const handle = await open(file, 'w', 0o640);
    let size = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > MAX_TARBALL_BYTES) throw new UpdateError('The release tarball is larger than a gadget accepts.');
        hash.update(chunk);
        await handle.write(chunk);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    return hash.digest('hex');
  }
}

/** After READY: the running release is good, the launcher must not roll it back. */
export async function confirmRelease(releasesDir: string, version: string): Promise<boolean> {
  const state = await readFile(path.join(releasesDir, STATE_FILE), 'utf8').catch(() => null);
  if (state === null || !state.split('\n').includes(`candidate=${version}`)) return false;
  await unlink(path.join(releasesDir, STATE_FILE));
  await rm(path.join(releasesDir, ROLLED_BACK_FILE), { force: true });
  return true;
}

function rolledBack(releasesDir: string): string | null {
  try {
    const version = readFileSync(path.join(releasesDir, ROLLED_BACK_FILE), 'utf8').trim();
    return version ? `${version} did not start; kept this one` : null;
  } catch {
    return null;
  }
}

/** Points `current` at a release in one rename, so the service never sees a missing link. */
async function switchCurrent(dir: string, version: string): Promise<void> {
  const temp = path.join(dir, `.current-${randomBytes(6).toString('hex')}`);
  await symlink(version, temp);
  await rename(temp, path.join(dir, 'current'));
  await syncDirectory(dir);
}

function untar(tarball: string, into: string): Promise<void> {
  // GNU tar refuses members with ".." and strips leading "/", so nothing lands outside `into`.
  return new Promise((resolve, reject) => {
    execFile('tar', ['-xzf', tarball, '-C', into, '--no-same-owner', '--no-same-permissions'], { timeout: 300_000 }, (error, _stdout, stderr) =>
      error ? reject(new UpdateError(`The release tarball could not be unpacked: ${String(stderr).trim() || error.message}.`)) : resolve(),
    );
  });
}

/** The unpacked leeloo-device/ folder is the whole release `version`, built for `platform`. */
async function checkRelease(dir: string, version: string, platform: string): Promise<void> {
  if (!existsSync(dir)) throw new UpdateError(`The tarball has no ${RELEASE_TOP}/ folder at its top, so it is not a device release; nothing was installed.`);
  const pkg = await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => null);
  let found: unknown = null;
  try {
    found = pkg === null ? null : (JSON.parse(pkg) as { version?: unknown }).version;
  } catch {
    throw new UpdateError(`The package.json of release ${version} is not JSON; nothing was installed.`);
  }
  if (found !== version) throw new UpdateError(`The tarball is not release ${version} (its package.json says ${String(found)}).`);
  if (!existsSync(path.join(dir, RELEASE_MAIN))) throw new UpdateError(`Release ${version} has no ${RELEASE_MAIN}.`);
  const built = (await readFile(path.join(dir, PLATFORM_FILE), 'utf8').catch(() => '')).trim();
  if (built !== platform)
    throw new UpdateError(`Release ${version} is built for ${built || 'no platform'}, but this gadget is ${platform}; nothing was installed.`);
  // RELEASE is the build's last file: without it the release is incomplete.
  const stamp = (await readFile(path.join(dir, RELEASE_FILE), 'utf8').catch(() => '')).split(' ');
  if (stamp[0] !== RELEASE_TOP || stamp[1] !== version)
    throw new UpdateError(`Release ${version} has no ${RELEASE_FILE} stamp for ${version}, so it is incomplete; nothing was installed.`);
}
