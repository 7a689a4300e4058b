import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../helpers/free-port.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { isType, type TestClient } from '../helpers/ws-client.js';

describe('relay process lifecycle and HTTP', () => {
  let relay: RelayProcess | undefined;
  const open: TestClient[] = [];

  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    await relay?.cleanup();
  });

  it('serves /health, /ready, the landing page, /metrics and JSON 404s', async () => {
    relay = await RelayProcess.start();
    const health = await fetch(`${relay.httpUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', version: expect.any(String), uptime_s: expect.any(Number), connections: 0 });
    const ready = await fetch(`${relay.httpUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', store: 'sqlite' });

    const c = await relay.connect();
    open.push(c);
    await c.request({ type: 'hello', protocol_version: 3, device_name: 'Web' }, isType('welcome'));
    await c.request({ type: 'create_crew', display_name: 'Web' }, isType('crew_created'));
    c.send({ type: 'bogus' });
    await c.next(isType('error'));

    const page = await fetch(`${relay.httpUrl}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('LEELOO');
    expect(html).toMatch(/<th>Crews<\/th><td>1<\/td>/);
    expect(html).toMatch(/<th>Gadgets online<\/th><td>1 of 1<\/td>/);

    const metrics = await (await fetch(`${relay.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^leeloo_connections 1$/m);
    expect(metrics).toMatch(/^leeloo_messages_in_total\{type="hello"\} 1$/m);
    expect(metrics).toMatch(/^leeloo_messages_out_total\{type="welcome"\} 1$/m);
    expect(metrics).toMatch(/^leeloo_errors_total\{code="unknown_type"\} 1$/m);
    expect(metrics).toMatch(/^leeloo_fanout_latency_seconds_count [1-9]\d*$/m);
    expect(metrics).toMatch(/^leeloo_store_write_seconds_bucket\{le="\+Inf"\} [1-9]\d*$/m);

    const missing = await fetch(`${relay.httpUrl}/no/such/page`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'not_found' });
  });

  it('SIGTERM closes sockets with 1001 and exits 0; crews and memberships survive the restart', async () => {
    relay ??= await RelayProcess.start();
    const owner = await relay.connect();
    const ow = await owner.request({ type: 'hello', protocol_version: 3, device_name: 'Keep' }, isType('welcome'));
    const created = await owner.request({ type: 'create_crew', display_name: 'Keep', crew_name: 'Survivors' }, isType('crew_created'));
    const g2 = await relay.connect();
    g2.send({ type: 'join_crew', crew_code: created.crew_code, device_id: 'keep-g2', display_name: 'Two' });
    await g2.next(isType('crew_joined'));

    const [ownerClosed, g2Closed, exit] = await Promise.all([owner.closed, g2.closed, relay.stop()]);
    expect(ownerClosed.code).toBe(1001);
    expect(g2Closed.code).toBe(1001);
    expect(exit).toEqual({ code: 0, signal: null });

    relay = await relay.restart();
    const back = await relay.connect();
    open.push(back);
    const welcome = await back.request(
      { type: 'hello', protocol_version: 3, device_name: 'Keep', device_id: ow.device_id, device_secret: ow.device_secret },
      isType('welcome'),
    );
    expect(welcome.crew).toMatchObject({
      crew_code: created.crew_code,
      crew_name: 'Survivors',
      members: [
        { device_id: ow.device_id, online: true, is_owner: true },
        { device_id: 'keep-g2', display_name: 'Two', online: false, is_owner: false },
      ],
    });
  });

  it('refuses to start when the Redis REDIS_URL names cannot be reached, saying where without its password', async () => {
    const port = await freeLoopbackPort();
    const refusal = await RelayProcess.start({ env: { REDIS_URL: `redis://:hunter2@127.0.0.1:${port}/0` } }).then(
      () => null,
      (error: Error) => error.message,
    );
    expect(refusal).toMatch(new RegExp(`cannot reach its Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0 \\(ECONNREFUSED\\)`));
    expect(refusal).not.toMatch(/hunter2/);
  });

  it('reads settings from the .env file, the environment winning', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'leeloo-envfile-'));
    const file = path.join(dir, '.env');
    try {
      await writeFile(file, 'RATE_LIMIT_BURST=plenty\nLOG_LEVEL=info\n');
      await expect(RelayProcess.start({ env: { LEELOO_ENV_FILE: file } })).rejects.toThrow(/RATE_LIMIT_BURST/);
      const relayWithEnv = await RelayProcess.start({ env: { LEELOO_ENV_FILE: file, RATE_LIMIT_BURST: '40' } });
      await relayWithEnv.cleanup();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start with a bad setting, naming it', async () => {
    await expect(RelayProcess.start({ env: { PORT: 'eighty' } })).rejects.toThrow(/PORT/);
  });
});
