import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { freeLoopbackPort } from './free-port.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';
import { waitUntil } from './wait-until.js';

/**
 * A redis-server of the test's own on a free loopback port, so a test can take it away and
 * bring it back on the same port and data dir while the shared one on 6379 stays up. It keeps
 * its data as production must: `appendonly yes` with `appendfsync always`, `noeviction`.
 */
export class RedisProcess {
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisProcess> {
    const server = new RedisProcess(await freeLoopbackPort(), await makeTempDir('leeloo-redis-'));
    await server.restart();
    return server;
  }

  /** Starts the server (again, on its data) and resolves once it answers PING. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('redis-server is already running');
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always'];
    const child = spawn('redis-server', [...args, '--save', '', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
    this.child = child;
    let failed: Error | null = null;
    child.once('error', (error) => (failed = error));
    child.once('exit', (code) => (failed ??= new Error(`redis-server exited with ${code}`)));
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    try {
      await waitUntil(async () => {
        if (failed) throw failed;
        return probe.ping().then(
          () => true,
          () => false,
        );
      }, `redis-server on port ${this.port}`);
    } finally {
      probe.disconnect();
    }
  }

  /** Stops the server: SIGTERM (it writes its append-only file and exits) or SIGKILL. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    }
  }

  async remove(): Promise<void> {
    await this.stop('SIGKILL');
    await removeTempDir(this.dir);
  }
}
