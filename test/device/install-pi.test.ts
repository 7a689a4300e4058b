import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PLATFORM_FILE, RELEASE_FILE, RELEASE_MAIN, RELEASE_TOP } from '../../device/release-layout.js';

const REPO = resolve('.');
let releaseRoot: string;
let release: string;
let script: string;
let root: string;

/** The release artefact as a Pi receives it (no lock: these runs only plan). */
beforeAll(async () => {
  releaseRoot = await mkdtemp(join(tmpdir(), 'leeloo-release-test-'));
  await run('npx', ['tsx', 'scripts/build-device-release.ts', '--out', releaseRoot, '--arch', 'arm64', '--arch', 'armv7l', '--no-lock'], {
    cwd: REPO,
    timeout: 120_000,
  });
  release = join(releaseRoot, 'linux-arm64/leeloo-device');
  script = join(release, 'scripts/install-pi.sh');
}, 180_000);

afterAll(async () => {
  await rm(releaseRoot, { recursive: true, force: true });
});

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'leeloo-pi-'));
  await mkdir(join(root, 'boot/firmware'), { recursive: true });
  await writeFile(join(root, 'boot/firmware/cmdline.txt'), 'console=serial0,115200 root=PARTUUID=1234-02 rootwait\n');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<Result> {
  return new Promise((done) => {
    execFile(cmd, args, { timeout: 20_000, ...options }, (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

/** A node that says it is `version` and runs scripts with this machine's node. */
async function fakeNode(version: string, dir = join(root, 'usr/local/bin')): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'node');
  await writeFile(path, `#!/bin/sh\nif [ "$1" = "-v" ]; then echo ${version}; else exec ${process.execPath} "$@"; fi\n`);
  await chmod(path, 0o755);
  return path;
}

function install(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return run('bash', [script, ...args], {
    env: { ...process.env, LEELOO_ROOT: root, LEELOO_USER: 'leeloo-test-nobody', LEELOO_ARCH: 'aarch64', LEELOO_NODE: '/nonexistent/node', ...env },
  });
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

const plan = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('would ') && !/would run: (usermod|groupadd)/.test(l));

/** The unit the plan would write, as its lines. */
function plannedUnit(stdout: string): string {
  return stdout
    .split('would write: ')
    .find((part) => part.startsWith(`${root}/etc/systemd/system/leeloo-device.service`))!
    .split('\n')
    .slice(1)
    .filter((l) => l.startsWith('    | '))
    .map((l) => l.slice(6))
    .join('\n');
}

describe('scripts/install-pi.sh --dry-run from a device release', () => {
  it('reads the release layout the build writes and the self-update unpacks (device/release-layout.ts)', async () => {
    expect(release.endsWith(`/${RELEASE_TOP}`)).toBe(true);
    for (const file of [RELEASE_MAIN, PLATFORM_FILE, RELEASE_FILE, 'package.json', 'scripts/install-pi.sh']) expect(existsSync(join(release, file))).toBe(true);
    const installer = await readFile(script, 'utf8');
    for (const file of [RELEASE_MAIN, PLATFORM_FILE, RELEASE_FILE]) expect(installer).toContain(`$SOURCE_DIR/${file}`);
    expect(await readFile(join(release, 'scripts/leeloo-launch.sh'), 'utf8')).toContain(`$releases/current/${RELEASE_MAIN}`);
  });

  it('plans Node 24, the app in /opt/leeloo with runtime deps only, the overlays and the unit, and changes nothing', async () => {
    await writeFile(join(root, 'boot/firmware/config.txt'), 'dtparam=i2c_arm=on,spi=on\ndtoverlay=piscreen,drm,speed=16000000\n');
    const { code, stdout } = await install(['--dry-run', '--relay-url', 'wss://relay.example/ws', '--name', 'Kitchen', '--crew', 'leeloo-7kq2']);
    expect(code).toBe(0);
    const app = `${root}/opt/leeloo`;
    expect(plan(stdout)).toEqual([
      `would install: Node.js 24 (official linux-arm64 build from https://nodejs.org/dist/latest-v24.x/, SHA-256 checked) into ${app}/node`,
      `would run: mkdir -p ${app}`,
      `would run: rm -rf ${app}/dist ${app}/node_modules ${app}/RELEASE`,
      `would run: cp -R ${release}/dist ${release}/node_modules ${release}/package.json ${release}/package-lock.json ${release}/PLATFORM ${release}/systemd ${release}/docs ${app}/`,
      `would run: install -D -m 0755 ${release}/scripts/leeloo-launch.sh ${app}/scripts/leeloo-launch.sh`,
      `would run: chmod -R u=rwX,go=rX ${app}`,
      `would run: cp ${release}/RELEASE ${app}/RELEASE`,
      'would run: useradd --system --user-group --home-dir /var/lib/leeloo --no-create-home --shell /usr/sbin/nologin leeloo-test-nobody',
      `would write: ${root}/etc/leeloo/device.json (mode 0640)`,
      `would append to ${root}/boot/firmware/config.txt: dtoverlay=gpio-key,gpio=5,active_low=1,keycode=105,label=leeloo-prev`,
      `would append to ${root}/boot/firmware/config.txt: dtoverlay=gpio-key,gpio=6,active_low=1,keycode=106,label=leeloo-next`,
      `would append to ${root}/boot/firmware/config.txt: dtoverlay=gpio-key,gpio=13,active_low=1,keycode=28,label=leeloo-primary`,
      `would append to ${root}/boot/firmware/config.txt: dtoverlay=gpio-key,gpio=19,active_low=1,keycode=1,label=leeloo-secondary`,
      `would add to ${root}/boot/firmware/cmdline.txt: fbcon=map:0`,
      `would write: ${root}/etc/systemd/system/leeloo-device.service (mode 0644)`,
      'would run: systemctl daemon-reload',
      'would run: systemctl enable leeloo-device.service',
      'would run: systemctl restart leeloo-device.service',
    ]);
    expect(stdout).toContain('SPI is enabled');
    expect(stdout).toContain('"url": "wss://relay.example/ws"');
    expect(stdout).toContain('"crewCode": "LEELOO-7KQ2"');
    expect(stdout).toContain('"driver": "input"');
    expect(stdout).toContain('"name": "ili9486drmfb"');
    const unit = plannedUnit(stdout);
    expect(unit).toMatch(/^User=leeloo-test-nobody$/m);
    expect(unit).toMatch(/^Environment=LEELOO_NODE=\/opt\/leeloo\/node\/bin\/node$/m);
    expect(unit).toMatch(/^ExecStart=\/bin\/sh \/opt\/leeloo\/scripts\/leeloo-launch.sh --config \/etc\/leeloo\/device.json$/m);
    expect(unit).toMatch(/^WorkingDirectory=\/opt\/leeloo$/m);
    expect(unit).toMatch(/^ProtectHome=yes$/m);
    expect(unit).not.toMatch(/^(After|Wants)=.*network-online/m);
    expect(stdout.trim().split('\n').at(-1)).toMatch(/^install-pi: dry run: \d+ actions planned, \d+ warnings, nothing changed$/);
    expect(await listTree(root)).toEqual(['boot/firmware/cmdline.txt', 'boot/firmware/config.txt']);
  });

  it('--gift prepares setup from a phone: captive DNS, NetworkManager rights, a config that starts in setup mode', async () => {
    const { code, stdout } = await install(['--dry-run', '--no-start', '--gift']);
    expect(code).toBe(0);
    expect(stdout).toContain(`would write: ${root}/etc/NetworkManager/dnsmasq-shared.d/leeloo-captive.conf (mode 0644)\n    | address=/#/10.42.0.1`);
    expect(stdout).toContain(`would write: ${root}/etc/polkit-1/rules.d/50-leeloo-network.rules (mode 0644)`);
    expect(stdout).toMatch(/"setup": \{\n\s+\|\s+"done": false,\n\s+\|\s+"network": "nmcli"/);
  });

  it('plans Node 22 on a 32-bit armv7l board and refuses an ARMv6 one with a sentence', async () => {
    const armv7 = await install(['--dry-run'], { LEELOO_ARCH: 'armv7l', LEELOO_SOURCE: join(releaseRoot, 'linux-armv7l/leeloo-device') });
    expect(armv7.stdout).toContain('would install: Node.js 22 (official linux-armv7l build from https://nodejs.org/dist/latest-v22.x/');
    const armv6 = await install(['--dry-run'], { LEELOO_ARCH: 'armv6l' });
    expect(armv6.code).not.toBe(0);
    expect(armv6.stderr).toContain('this board is an ARMv6 (Pi 1 or Pi Zero/Zero W): current Node.js has no build for it');
  });

  it('uses a Node that meets the release engines and replaces one that does not', async () => {
    const current = await fakeNode('v22.12.0');
    const ok = await install(['--dry-run'], { LEELOO_NODE: current });
    expect(ok.stdout).not.toContain('would install: Node.js');
    expect(plannedUnit(ok.stdout)).toMatch(new RegExp(`^Environment=LEELOO_NODE=${current}$`, 'm'));
    const old = await fakeNode('v22.11.0', join(root, 'old'));
    const tooOld = await install(['--dry-run'], { LEELOO_NODE: old });
    expect(tooOld.stdout).toContain('is older than the release needs (22.12)');
    expect(tooOld.stdout).toContain('would install: Node.js 24');
    // The spi driver's prebuilt addons load in the board's one Node line (24 on arm64) only.
    const spi = await install(['--dry-run', '--display', 'spi'], { LEELOO_NODE: current });
    expect(spi.stdout).toContain("is not Node 24, which the spi driver's prebuilt addons are for");
    expect(spi.stdout).toContain('would install: Node.js 24');
  });

  it('refuses a Node or an app directory under /home, and a source checkout, with a sentence', async () => {
    const node = await install(['--dry-run'], { LEELOO_NODE: '/home/pi/.nvm/versions/node/v22.12.0/bin/node' });
    expect(node.code).not.toBe(0);
    expect(node.stderr).toContain('is under /home, which the service cannot see (ProtectHome=yes)');
    const app = await install(['--dry-run'], { LEELOO_APP_DIR: `${root}/home/pi/leeloo` });
    expect(app.code).not.toBe(0);
    expect(app.stderr).toContain('the app directory /home/pi/leeloo is under /home');
    const checkout = await install(['--dry-run'], { LEELOO_SOURCE: REPO });
    expect(checkout.code).not.toBe(0);
    expect(checkout.stderr).toContain('is not a device release (no dist/device/main.js): build one');
  });

  it.each([
    ['dtparam=spi=on\n', true],
    ['dtparam=audio=on,spi=on,i2c_arm=on # display\n', true],
    ['dtparam=spi\n', true],
    ['#dtparam=spi=on\n', false],
    ['[pi4]\ndtparam=spi=on\n[all]\n', false],
    ['[cm4]\ndtoverlay=dwc2\n[all]\ndtparam=spi=on\n', true],
    ['dtparam=spi=on\ndtparam=spi=off\n', false],
  ])('reads SPI as %j → on %s', async (text, on) => {
    await writeFile(join(root, 'boot/firmware/config.txt'), text);
    const { stdout } = await install(['--dry-run', '--no-start']);
    expect(stdout.includes('SPI is enabled')).toBe(on);
    expect(stdout.includes('config.txt: dtparam=spi=on')).toBe(!on);
  });

  it('does nothing the second time: no npm ci, no restart, no duplicate overlay', async () => {
    const boot = join(root, 'boot/firmware/config.txt');
    await writeFile(boot, 'dtparam=spi=on\ndtoverlay=piscreen,drm\n');
    const first = await install(['--dry-run']);
    // What the first real run leaves behind:
    await mkdir(join(root, 'opt/leeloo/node_modules'), { recursive: true });
    await fakeNode('v24.3.0', join(root, 'opt/leeloo/node/bin'));
    await cp(join(release, 'RELEASE'), join(root, 'opt/leeloo/RELEASE'));
    await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
    await writeFile(join(root, 'etc/systemd/system/leeloo-device.service'), `${plannedUnit(first.stdout)}\n`);
    await mkdir(join(root, 'etc/leeloo'), { recursive: true });
    await writeFile(join(root, 'etc/leeloo/device.json'), JSON.stringify({ buttons: { driver: 'input', gpio: { rotary: { a: 20, b: 21 } } } }));
    const appended = plan(first.stdout)
      .filter((l) => l.includes('config.txt: '))
      .map((l) => l.split('config.txt: ')[1]);
    await writeFile(boot, `\n[all]\n${appended.join('\n')}\n`, { flag: 'a' });
    await writeFile(join(root, 'boot/firmware/cmdline.txt'), 'console=serial0,115200 rootwait fbcon=map:0\n');
    const second = await install(['--dry-run']);
    expect(second.stdout).toContain('holds this release already');
    expect(second.stdout).toContain('leeloo-device.service is up to date');
    expect(second.stdout).toContain('nothing changed: leeloo-device keeps running');
    // Only the encoder the config now names is new.
    expect(plan(second.stdout).filter((l) => !l.includes('useradd') && !l.includes('systemctl enable'))).toEqual([
      `would append to ${boot}: dtoverlay=rotary-encoder,pin_a=20,pin_b=21,relative_axis=1`,
    ]);
  });

  it('warns that fbtft repaints everything and that a panel overlay blocks --display spi', async () => {
    await writeFile(join(root, 'boot/firmware/config.txt'), 'dtparam=spi=on\ndtoverlay=piscreen,speed=16000000,rotate=90\n');
    const fbtft = await install(['--dry-run']);
    expect(fbtft.stdout).toContain('repaints the whole screen on every change');
    expect(fbtft.stdout).toContain('"name": "fb_ili9486"');
    await writeFile(join(root, 'boot/firmware/config.txt'), 'dtparam=spi=on\ndtoverlay=waveshare35a\n');
    const spi = await install(['--dry-run', '--display', 'spi']);
    expect(spi.stdout).toContain('claims the SPI chip select');
    expect(spi.stdout).toContain(`would write: ${root}/etc/modules-load.d/leeloo.conf`);
    // The spi driver's addons come prebuilt in the release: nothing is compiled, no npm runs.
    expect(spi.stdout).not.toMatch(/node-gyp|g\+\+|build-essential|JOBS=/);
    expect(spi.stdout).not.toMatch(/\bnpm\b.* ci /);
    expect(spi.stdout).toContain('would check: the spi-device addon loads');
  });

  it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('writes a unit systemd-analyze verify accepts', async () => {
    const node = await fakeNode('v24.1.0', '/tmp/leeloo-verify-node');
    const { stdout } = await install(['--dry-run'], { LEELOO_NODE: node });
    const dir = await mkdtemp(join(tmpdir(), 'leeloo-unit-'));
    await writeFile(join(dir, 'leeloo-device.service'), `${plannedUnit(stdout)}\n`);
    const verify = await run('systemd-analyze', ['verify', join(dir, 'leeloo-device.service')]);
    await rm(dir, { recursive: true, force: true });
    await rm('/tmp/leeloo-verify-node', { recursive: true, force: true });
    expect(verify.stderr.split('\n').filter((l) => l.includes('leeloo-device.service'))).toEqual([]);
    expect(verify.code).toBe(0);
  });

  it.each([
    [['--display', 'hdmi'], '--display must be fb, spi or sim'],
    [['--crew', 'LEELOO-0000'], '--crew must look like LEELOO-XXXX'],
    [['--relay-url', 'http://x'], '--relay-url must be a ws:// or wss:// URL'],
    [['--fb', '/dev/sda'], '--fb must look like /dev/fb1'],
    [['--bogus'], 'unknown option --bogus'],
  ])('rejects %j with a sentence', async (args, sentence) => {
    const { code, stderr } = await install(['--dry-run', ...args]);
    expect(code).not.toBe(0);
    expect(stderr).toContain(sentence);
  });
});
