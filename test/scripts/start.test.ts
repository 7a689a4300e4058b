import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/* `npm start` as a person runs it: the relay and two simulated gadgets in one crew, stopped by Ctrl-C. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('scripts/start.ts (npm start)', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await makeTempDir('leeloo-start-');
  });
  afterAll(async () => {
    await removeTempDir(dataDir);
  });

  it('starts the relay and two gadgets in one crew, prints their URLs, serves them, and stops all on SIGINT', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', LEELOO_SIM_PORT_A: '0', LEELOO_SIM_PORT_B: '0', LEELOO_DATA_DIR: dataDir, LEELOO_ENV_FILE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const output: string[] = [];
    const running = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output.join('\n')}`)), 60_000);
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        output.push(line);
        if (line.startsWith('LEELOO is running')) {
          clearTimeout(timer);
          resolve(line);
        }
      });
      void exited.then((code) => reject(new Error(`npm start exited (${code}):\n${output.join('\n')}`)));
    });
    try {
      await running;
      const relay = /^Relay:\s+(\S+)/m.exec(output.join('\n'))![1]!;
      const [a, b] = ['A', 'B'].map((g) => new RegExp(`^Gadget ${g}:\\s+(\\S+)\\s+\\(crew (LEELOO-[A-Z0-9]{4})\\)`, 'm').exec(output.join('\n'))!);
      expect(a![2]).toBe(b![2]);
      expect((await fetch(`${relay}health`)).status).toBe(200);
      for (const mirror of [a![1]!, b![1]!]) {
        const page = await fetch(mirror);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('Simulator');
      }
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  }, 90_000);
});
