import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'device/main.ts');

function daemon(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`daemon did not exit: ${stderr}`))), 30_000);
    child.once('exit', (code) => (clearTimeout(timer), resolve({ code, stderr })));
  });
  return { child, exited };
}

describe('device/main.ts', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'leeloo-main-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says where the config was expected when it is missing, and exits 78', async () => {
    const { code, stderr } = await daemon(['--config', path.join(dir, 'absent.json')]).exited;
    expect(code).toBe(78);
    expect(stderr).toContain(`No config file at ${path.join(dir, 'absent.json')}`);
  });

  it('takes the path from LEELOO_DEVICE_CONFIG and lists every invalid property', async () => {
    const file = path.join(dir, 'device.json');
    await writeFile(file, JSON.stringify({ relay: { url: 'http://nope' }, display: { driver: 'vga', spi: { speedHz: 'fast' } }, mqtt: { enabled: true } }));
    const { code, stderr } = await daemon([], { LEELOO_DEVICE_CONFIG: file }).exited;
    expect(code).toBe(78);
    expect(stderr).toContain('The device config is invalid:');
    expect(stderr).toContain('relay.url must be a ws:// or wss:// URL');
    expect(stderr).toContain('display.driver must be one of "sim", "fb", "spi"');
    expect(stderr).toContain('display.spi.speedHz must be a number');
    expect(stderr).toContain('mqtt.url must be an mqtt://, mqtts://, ws:// or wss:// URL when mqtt.enabled is true');
  });

  it('refuses --config without a path', async () => {
    const { code, stderr } = await daemon(['--config']).exited;
    expect(code).toBe(78);
    expect(stderr).toContain('--config needs a file path.');
  });

  it('starts with a valid config, prints its mirror URL, and stops cleanly on SIGTERM', async () => {
    const file = path.join(dir, 'device.json');
    await writeFile(
      file,
      JSON.stringify({
        relay: { url: 'ws://127.0.0.1:9/ws' },
        device: { name: 'Desk' },
        dataDir: 'state',
        logLevel: 'error',
        sim: { mirror: { port: 0 }, keyboard: false },
      }),
    );
    const { child, exited } = daemon(['--config', file]);
    const mirror = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no mirror line')), 20_000);
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        const match = /^LEELOO device "Desk" mirror: (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(line);
        if (match) clearTimeout(timer), resolve(match[1]!);
      });
    });
    expect((await fetch(mirror)).status).toBe(200);
    child.kill('SIGTERM');
    const { code } = await exited;
    expect(code).toBe(0);
  });
});
