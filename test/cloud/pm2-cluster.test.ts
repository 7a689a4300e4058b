import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../helpers/free-port.js';
import { deleteKeys, TEST_REDIS_URL } from '../helpers/redis.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';
import { collectUntil, isType, TestClient, type Frame } from '../helpers/ws-client.js';

/*
 * The cluster of ecosystem.config.js under PM2 (its own PM2 home, killed at the end): two
 * relay processes on one port and one Redis (the test's own key prefix). `pm2 reload` replaces
 * them one at a time while a gadget keeps sending: its socket is closed with 1001, it
 * reconnects (to whichever process answers) and sends again what was not acknowledged, and
 * nothing acknowledged is lost.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PM2 = path.join(ROOT, 'node_modules', '.bin', 'pm2');
const run = promisify(execFile);
const prefix = `leeloo-test:${randomBytes(6).toString('hex')}:`;

/** A current-generation gadget that reconnects when its socket closes and sends again what was not acknowledged. */
class ReconnectingGadget {
  private client: TestClient | null = null;
  private identity: { device_id: string; device_secret: string } | null = null;
  readonly acked = new Map<string, number>();
  private readonly unacked = new Map<string, string>();
  reconnects = 0;
  refusals = 0;
  private stopped = false;

  constructor(private readonly url: string) {}

  async start(name: string): Promise<Frame> {
    const client = await TestClient.connect(this.url);
    const welcome = await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
    this.identity = { device_id: welcome.device_id as string, device_secret: welcome.device_secret as string };
    this.attach(client);
    return welcome;
  }

  get credentials(): { device_id: string; device_secret: string } {
    return this.identity!;
  }

  get current(): TestClient {
    return this.client!;
  }

