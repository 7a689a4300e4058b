/**
 * Load test of the relay on loopback: N simulated current-protocol devices in crews,
 * each sharing at a set rate for a bounded time, against a relay child process with a
 * temp data dir. Prints connections, deliveries/s, fan-out latency p50/p99 and relay RSS.
 *
 *   npx tsx scripts/bench-relay.ts [--devices 2000] [--crew-size 8] [--rate 0.2] [--seconds 20]
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIMITS = { devices: 20_000, seconds: 120, rate: 20 };

interface Options {
  devices: number;
  crewSize: number;
  rate: number;
  seconds: number;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '2000' },
      'crew-size': { type: 'string', default: '8' },
      rate: { type: 'string', default: '0.2' },
      seconds: { type: 'string', default: '20' },
    },
  });
  const options = { devices: Number(values.devices), crewSize: Number(values['crew-size']), rate: Number(values.rate), seconds: Number(values.seconds) };
  const problems = [
    !(Number.isInteger(options.devices) && options.devices >= 2 && options.devices <= LIMITS.devices) && `--devices must be 2–${LIMITS.devices}`,
    !(Number.isInteger(options.crewSize) && options.crewSize >= 2 && options.crewSize <= 64) && '--crew-size must be 2–64',
    !(options.rate > 0 && options.rate <= LIMITS.rate) && `--rate must be above 0 and at most ${LIMITS.rate} shares/s per device`,
    !(options.seconds > 0 && options.seconds <= LIMITS.seconds) && `--seconds must be above 0 and at most ${LIMITS.seconds}`,
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return options;
}

function checkFileLimit(devices: number): number {
  const limit = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim());
  if (Number.isFinite(limit) && devices + 200 > limit) {
    throw new Error(`ulimit -n is ${limit}: too low for ${devices} sockets per process; raise it (ulimit -n ${devices + 1024}) or use fewer --devices.`);
  }
  return limit;
}

async function startRelay(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'cloud/main.ts')], {
    cwd: ROOT,
    // Every simulated gadget connects from 127.0.0.1: that one address may hold them all and create all their crews.
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LEELOO_DATA_DIR: dataDir, LOG_LEVEL: 'info', REDIS_URL: '', NEW_CREWS_BURST: '100000', JOIN_FAILURES_BURST: '100000', MAX_CONNECTIONS_PER_ADDRESS: '1000000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the relay did not report listening within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`the relay exited with ${code} before listening`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.includes('"listening"')) return;
      const entry = JSON.parse(line) as { port?: number };
      if (typeof entry.port === 'number') {
        clearTimeout(timer);
        resolve(entry.port);
      }
    });
  });
  return { child, port };
}

function rssOf(pid: number): { rssMb: number; peakMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
}

interface Device {
  ws: WebSocket;
  waiters: ((frame: Record<string, unknown>) => boolean)[];
}

function openDevice(url: string, stats: Stats): Promise<Device> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const device: Device = { ws, waiters: [] };
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      if (frame.type === 'message') stats.delivered(frame);
      if (frame.type === 'ack') stats.acks += 1;
      if (frame.type === 'error') stats.errors += 1;
      device.waiters = device.waiters.filter((w) => !w(frame));
    });
    ws.once('open', () => resolve(device));
    ws.once('error', reject);
  });
}

function request(device: Device, message: unknown, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} within 15 s`)), 15_000);
    device.waiters.push((frame) => {
      if (frame.type !== type && frame.type !== 'error') return false;
      clearTimeout(timer);
      if (frame.type === 'error') reject(new Error(`relay error ${String(frame.code)}: ${String(frame.message)}`));
      else resolve(frame);
      return true;
    });
    device.ws.send(JSON.stringify(message));
  });
}

class Stats {
  acks = 0;
  errors = 0;
  deliveries = 0;
  readonly latencies: number[] = [];
  delivered(frame: Record<string, unknown>): void {
    const text = (frame.payload as { text?: string } | undefined)?.text ?? '';
    if (!text.startsWith('b:')) return;
    this.deliveries += 1;
    this.latencies.push(performance.now() - Number(text.slice(2)));
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function connectAll(url: string, options: Options, stats: Stats): Promise<Device[]> {
  const devices: Device[] = [];
  const crews = Math.ceil(options.devices / options.crewSize);
  const BATCH = 50;
  for (let crew = 0; crew < crews; crew += 1) {
    const owner = await openDevice(url, stats);
    await request(owner, { type: 'hello', protocol_version: 3, device_name: `Owner ${crew}` }, 'welcome');
    const created = await request(owner, { type: 'create_crew', display_name: `Owner ${crew}` }, 'crew_created');
    devices.push(owner);
    const size = Math.min(options.crewSize, options.devices - crew * options.crewSize);
    for (let start = 1; start < size; start += BATCH) {
      const joiners = Array.from({ length: Math.min(BATCH, size - start) }, async (_, i) => {
        const d = await openDevice(url, stats);
        await request(d, { type: 'hello', protocol_version: 3, device_name: `Member ${crew}.${start + i}` }, 'welcome');
        await request(d, { type: 'join_crew', crew_code: created.crew_code, display_name: `Member ${crew}.${start + i}` }, 'crew_joined');
        return d;
      });
      devices.push(...(await Promise.all(joiners)));
    }
  }
  return devices;
}

/** Each device shares at `rate` per second with a random phase, for `seconds`. */
function share(devices: Device[], options: Options): Promise<number> {
  const period = 1000 / options.rate;
  let sent = 0;
  const timers: NodeJS.Timeout[] = [];
  devices.forEach((device, index) => {
    const tick = () => {
      if (device.ws.readyState !== WebSocket.OPEN) return;
      sent += 1;
      device.ws.send(JSON.stringify({ type: 'message', msg_type: 'text', payload: { text: `b:${performance.now()}` }, client_msg_id: `b${index}-${sent}` }));
    };
    timers.push(setTimeout(() => {
      tick();
      timers.push(setInterval(tick, period));
    }, Math.random() * period));
  });
  return new Promise((resolve) =>
    setTimeout(() => {
      timers.forEach((t) => clearTimeout(t));
      resolve(sent);
    }, options.seconds * 1000),
  );
}

