/**
 * `npm start`: the relay plus two simulated gadgets in one crew, on this machine.
 *
 * The relay keeps its data in ./data (embedded store); the gadgets keep theirs in
 * ./data/sim-a and ./data/sim-b and show their screens at http://127.0.0.1:8081/ and
 * :8082/. Logs go to ./data/*.log. Ctrl-C stops all three. Run compiled
 * (`node dist/scripts/start.js`, what npm start does) or as `npx tsx scripts/start.ts`.
 * Ports: PORT (relay, default 8080), LEELOO_SIM_PORT_A / LEELOO_SIM_PORT_B (0 = any free
 * port); LEELOO_DATA_DIR moves ./data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const COMPILED = import.meta.url.endsWith('.js');
/** The project root: the nearest folder above this file with a package.json (dist/scripts or scripts). */
const ROOT = findRoot(HERE);
/** LEELOO_DATA_DIR moves everything (relay store, gadgets' data, logs) elsewhere, e.g. for a test. */
const DATA = process.env.LEELOO_DATA_DIR ? path.resolve(process.env.LEELOO_DATA_DIR) : path.join(ROOT, 'data');
const START_TIMEOUT_MS = 60_000;

function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${from}.`);
    dir = parent;
  }
  return dir;
}

/** Node arguments that run one of the project's entry points, compiled or from source. */
function entry(relative: string): string[] {
  return COMPILED ? [path.join(ROOT, 'dist', `${relative}.js`)] : ['--import', 'tsx', path.join(ROOT, `${relative}.ts`)];
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
}

const children: Child[] = [];
let stopping = false;

function launch(name: string, args: string[], env: NodeJS.ProcessEnv, logFile: string, onLine: (line: string) => void): Child {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile, { flags: 'a' });
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    log.write(`${line}\n`);
    onLine(line);
  });
  child.stderr!.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const record = { name, process: child, exited };
  children.push(record);
  void exited.then((code) => {
    if (stopping) return;
    process.stdout.write(`${name} exited unexpectedly (code ${code}); see ${logFile}. Stopping the rest.\n`);
    void stopAll(1);
  });
  return record;
}

/** Resolves with the first value `pick` finds in the child's output lines. */
function waitFor<T>(name: string, register: (listener: (line: string) => void) => void, pick: (line: string) => T | null): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS / 1000} s.`)), START_TIMEOUT_MS);
    register((line) => {
      const value = pick(line);
      if (value === null) return;
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** A line tap that later listeners can join (the process starts before we know what to wait for). */
function tap(): { onLine: (line: string) => void; register: (listener: (line: string) => void) => void } {
  const listeners: ((line: string) => void)[] = [];
  return { onLine: (line) => listeners.forEach((l) => l(line)), register: (l) => listeners.push(l) };
}

async function startRelay(port: number): Promise<string> {
  const lines = tap();
  launch('relay', entry('cloud/main'), { PORT: String(port), HOST: '127.0.0.1', LEELOO_DATA_DIR: DATA }, path.join(DATA, 'relay.log'), lines.onLine);
  const listening = await waitFor('The relay', lines.register, (line) => {
    const entry = parseJson(line);
    return entry?.msg === 'listening' && typeof entry.port === 'number' ? entry.port : null;
  });
  return `ws://127.0.0.1:${listening}/ws`;
}

async function startGadget(id: string, name: string, relayUrl: string, mirrorPort: number, crewCode: string | null): Promise<{ mirror: string; crew: string }> {
  const dir = path.join(DATA, `sim-${id}`);
  await mkdir(dir, { recursive: true });
  const configFile = path.join(dir, 'device.json');
  const config = {
    relay: { url: relayUrl },
    device: { name, crewCode },
    dataDir: dir,
    display: { driver: 'sim' },
    buttons: { driver: 'sim' },
    sim: { mirror: { enabled: true, host: '127.0.0.1', port: mirrorPort }, snapshotKeep: 20, keyboard: false },
  };
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const lines = tap();
  launch(name, [...entry('device/main'), '--config', configFile], {}, path.join(DATA, `sim-${id}.log`), lines.onLine);
  const mirror = waitFor(name, lines.register, (line) => /^LEELOO device ".*" mirror: (\S+)$/.exec(line)?.[1] ?? null);
  const crew = waitFor(name, lines.register, (line) => /^LEELOO device ".*" crew: (\S+)$/.exec(line)?.[1] ?? null);
  return { mirror: await mirror, crew: await crew };
}

async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGTERM');
  await Promise.all(children.map((c) => c.exited));
  process.exit(code);
}

function parseJson(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function port(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number (0–65535), not "${process.env[name]}".`);
  return value;
}

async function main(): Promise<void> {
  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));
  await mkdir(DATA, { recursive: true });
  const relayUrl = await startRelay(port('PORT', 8080));
  // Gadget A makes the crew (or is already in it from an earlier run); B joins A's code.
  const a = await startGadget('a', 'Gadget A', relayUrl, port('LEELOO_SIM_PORT_A', 8081), null);
  const b = await startGadget('b', 'Gadget B', relayUrl, port('LEELOO_SIM_PORT_B', 8082), a.crew);
  const httpUrl = relayUrl.replace(/^ws/, 'http').replace(/\/ws$/, '/');
  process.stdout.write(
    `${[
      `Relay:     ${httpUrl}  (WebSocket ${relayUrl}, data in ${DATA})`,
      `Gadget A:  ${a.mirror}  (crew ${a.crew})`,
      `Gadget B:  ${b.mirror}  (crew ${b.crew})`,
      `Logs in ${DATA}/*.log. Press Ctrl-C to stop all.`,
      `LEELOO is running: relay ${httpUrl} · gadget A ${a.mirror} · gadget B ${b.mirror}`,
    ].join('\n')}\n`,
  );
}

main().catch((error: Error) => {
  process.stdout.write(`LEELOO failed to start: ${error.message}\n`);
  void stopAll(1);
});