  private attach(client: TestClient): void {
    this.client = client;
    client.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.type === 'ack' && typeof frame.client_msg_id === 'string' && this.unacked.delete(frame.client_msg_id)) {
        this.acked.set(frame.client_msg_id, frame.seq as number);
      }
      // A process stopping or just started may refuse a message (unavailable, rate_limited): sent again, as a gadget does.
      const id = frame.client_msg_id;
      if (frame.type === 'error' && typeof id === 'string' && this.unacked.has(id)) {
        this.refusals += 1;
        const wait = typeof frame.retry_after_ms === 'number' ? frame.retry_after_ms : 200;
        setTimeout(() => {
          const text = this.unacked.get(id);
          if (text !== undefined) this.sendNow(id, text);
        }, wait);
      }
    });
    void client.closed.then(() => this.reconnect());
  }

  /** Back after a close: a new socket, hello with its identity, and the unacknowledged messages again. */
  private async reconnect(): Promise<void> {
    if (this.stopped) return;
    for (;;) {
      try {
        const client = await TestClient.connect(this.url);
        await client.request({ type: 'hello', protocol_version: 3, device_name: 'Sender', ...this.identity }, isType('welcome'));
        this.reconnects += 1;
        this.attach(client);
        for (const [id, text] of this.unacked) this.sendNow(id, text);
        return;
      } catch {
        // The port is between processes during a reload: the gadgets' back-off, shortened.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  send(id: string, text: string): void {
    this.unacked.set(id, text);
    this.sendNow(id, text);
  }

  private sendNow(id: string, text: string): void {
    if (this.client?.ws.readyState === this.client?.ws.OPEN) this.client!.send({ type: 'message', msg_type: 'text', payload: { text }, client_msg_id: id });
  }

  get pending(): number {
    return this.unacked.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.terminate();
  }
}

describe('the relay cluster on Redis under PM2', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  let port: number;
  const pm2 = (...args: string[]) => run(PM2, args, { cwd: ROOT, env, timeout: 90_000 });

  beforeAll(async () => {
    home = await makeTempDir('leeloo-pm2-cluster-');
    env = { ...process.env, PM2_HOME: path.join(home, 'pm2') };
    port = await freeLoopbackPort();
  });

  afterAll(async () => {
    await pm2('kill').catch(() => undefined);
    await removeTempDir(home);
    const redis = new Redis(TEST_REDIS_URL);
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('pm2 reload replaces both processes one at a time and loses no acknowledged message', async () => {
    const config = path.join(home, 'leeloo-cluster.config.cjs');
    await writeFile(
      config,
      `
      const { apps } = require(${JSON.stringify(path.join(ROOT, 'ecosystem.config.js'))});
      module.exports = { apps: apps.filter((app) => app.name === 'leeloo-relay-cluster').map((app) => ({
        ...app,
        script: ${JSON.stringify(path.join(ROOT, 'test', 'helpers', 'pm2-entry.mjs'))},
        cwd: ${JSON.stringify(ROOT)},
        out_file: ${JSON.stringify(path.join(home, 'out.log'))},
        error_file: ${JSON.stringify(path.join(home, 'error.log'))},
        env: { ...app.env, PORT: '${port}', LEELOO_DATA_DIR: ${JSON.stringify(path.join(home, 'data'))}, LEELOO_ENV_FILE: '',
          REDIS_URL: ${JSON.stringify(TEST_REDIS_URL)}, LEELOO_REDIS_PREFIX: ${JSON.stringify(prefix)}, LOG_LEVEL: 'warn',
          NEW_CREWS_BURST: '1000', JOIN_FAILURES_BURST: '1000', MAX_CONNECTIONS_PER_ADDRESS: '1000',
          RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000' },
      })) };
    `,
    );
    await pm2('start', config);
    const url = `ws://127.0.0.1:${port}/ws`;
    const { stdout } = await pm2('jlist');
    const processes = (JSON.parse(stdout) as { name: string; pm2_env: { status: string; exec_mode: string } }[]).filter(
      (p) => p.name === 'leeloo-relay-cluster',
    );
    expect(processes.map((p) => [p.pm2_env.status, p.pm2_env.exec_mode])).toEqual([
      ['online', 'cluster_mode'],
      ['online', 'cluster_mode'],
    ]);

    const sender = new ReconnectingGadget(url);
    await sender.start('Sender');
    const code = (await sender.current.request({ type: 'create_crew', display_name: 'Sender' }, isType('crew_created'))).crew_code as string;

    let n = 0;
    const sendSome = async (count: number) => {
      for (let i = 0; i < count; i += 1) {
        sender.send(`m-${n}`, `m ${n}`);
        n += 1;
        await waitUntil(() => sender.pending < 5, 'the sender keeping up', 30_000);
      }
    };
    await sendSome(20);
    const reload = pm2('reload', 'leeloo-relay-cluster');
    let reloaded = false;
    void reload.then(() => (reloaded = true));
    while (!reloaded) await sendSome(5);
    await reload;
    await sendSome(20);
    await waitUntil(() => sender.pending === 0, 'every message acknowledged', 60_000);
    expect(sender.reconnects).toBeGreaterThanOrEqual(1);
    expect(sender.acked.size).toBe(n);

    // The owner's log, resumed from the start on whichever process answers: every acknowledged message, once, with its seq.
    await sender.stop();
    const owner = await TestClient.connect(url);
    const welcome = await owner.request({ type: 'hello', protocol_version: 3, device_name: 'Sender', ...sender.credentials }, isType('welcome'));
    expect((welcome.crew as { crew_code: string }).crew_code).toBe(code);
    owner.send({ type: 'resume', crew_code: code, after_seq: 0 });
    const replay = await collectUntil(owner, isType('resumed'));
    const texts = new Map(
      replay.filter((f) => f.type === 'message' && f.msg_type === 'text').map((f) => [(f.payload as { text: string }).text, f.seq as number]),
    );
    for (const [id, seq] of sender.acked) expect(texts.get(id.replace('-', ' '))).toBe(seq);
    expect(texts.size).toBe(n);
    await owner.terminate();
  }, 180_000);
});
