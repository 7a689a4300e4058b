/**
 * A Pi's file system in a temporary folder, for running scripts/install-pi.sh for real
 * (not --dry-run) on this machine: LEELOO_ROOT points every system path into it, and the
 * commands that would change this machine itself (systemctl, useradd, groupadd, usermod,
 * modprobe) are shims on PATH that record their arguments and succeed, as they do on a Pi
 * run with sudo. Everything else (cp, chmod, node, g++) is the real thing.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PiRoot {
  root: string;
  /** The folder holding the command shims (prepend to PATH). */
  bin: string;
  /** A node that says it is Node 24 and runs this machine's node (the release wants >= 22.12). */
  node: string;
  /** The commands the shims were asked to run, one line each. */
  systemCalls(): Promise<string[]>;
}

const SHIMMED = ['systemctl', 'useradd', 'groupadd', 'usermod', 'modprobe'];

export async function makePiRoot(): Promise<PiRoot> {
  const root = await mkdtemp(join(tmpdir(), 'leeloo-pi-root-'));
  const bin = join(root, 'shims');
  await mkdir(bin, { recursive: true });
  await mkdir(join(root, 'boot/firmware'), { recursive: true });
  await writeFile(join(root, 'boot/firmware/config.txt'), 'dtparam=spi=on\ndtoverlay=piscreen,drm\n');
  await writeFile(join(root, 'boot/firmware/cmdline.txt'), 'console=serial0,115200 rootwait fbcon=map:0\n');
  const log = join(root, 'system-calls.log');
  for (const name of SHIMMED) {
    await writeFile(join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${log}\n[ "$1" = "is-enabled" ] && exit 1\nexit 0\n`);
    await chmod(join(bin, name), 0o755);
  }
  // Official Node builds keep node-gyp beside npm: <prefix>/lib/node_modules/npm/…
  const prefix = join(root, 'usr/local');
  await mkdir(join(prefix, 'bin'), { recursive: true });
  const node = join(prefix, 'bin/node');
  await writeFile(node, `#!/bin/sh\nif [ "$1" = "-v" ]; then echo v24.3.0; else exec ${process.execPath} "$@"; fi\n`);
  await chmod(node, 0o755);
  return {
    root,
    bin,
    node,
    systemCalls: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean),
  };
}

export interface InstallRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the release's installer for real into `pi`. */
export function runInstaller(release: string, pi: PiRoot, args: string[], env: Record<string, string> = {}): Promise<InstallRun> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [join(release, 'scripts/install-pi.sh'), ...args],
      {
        timeout: 120_000,
        env: {
          ...process.env,
          PATH: `${pi.bin}:${process.env.PATH ?? ''}`,
          LEELOO_ROOT: pi.root,
          LEELOO_USER: 'leeloo-test-nobody',
          LEELOO_ARCH: 'x86_64',
          LEELOO_NODE: pi.node,
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
