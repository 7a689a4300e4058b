import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayProcess } from '../helpers/relay-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCRIPT = path.join(ROOT, 'scripts/test-relay-connection.ts');

function runScript(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`script did not finish:\n${out}`))), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, lines: out.trim().split('\n') });
    });
  });
}

describe('scripts/test-relay-connection.ts', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    relay = await RelayProcess.start();
  });
  afterAll(async () => {
    await relay?.cleanup();
  });

  it('passes every step against a real relay and prints the summary last', async () => {
    const { code, lines } = await runScript([relay.wsUrl]);
    expect(code).toBe(0);
    const steps = lines.slice(0, -1);
    expect(steps.map((l) => l.slice(0, 4))).toEqual(Array(7).fill('PASS'));
    expect(steps.join('\n')).toMatch(/share test track\s+acked as seq \d+/);
    expect(steps.join('\n')).toMatch(/resend is deduplicated\s+duplicate acked/);
    expect(lines.at(-1)).toBe(`RESULT: PASS — all 7 steps passed against ${relay.wsUrl}`);
  });

  it('takes the URL from LEELOO_RELAY_URL and joins a given crew', async () => {
    const { code, lines } = await runScript(['--crew', 'LEELOO-ZZZZ'], { LEELOO_RELAY_URL: relay.wsUrl });
    expect(code).toBe(1);
    expect(lines.find((l) => l.includes('join crew'))).toMatch(/^FAIL\s+join crew\s+relay answered invalid_crew_code/);
    expect(lines.at(-1)).toMatch(/^RESULT: FAIL — 5 of 7 steps failed/);
  });

  it('fails clearly when the relay cannot be reached', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const { code, lines } = await runScript([`ws://127.0.0.1:${port}/ws`]);
    expect(code).toBe(1);
    expect(lines[0]).toMatch(/^FAIL\s+connect\s+cannot connect to .*ECONNREFUSED/);
    expect(lines.at(-1)).toMatch(/^RESULT: FAIL — 7 of 7 steps failed/);
  });

  it('refuses an unknown argument with exit code 2', async () => {
    const { code, lines } = await runScript(['--bogus']);
    expect(code).toBe(2);
    expect(lines.at(-1)).toMatch(/^FAIL Unknown argument "--bogus"/);
  });
});
