import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { makeTempDir, removeTempDir } from './temp-dir.js';
import { waitUntil } from './wait-until.js';

/**
 * A Mosquitto of the test's own on a free loopback port, so a test can take its broker
 * away (outage) and bring it back on the same port while the shared one on 1883 stays up.
 * No persistence: a restarted broker has forgotten every retained message.
 */
export class MosquittoProcess {
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<MosquittoProcess> {
    const dir = await makeTempDir('leeloo-mosquitto-');
    const broker = new MosquittoProcess(await freePort(), dir);
    await writeFile(path.join(dir, 'mosquitto.conf'), `listener ${broker.port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    await broker.restart();
    return broker;
  }

  /** Starts the broker (again) and resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('mosquitto is already running');
    const child = spawn(MOSQUITTO, ['-c', path.join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let failed: Error | null = null;
    child.once('error', (error) => (failed = error));
    child.once('exit', (code) => (failed ??= new Error(`mosquitto exited with ${code}`)));
    await waitUntil(async () => {
      if (failed) throw failed;
      return accepts(this.port);
    }, `mosquitto on port ${this.port}`);
  }

  /** Stops the broker (SIGTERM) and waits for it to exit; removes its folder the last time. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }

  async remove(): Promise<void> {
    await this.stop();
    await removeTempDir(this.dir);
  }
}

/** Debian installs it in /usr/sbin, which is not on every user's PATH. */
const MOSQUITTO = existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
