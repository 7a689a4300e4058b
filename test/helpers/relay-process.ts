import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TEST_RELAY_LIMITS } from './relay-in-process.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { OpenClients, TestClient } from './ws-client.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'cloud/main.ts');

export interface RelayProcessOptions {
  /** Reuse a data dir (restart); a fresh temp dir otherwise (removed by `cleanup`). */
  readonly dataDir?: string;
  readonly env?: Record<string, string>;
  readonly startTimeoutMs?: number;
}

/**
 * The real relay (`node --import tsx cloud/main.ts`) as a child process on 127.0.0.1 with
 * PORT=0; its port comes from the `listening` log line. Tests kill it (SIGTERM/SIGKILL)
 * and restart it on the same data dir.
 */
export class RelayProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly dataDir: string;
  readonly ownsDataDir: boolean;
  readonly logs: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(fields: Pick<RelayProcess, 'child' | 'port' | 'dataDir' | 'ownsDataDir' | 'logs' | 'exited'>) {
    this.child = fields.child;
    this.port = fields.port;
    this.dataDir = fields.dataDir;
    this.ownsDataDir = fields.ownsDataDir;
    this.logs = fields.logs;
    this.exited = fields.exited;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  static async start(options: RelayProcessOptions = {}): Promise<RelayProcess> {
    const ownsDataDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? (await makeTempDir('leeloo-relay-'));
    const env = {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LEELOO_DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      REDIS_URL: '',
      LEELOO_ENV_FILE: '',
      ...TEST_RELAY_LIMITS,
      ...options.env,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const logs: string[] = [];
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    readline.createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));
    const port = await waitForPort(child, logs, exited, options.startTimeoutMs ?? 20_000).catch(async (error: unknown) => {
      if (ownsDataDir) await removeTempDir(dataDir);
      throw error;
    });
    return new RelayProcess({ child, port, dataDir, ownsDataDir, logs, exited });
  }

  connect(): Promise<TestClient> {
    return TestClient.connect(this.wsUrl);
  }

  /** Graceful stop (SIGTERM); resolves with how it exited. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }

  /** Hard kill (SIGKILL): no flush, no goodbye. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** A new relay process on the same data dir (this one must have exited). */
  restart(options: Omit<RelayProcessOptions, 'dataDir'> = {}): Promise<RelayProcess> {
    return RelayProcess.start({ ...options, dataDir: this.dataDir });
  }

  /** Kills the process if still running and removes a data dir this helper created. */
  async cleanup(): Promise<void> {
    await this.kill();
    if (this.ownsDataDir) await removeTempDir(this.dataDir);
  }
}

/**
 * Starts the real relay with settings it must refuse and resolves with how it exited and
 * what it wrote to stderr (killed, and rejected, if it is still running after timeoutMs).
 */
export async function relayRefusal(env: Record<string, string>, timeoutMs = 25_000): Promise<{ code: number | null; stderr: string }> {
  const dataDir = await makeTempDir('leeloo-relay-');
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LEELOO_DATA_DIR: dataDir, REDIS_URL: '', LEELOO_ENV_FILE: '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`the relay did not exit within ${timeoutMs} ms:\n${stderr}`))), timeoutMs);
      child.once('exit', (code) => (clearTimeout(timer), resolve({ code, stderr })));
    });
  } finally {
    await removeTempDir(dataDir);
  }
}

function waitForPort(
  child: ChildProcess,
  logs: string[],
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  timeoutMs: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`relay did not report listening within ${timeoutMs} ms:\n${logs.join('\n')}`));
    }, timeoutMs);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`relay exited (${code ?? signal}) before listening:\n${logs.join('\n')}`));
    });
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line);
      const entry = parseJson(line);
      if (entry?.msg === 'listening' && typeof entry.port === 'number') {
        clearTimeout(timer);
        resolve(entry.port);
      }
    });
  });
}

function parseJson(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * One relay process for a describe block: started before its tests, the clients a test opened
 * closed after it, stopped after them all.
 */
export function relayForSuite(options: RelayProcessOptions = {}): { readonly relay: RelayProcess; readonly clients: OpenClients } {
  let relay: RelayProcess | undefined;
  const clients = new OpenClients(() => relay!.connect());
  beforeAll(async () => {
    relay = await RelayProcess.start(options);
  });
  afterEach(async () => {
    await clients.closeAll();
  });
  afterAll(async () => {
    await relay?.cleanup();
  });
  return {
    get relay() {
      return relay!;
    },
    clients,
  };
}
