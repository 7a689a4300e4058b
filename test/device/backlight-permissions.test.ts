import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SysfsTree } from '../fakes/sysfs-tree.js';

/**
 * The daemon runs as the leeloo user, and sysfs attributes are root-owned 0644 unless a
 * udev rule says otherwise. The tests run as root, which the kernel lets write anything,
 * so the display starts in a child process under an unprivileged uid (setpriv): the
 * kernel itself refuses the writes, exactly as on the Pi.
 */
const NOBODY = 65534;
const VIDEO = 44;
const canDropPrivileges = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');

const PROBE = `
import { createFbDisplay } from './device/fb-display.js';
const warnings = [];
const display = createFbDisplay(JSON.parse(process.env.FB_CONFIG), { sysfsRoot: process.env.SYSFS, warn: (s) => warnings.push(s) });
try {
  await display.start();
  await display.setBacklight(false);
  await display.setBacklight(true);
  await display.stop();
  console.log(JSON.stringify({ started: true, warnings }));
} catch (error) {
  console.log(JSON.stringify({ started: false, code: error.code, message: error.message, warnings }));
}
`;

let tree: SysfsTree;
let device: string;

beforeEach(async () => {
  tree = await SysfsTree.create();
  await chmod(tree.root, 0o755);
  device = await tree.framebuffer(1, { name: 'fb_ili9486', width: 480, height: 320, bpp: 16 });
  // /dev/fb1 is root:video 0660 on Pi OS.
  await chown(device, 0, VIDEO);
  await chmod(device, 0o660);
});

afterEach(async () => {
  await tree.remove();
});

function startAsDaemonUser(backlight: Record<string, unknown>): Promise<{ started: boolean; code?: string; message?: string; warnings: string[] }> {
  const fb = { device, backlight: { kind: 'auto', pin: null, activeHigh: true, name: null, ...backlight } };
  return new Promise((done, fail) => {
    execFile(
      'setpriv',
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, `--groups=${VIDEO}`, 'node', '--import', 'tsx', '--input-type=module', '-e', PROBE],
      { cwd: resolve('.'), env: { ...process.env, FB_CONFIG: JSON.stringify(fb), SYSFS: tree.sys }, timeout: 30_000 },
      (error, stdout, stderr) => (error ? fail(new Error(`${error.message}\n${stderr}`)) : done(JSON.parse(stdout.trim().split('\n').at(-1)!))),
    );
  });
}

describe.skipIf(!canDropPrivileges)('backlight control as the daemon user', () => {
  it('starts with a root-only brightness, warns, and leaves it alone', async () => {
    const dir = await tree.backlight('soc:backlight', { max: 255, blPower: false });
    const result = await startAsDaemonUser({ kind: 'auto' });
    expect(result.started).toBe(true);
    expect(result.warnings).toEqual([expect.stringContaining('not writable by this user')]);
    expect(await readFile(join(dir, 'brightness'), 'utf8')).toBe('255\n');
  });

  it('switches a brightness the udev rule gave to group video', async () => {
    const dir = await tree.backlight('soc:backlight', { max: 255, blPower: false });
    await chown(join(dir, 'brightness'), 0, VIDEO);
    await chmod(join(dir, 'brightness'), 0o664);
    const result = await startAsDaemonUser({ kind: 'auto' });
    expect(result).toEqual({ started: true, warnings: [] });
    // Off then on: the last write is max_brightness.
    expect(await readFile(join(dir, 'brightness'), 'utf8')).toBe('255');
  });

  it('starts when fb-blank is asked for but blank is root-only', async () => {
    const result = await startAsDaemonUser({ kind: 'fb-blank' });
    expect(result.started).toBe(true);
    expect(result.warnings).toEqual([expect.stringMatching(/blank is not writable by this user/)]);
    expect(await readFile(join(tree.sys, 'class/graphics/fb1/blank'), 'utf8')).toBe('0\n');
  });

  it('still refuses a framebuffer the user may not open, with the group to check', async () => {
    await chmod(device, 0o600);
    const result = await startAsDaemonUser({ kind: 'none' });
    expect(result).toMatchObject({ started: false, code: 'fb_missing', message: expect.stringContaining('EACCES') });
  });
});
