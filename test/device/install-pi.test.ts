import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve('scripts/install-pi.sh');
const APP_DIR = resolve('.');

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'leeloo-pi-'));
  await mkdir(join(root, 'boot/firmware'), { recursive: true });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function install(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((done) => {
    execFile(
      'bash',
      [SCRIPT, ...args],
      { env: { ...process.env, LEELOO_ROOT: root, LEELOO_APP_DIR: APP_DIR, LEELOO_USER: 'leeloo-test-nobody', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

describe('scripts/install-pi.sh --dry-run', () => {
  it('prints the whole plan in order and changes nothing', async () => {
    await writeFile(join(root, 'boot/firmware/config.txt'), 'dtparam=spi=on\ndtoverlay=piscreen,speed=16000000,rotate=90\n');
    const { code, stdout } = await install(['--dry-run', '--relay-url', 'wss://relay.example/ws', '--name', 'Kitchen', '--crew', 'leeloo-7kq2']);
    expect(code).toBe(0);
    const plan = stdout.split('\n').filter((l) => l.startsWith('would '));
    expect(plan).toEqual([
      `would run: npm --prefix ${APP_DIR} ci --no-audit --no-fund`,
      `would run: npm --prefix ${APP_DIR} run build`,
      'would check: the onoff addon loads',
      'would check: the spi-device addon loads',
      'would run: useradd --system --user-group --home-dir /var/lib/leeloo --no-create-home --shell /usr/sbin/nologin leeloo-test-nobody',
      ...plan.filter((l) => l.startsWith('would run: usermod')),
      `would write: ${root}/etc/leeloo/device.json (mode 0640)`,
      `would append to ${root}/boot/firmware/config.txt: gpio=5,6,13,19=ip,pu`,
      `would write: ${root}/etc/systemd/system/leeloo-device.service (mode 0644)`,
      'would run: systemctl daemon-reload',
      'would run: systemctl enable leeloo-device.service',
      'would run: systemctl restart leeloo-device.service',
    ]);
    expect(stdout).toContain('SPI is enabled');
    expect(stdout).toContain('"url": "wss://relay.example/ws"');
    expect(stdout).toContain('"crewCode": "LEELOO-7KQ2"');
    expect(stdout).toMatch(/\| User=leeloo-test-nobody\n/);
    expect(stdout).toContain(`| Environment=LEELOO_NODE=${process.execPath.replace(/\/[^/]+$/, '')}`);
    expect(stdout).toContain(`| ExecStart=/bin/sh ${APP_DIR}/scripts/leeloo-launch.sh --config /etc/leeloo/device.json`);
    expect(stdout.trim().split('\n').at(-1)).toMatch(/^install-pi: dry run: \d+ actions planned, \d+ warnings, nothing changed$/);
    expect(await listTree(root)).toEqual(['boot/firmware/config.txt']);
  });

  it('--gift prepares setup from a phone: captive DNS, NetworkManager rights, a config that starts in setup mode', async () => {
    const { code, stdout } = await install(['--dry-run', '--no-start', '--gift']);
    expect(code).toBe(0);
    expect(stdout).toContain(`would write: ${root}/etc/NetworkManager/dnsmasq-shared.d/leeloo-captive.conf (mode 0644)\n    | address=/#/10.42.0.1`);
    expect(stdout).toContain(`would write: ${root}/etc/polkit-1/rules.d/50-leeloo-network.rules (mode 0644)`);
    expect(stdout).toMatch(/"setup": \{\n\s+\|\s+"done": false,\n\s+\|\s+"network": "nmcli"/);
  });

  it('keeps an existing config and warns that SPI is off, with the fix', async () => {
    await writeFile(join(root, 'boot/config.txt'), '#dtparam=spi=on\n');
    await mkdir(join(root, 'etc/leeloo'), { recursive: true });
    await writeFile(join(root, 'etc/leeloo/device.json'), '{"device":{"name":"Mine"}}');
    await rm(join(root, 'boot/firmware'), { recursive: true });
    const { code, stdout } = await install(['--dry-run', '--no-start']);
    expect(code).toBe(0);
    expect(stdout).toContain(`keeping the existing config ${root}/etc/leeloo/device.json`);
    expect(stdout).not.toContain('would write: ' + `${root}/etc/leeloo/device.json`);
    expect(stdout).toContain(`would append to ${root}/boot/config.txt: dtparam=spi=on`);
    expect(stdout).not.toContain('systemctl restart');
  });

  it('reports an installed unit as up to date the second time', async () => {
    const first = await install(['--dry-run']);
    const unit = first.stdout
      .split('would write: ')
      .find((part) => part.startsWith(`${root}/etc/systemd/system/leeloo-device.service`))!
      .split('\n')
      .slice(1)
      .filter((l) => l.startsWith('    | '))
      .map((l) => l.slice(6))
      .join('\n');
    await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
    await writeFile(join(root, 'etc/systemd/system/leeloo-device.service'), `${unit}\n`);
    const second = await install(['--dry-run']);
    expect(second.stdout).toContain('leeloo-device.service is up to date');
    expect(second.stdout).not.toContain('systemctl daemon-reload');
  });

  it('adds pull-ups only for the configured button pins not yet pulled up, once', async () => {
    const boot = join(root, 'boot/firmware/config.txt');
    await writeFile(boot, 'dtparam=spi=on\ngpio=5-6,13=ip,pu\ngpio=19=op,dh\n[cm5]\ndtoverlay=dwc2\n');
    await mkdir(join(root, 'etc/leeloo'), { recursive: true });
    await writeFile(join(root, 'etc/leeloo/device.json'), JSON.stringify({ buttons: { driver: 'gpio', gpio: { pins: { prev: 5, next: 6, primary: 13, secondary: 19 }, rotary: { a: 20, b: 21 } } } }));
    const first = await install(['--dry-run', '--no-start']);
    expect(first.stdout).toContain(`would append to ${boot}: gpio=19,20,21=ip,pu`);
    expect(first.stdout).not.toContain('dtparam=spi=on\n');
    // What a real run appends (under [all], so the [cm5] section does not swallow it):
    await writeFile(boot, '\n# pull-ups for the buttons (wired to ground) (added by LEELOO install-pi.sh)\n[all]\ngpio=19,20,21=ip,pu\n', { flag: 'a' });
    const second = await install(['--dry-run', '--no-start']);
    expect(second.stdout).toContain('the button pins have pull-ups');
    expect(second.stdout).not.toContain('would append');
  });

  it('warns against a panel overlay when driving the panel over spidev', async () => {
    await writeFile(join(root, 'boot/firmware/config.txt'), 'dtparam=spi=on\ndtoverlay=waveshare35a\n');
    const { stdout } = await install(['--dry-run', '--display', 'spi']);
    expect(stdout).toContain('claims the SPI chip select');
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