/** Waits (bounded) until every acknowledged share has reached the rest of its crew. */
async function settle(stats: Stats, sent: number, crewSize: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (stats.acks < sent || stats.deliveries < stats.acks * (crewSize - 1))) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const options = readOptions();
  const fileLimit = checkFileLimit(options.devices);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leeloo-bench-'));
  const relay = await startRelay(dataDir);
  const stats = new Stats();
  let devices: Device[] = [];
  try {
    const connectStarted = performance.now();
    devices = await connectAll(`ws://127.0.0.1:${relay.port}/ws`, options, stats);
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    const afterConnect = rssOf(relay.child.pid!);
    const started = performance.now();
    const sent = await share(devices, options);
    await settle(stats, sent, options.crewSize);
    const elapsed = (performance.now() - started) / 1000;
    const rss = rssOf(relay.child.pid!);
    const sorted = [...stats.latencies].sort((a, b) => a - b);
    const result = {
      devices: options.devices,
      crew_size: options.crewSize,
      rate_per_device: options.rate,
      seconds: options.seconds,
      ulimit_n: fileLimit,
      connections: devices.filter((d) => d.ws.readyState === WebSocket.OPEN).length,
      connect_seconds: Number(connectSeconds.toFixed(1)),
      shares_sent: sent,
      shares_acked: stats.acks,
      errors: stats.errors,
      deliveries: stats.deliveries,
      deliveries_per_second: Math.round(stats.deliveries / elapsed),
      fanout_p50_ms: Number(percentile(sorted, 50).toFixed(2)),
      fanout_p99_ms: Number(percentile(sorted, 99).toFixed(2)),
      relay_rss_mb_after_connect: afterConnect.rssMb,
      relay_rss_mb: rss.rssMb,
      relay_peak_rss_mb: rss.peakMb,
    };
    console.log(`connections ${result.connections}/${options.devices} (in ${result.connect_seconds} s), shares ${sent} sent / ${stats.acks} acked, errors ${stats.errors}`);
    console.log(`delivered ${stats.deliveries} (${result.deliveries_per_second}/s), fan-out latency p50 ${result.fanout_p50_ms} ms, p99 ${result.fanout_p99_ms} ms`);
    console.log(`relay RSS ${rss.rssMb} MB (peak ${rss.peakMb} MB; ${afterConnect.rssMb} MB after connecting)`);
    console.log(JSON.stringify(result));
  } finally {
    devices.forEach((d) => d.ws.terminate());
    relay.child.kill('SIGTERM');
    await new Promise((r) => relay.child.once('exit', r));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench-relay failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
