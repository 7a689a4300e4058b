import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

/*
 * The relay under PM2 as ecosystem.config.js defines it: PM2 loads the ES-module config,
 * waits for the relay's `ready`, and stops it with SIGINT, which the relay answers with a
 * graceful stop. PM2 runs with its own home in a temp dir, so no daemon of the machine is
 * touched, and is killed at the end. The relay runs from source (tsx) instead of dist/.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PM2 = path.join(ROOT, 'node_modules', '.bin', 'pm2');
const run = promisify(execFile);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the relay under PM2', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  const pm2 = (...args: string[]) => run(PM2, args, { cwd: ROOT, env, timeout: 60_000 });

  beforeAll(async () => {
    home = await makeTempDir('leeloo-pm2-');
    env = { ...process.env, PM2_HOME: path.join(home, 'pm2') };
  });

  afterAll(async () => {
    await pm2('kill').catch(() => undefined);
    await removeTempDir(home);
  });

  it('loads ecosystem.config.js, waits for ready, and stops the relay gracefully', async () => {
    const port = await freePort();
    const dataDir = path.join(home, 'data');
    // PM2 require()s the real config, as `pm2 start ecosystem.config.js` does; only where
    // the relay runs from and on which port differ here.
    // PM2 takes a file as an ecosystem by its name: *.config.cjs.
    const config = path.join(home, 'leeloo-test.config.cjs');
    await writeFile(
      config,
      `
      const { apps } = require(${JSON.stringify(path.join(ROOT, 'ecosystem.config.js'))});
      module.exports = { apps: apps.filter((app) => app.name === 'leeloo-relay').map((app) => ({
        ...app,
        script: ${JSON.stringify(path.join(ROOT, 'cloud', 'main.ts'))},
        interpreter: ${JSON.stringify(process.execPath)},
        node_args: '--import tsx',
        cwd: ${JSON.stringify(ROOT)},
        out_file: ${JSON.stringify(path.join(home, 'out.log'))},
        error_file: ${JSON.stringify(path.join(home, 'error.log'))},
        env: { ...app.env, PORT: '${port}', LEELOO_DATA_DIR: ${JSON.stringify(dataDir)}, LEELOO_ENV_FILE: '' },
      })) };
    `,
    );
    const { apps } = (await import(path.join(ROOT, 'ecosystem.config.js'))) as { apps: { listen_timeout: number }[] };
    const before = Date.now();
    const started = await pm2('start', config);
    expect(started.stdout + started.stderr).toMatch(/waiting for app to be ready/);
    // Without the relay's process.send('ready') PM2 would give up waiting only after
    // listen_timeout; it came back well before, so the signal arrived. The relay answers now.
    expect(Date.now() - before).toBeLessThan(apps[0]!.listen_timeout);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });

    await pm2('stop', 'leeloo-relay');
    const out = async () => (await readFile(path.join(home, 'out.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    await waitUntil(async () => (await out()).some((line) => line.includes('"msg":"stopped"')), 'the graceful stop in the log');
    const lines = (await out()).map((line) => JSON.parse(line) as { msg: string; signal?: string });
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'stopping', signal: 'SIGINT' }));
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  }, 90_000);
});
