/**
 * Load test of the relay on loopback: N simulated devices in crews, each sharing at a set
 * rate for a bounded time, against a relay child process with a temp data dir. Prints
 * connections, deliveries/s, fan-out latency p50/p99 and relay RSS.
 *
 *   npx tsx scripts/bench-relay.ts [--devices 2000] [--crew-size 8] [--rate 0.2] [--seconds 20] [--generation 3]
 *
 * `--baseline` also starts, in the same run, a bare in-memory `ws` relay of the field
 * relay's shape (BareRelay below: per-crew sets, one JSON.stringify per event, nothing
 * stored or validated), drives it and ours with the same second-generation load at each of
 * `--rates` (default 0.5,10 shares/s per device: about 7,000 deliveries/s and 70,000
 * offered with 2,000 devices in crews of 8), and prints ours as a ratio of the bare one.
 *
 *   npx tsx scripts/bench-relay.ts --baseline [--rates 0.5,10] [--seconds 15]
 *
 * `--processes N --redis URL` runs N relay processes on one Redis (their own key prefix, deleted
 * afterwards) and spreads every crew's devices over them, so most fan-out crosses processes;
 * `--redis URL` alone runs one process on Redis. RSS and CPU are summed over the processes; with
 * several, the latency of the deliveries whose sender is on another process is printed too. The
 * load generator's own event-loop delay is printed as well: it shares the machine with the relays,
 * and its delay is in every latency measured.
 *
 *   npx tsx scripts/bench-relay.ts --processes 2 --redis redis://127.0.0.1:6379 --devices 10000 --rate 0.0875
 *
 * `--cpu-prof DIR` runs every relay process (ours, not the bare one) under `node --cpu-prof`,
 * writing one .cpuprofile per process into DIR when it exits (open it in Chrome DevTools).
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { WebSocket, WebSocketServer } from 'ws';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIMITS = { devices: 20_000, seconds: 120, rate: 20 };

interface Options {
  devices: number;
  crewSize: number;
  rate: number;
  seconds: number;
  /** 3: `hello` then create/join; 2: create_crew/join_crew straight away, as second-generation gadgets do. */
  generation: 2 | 3;
  baseline: boolean;
  /** With --baseline: the rates each relay is driven at, one after another. */
  rates: number[];
  /** Relay processes (more than one needs --redis). */
  processes: number;
  /** The Redis the relays share (unset: the embedded store). */
  redis: string | null;
  /** Where our relay processes write their CPU profiles (unset: not profiled). */
  cpuProf: string | null;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '2000' },
      'crew-size': { type: 'string', default: '8' },
      rate: { type: 'string', default: '0.2' },
      seconds: { type: 'string', default: '20' },
      generation: { type: 'string' },
      baseline: { type: 'boolean', default: false },
      rates: { type: 'string', default: '0.5,10' },
      'serve-bare': { type: 'boolean', default: false },
      processes: { type: 'string', default: '1' },
      redis: { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
  });
  const baseline = values.baseline === true;
  const generation = Number(values.generation ?? (baseline ? 2 : 3));
  const rates = values.rates.split(',').map(Number);
  const options = {
    devices: Number(values.devices),
    crewSize: Number(values['crew-size']),
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    generation: generation as 2 | 3,
    baseline,
    rates,
    processes: Number(values.processes),
    redis: values.redis ?? null,
    cpuProf: values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null,
  };
  const problems = [
    !(generation === 2 || generation === 3) && '--generation must be 2 or 3',
    baseline && !rates.every((r) => r > 0 && r <= LIMITS.rate) && `--rates must be a comma-separated list of rates above 0 and at most ${LIMITS.rate}`,
    !(Number.isInteger(options.devices) && options.devices >= 2 && options.devices <= LIMITS.devices) && `--devices must be 2–${LIMITS.devices}`,
    !(Number.isInteger(options.crewSize) && options.crewSize >= 2 && options.crewSize <= 64) && '--crew-size must be 2–64',
    !(options.rate > 0 && options.rate <= LIMITS.rate) && `--rate must be above 0 and at most ${LIMITS.rate} shares/s per device`,
    !(Number.isInteger(options.processes) && options.processes >= 1 && options.processes <= 8) && '--processes must be 1–8',
    options.processes > 1 && !options.redis && '--processes above 1 needs --redis URL (the embedded store has one writer)',
    options.redis !== null && !/^rediss?:\/\//.test(options.redis) && '--redis must be a redis:// URL',
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

/** Starts a relay child process and resolves with the port from its `listening` log line. */
async function startProcess(args: string[], env: NodeJS.ProcessEnv, name: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not report listening within 20 s`)), 20_000);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before listening`)));
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

function startRelay(
  dataDir: string,
  redis: { url: string; prefix: string } | null = null,
  cpuProf: string | null = null,
): Promise<{ child: ChildProcess; port: number }> {
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    LEELOO_DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    REDIS_URL: redis?.url ?? '',
    LEELOO_REDIS_PREFIX: redis?.prefix ?? 'leeloo:',
    // Every simulated gadget connects from 127.0.0.1: that one address may hold them all and create all their crews.
    NEW_CREWS_BURST: '100000',
    JOIN_FAILURES_BURST: '100000',
    MAX_CONNECTIONS_PER_ADDRESS: '1000000',
  };
  const profile = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : [];
  return startProcess([...profile, '--import', 'tsx', path.join(ROOT, 'cloud/main.ts')], env, 'the relay');
}

function startBareRelay(): Promise<{ child: ChildProcess; port: number }> {
  return startProcess(['--import', 'tsx', fileURLToPath(import.meta.url), '--serve-bare'], {}, 'the bare relay');
}

/**
 * The yardstick: an in-memory relay of the field relay's shape (create/join/message,
 * broadcast to a per-crew set with one JSON.stringify per event), nothing stored or
 * validated. It acknowledges each message like ours, so the load generator does the same
 * work against both. Runs in its own process (`--serve-bare`) so its RSS is its own.
 */
function serveBare(): void {
  interface Member {
    ws: WebSocket;
    deviceId: string;
    name: string;
    crew: Set<Member> | null;
  }
  const crews = new Map<string, Set<Member>>();
  let lastId = 0;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => {
    const me: Member = { ws, deviceId: `bare-${++lastId}`, name: '', crew: null };
    const enter = (code: string) => {
      let crew = crews.get(code);
      if (!crew) crews.set(code, (crew = new Set()));
      crew.add(me);
      me.crew = crew;
      return crew;
    };
    ws.on('message', (data) => {
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return;
      }
      me.name = typeof frame.display_name === 'string' ? frame.display_name : me.name;
      if (frame.type === 'hello') ws.send(JSON.stringify({ type: 'welcome', device_id: me.deviceId }));
      else if (frame.type === 'create_crew') {
        const code = `BARE-${lastId}`;
        enter(code);
        ws.send(JSON.stringify({ type: 'crew_created', device_id: me.deviceId, crew_code: code, crew_id: code }));
      } else if (frame.type === 'join_crew') {
        const crew = enter(String(frame.crew_code));
        ws.send(JSON.stringify({ type: 'crew_joined', device_id: me.deviceId, crew_code: frame.crew_code, crew_id: frame.crew_code, crew_members: crew.size }));
      } else if (frame.type === 'message' && me.crew) {
        const out = JSON.stringify({
          type: 'message',
          msg_type: frame.msg_type,
          payload: frame.payload,
          from_device: me.deviceId,
          from_name: me.name,
          timestamp: Date.now(),
        });
        for (const other of me.crew) if (other !== me && other.ws.readyState === WebSocket.OPEN) other.ws.send(out);
        if (frame.client_msg_id) ws.send(JSON.stringify({ type: 'ack', client_msg_id: frame.client_msg_id }));
      }
    });
    ws.on('close', () => me.crew?.delete(me));
  });
  wss.on('listening', () => console.log(JSON.stringify({ msg: 'listening', port: (wss.address() as { port: number }).port })));
}

function rssOf(pid: number): { rssMb: number; peakMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
}

/** CPU seconds (user + system) the process has used: steadier than wall time on a shared machine. */
function cpuSecondsOf(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticksPerSecond = 100;
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

interface Device {
  ws: WebSocket;
  waiters: ((frame: Record<string, unknown>) => boolean)[];
  /** Which relay process it is connected to (the index of its URL). */
  relay: number;
}

function openDevice(url: string, stats: Stats, relay = 0): Promise<Device> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const device: Device = { ws, waiters: [], relay };
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      if (frame.type === 'message') stats.delivered(frame, relay);
      if (frame.type === 'ack') stats.acks += 1;
      if (frame.type === 'error') {
        stats.errors += 1;
        // Refused for the relay's own overload (OVERLOAD_LAG_MS): the share is not stored, so it is owed to nobody.
        if (frame.code === 'rate_limited' && String(frame.message).includes('busy')) stats.refused += 1;
      }
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
  /** Shares refused because the relay ran late (not stored, not owed). */
  refused = 0;
  deliveries = 0;
  latencies: number[] = [];
  /** Deliveries whose sender is connected to another relay process than the receiver. */
  crossLatencies: number[] = [];
  reset(): void {
    this.acks = 0;
    this.errors = 0;
    this.refused = 0;
    this.deliveries = 0;
    this.latencies = [];
    this.crossLatencies = [];
  }

  /** A share's text is `b:<sender's relay>:<sent at>`. */
  delivered(frame: Record<string, unknown>, relay: number): void {
    const text = (frame.payload as { text?: string } | undefined)?.text ?? '';
    if (!text.startsWith('b:')) return;
    const [, from, sentAt] = text.split(':');
    const latency = performance.now() - Number(sentAt);
    this.deliveries += 1;
    this.latencies.push(latency);
    if (Number(from) !== relay) this.crossLatencies.push(latency);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Connects the devices in crews; with several URLs (relay processes) each crew's devices go round them. */
async function connectAll(urls: string | readonly string[], options: Options, stats: Stats): Promise<Device[]> {
  const list = typeof urls === 'string' ? [urls] : urls;
  let next = 0;
  const url = () => next++ % list.length;
  const devices: Device[] = [];
  const crews = Math.ceil(options.devices / options.crewSize);
  const BATCH = 50;
  for (let crew = 0; crew < crews; crew += 1) {
    const relay = url();
    const owner = await openDevice(list[relay]!, stats, relay);
    if (options.generation === 3) await request(owner, { type: 'hello', protocol_version: 3, device_name: `Owner ${crew}` }, 'welcome');
    const created = await request(owner, { type: 'create_crew', display_name: `Owner ${crew}` }, 'crew_created');
    devices.push(owner);
    const size = Math.min(options.crewSize, options.devices - crew * options.crewSize);
    for (let start = 1; start < size; start += BATCH) {
      const joiners = Array.from({ length: Math.min(BATCH, size - start) }, async (_, i) => {
        const relay = url();
        const d = await openDevice(list[relay]!, stats, relay);
        if (options.generation === 3) await request(d, { type: 'hello', protocol_version: 3, device_name: `Member ${crew}.${start + i}` }, 'welcome');
        await request(d, { type: 'join_crew', crew_code: created.crew_code, display_name: `Member ${crew}.${start + i}` }, 'crew_joined');
        return d;
      });
      devices.push(...(await Promise.all(joiners)));
    }
  }
  return devices;
}

/** Each device shares at `rate` per second with a random phase, for `seconds`. */
function share(devices: Device[], options: { rate: number; seconds: number }): Promise<number> {
  const period = 1000 / options.rate;
  let sent = 0;
  const timers: NodeJS.Timeout[] = [];
  devices.forEach((device, index) => {
    const tick = () => {
      if (device.ws.readyState !== WebSocket.OPEN) return;
      sent += 1;
      device.ws.send(
        JSON.stringify({ type: 'message', msg_type: 'text', payload: { text: `b:${device.relay}:${performance.now()}` }, client_msg_id: `b${index}-${sent}` }),
      );
    };
    timers.push(
      setTimeout(() => {
        tick();
        timers.push(setInterval(tick, period));
      }, Math.random() * period),
    );
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
  while (Date.now() < deadline && (stats.acks + stats.refused < sent || stats.deliveries < stats.acks * (crewSize - 1))) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Phase {
  /** The relay's own view (its histograms, ours only): from publish to the local sends, and each group commit. */
  relay_publish_to_send: string | null;
  relay_store_write: string | null;
  rate_per_device: number;
  shares_sent: number;
  shares_acked: number;
  errors: number;
  /** Of the errors, shares refused because the relay ran late (OVERLOAD_LAG_MS). */
  refused_overloaded: number;
  deliveries: number;
  /** Deliveries that arrived while the load ran, per second of load. */
  delivered_per_second: number;
  /** Deliveries owed for the shares sent but not yet arrived when the load stopped. */
  backlog_at_stop: number;
  /** Over every delivery of the phase, including those that arrived after the load stopped. */
  fanout_p50_ms: number;
  fanout_p99_ms: number;
  relay_rss_mb: number;
  /** The relay's CPU time (user + system) per 1,000 deliveries, load and settling included. */
  relay_cpu_ms_per_1k_deliveries: number;
  /** The load generator's own event-loop delay during the load (it is in every latency above). */
  generator_loop_delay_p99_ms: number;
}

/** The relay's own histograms (ours answers /metrics from loopback; the bare relay has none): bucket upper bound in ms → count. */
async function relayHistograms(port: number): Promise<Map<string, Map<number, number>> | null> {
  try {
    // Bounded: a relay that does not answer leaves these figures out instead of holding the benchmark.
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) return null;
    const histograms = new Map<string, Map<number, number>>();
    for (const match of (await response.text()).matchAll(/^(leeloo_\w+)_bucket\{le="([^"]+)"\} (\d+)$/gm)) {
      const [, name, le, count] = match;
      if (!histograms.has(name!)) histograms.set(name!, new Map());
      histograms.get(name!)!.set(le === '+Inf' ? Infinity : Number(le) * 1000, Number(count));
    }
    return histograms;
  } catch {
    return null;
  }
}

/** The share of a histogram's observations between two scrapes at or under each bound, as "≤1 ms 97%, ≤2.5 ms 99.4%, …". */
function describeHistogram(before: Map<number, number> | undefined, after: Map<number, number> | undefined): string | null {
  if (!after) return null;
  const total = (after.get(Infinity) ?? 0) - (before?.get(Infinity) ?? 0);
  if (total <= 0) return null;
  const parts = [...after]
    .filter(([le]) => Number.isFinite(le) && le >= 0.5 && le <= 50)
    .map(([le, count]) => `≤${le} ms ${((100 * (count - (before?.get(le) ?? 0))) / total).toFixed(1)}%`);
  return `${total} observed: ${parts.join(', ')}`;
}

/** One load phase on connected devices: share at `rate` for `seconds`, then settle (bounded). */
async function drive(devices: Device[], stats: Stats, pid: number, rate: number, options: Options, port: number): Promise<Phase> {
  stats.reset();
  const histogramsBefore = await relayHistograms(port);
  const cpuBefore = cpuSecondsOf(pid);
  // The load generator shares the machine: its own event-loop delay is in every latency measured.
  const generatorDelay = monitorEventLoopDelay({ resolution: 1 });
  generatorDelay.enable();
  const sent = await share(devices, { rate, seconds: options.seconds });
  const atStop = stats.deliveries;
  generatorDelay.disable();
  await settle(stats, sent, options.crewSize);
  const sorted = [...stats.latencies].sort((a, b) => a - b);
  const histogramsAfter = histogramsBefore && (await relayHistograms(port));
  return {
    relay_publish_to_send: describeHistogram(histogramsBefore?.get('leeloo_fanout_latency_seconds'), histogramsAfter?.get('leeloo_fanout_latency_seconds')),
    relay_store_write: describeHistogram(histogramsBefore?.get('leeloo_store_write_seconds'), histogramsAfter?.get('leeloo_store_write_seconds')),
    rate_per_device: rate,
    shares_sent: sent,
    shares_acked: stats.acks,
    errors: stats.errors,
    refused_overloaded: stats.refused,
    deliveries: stats.deliveries,
    delivered_per_second: Math.round(atStop / options.seconds),
    backlog_at_stop: Math.max(0, (sent - stats.refused) * (options.crewSize - 1) - atStop),
    fanout_p50_ms: Number(percentile(sorted, 50).toFixed(2)),
    fanout_p99_ms: Number(percentile(sorted, 99).toFixed(2)),
    relay_rss_mb: rssOf(pid).rssMb,
    relay_cpu_ms_per_1k_deliveries: Number((((cpuSecondsOf(pid) - cpuBefore) * 1e6) / Math.max(1, stats.deliveries)).toFixed(1)),
    generator_loop_delay_p99_ms: Number((generatorDelay.percentile(99) / 1e6).toFixed(1)),
  };
}

async function stopRelay(child: ChildProcess, devices: Device[]): Promise<void> {
  devices.forEach((d) => d.ws.terminate());
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** Connects the devices to one relay and drives it at each rate in turn. */
async function measure(name: string, start: () => Promise<{ child: ChildProcess; port: number }>, options: Options, rates: number[]) {
  const relay = await start();
  const stats = new Stats();
  let devices: Device[] = [];
  try {
    const connectStarted = performance.now();
    devices = await connectAll(`ws://127.0.0.1:${relay.port}/ws`, options, stats);
    const connectSeconds = Number(((performance.now() - connectStarted) / 1000).toFixed(1));
    const afterConnect = rssOf(relay.child.pid!);
    const phases: Phase[] = [];
    for (const rate of rates) {
      const phase = await drive(devices, stats, relay.child.pid!, rate, options, relay.port);
      console.log(
        `${name} at ${rate}/s per device: ${phase.shares_sent} sent / ${phase.shares_acked} acked, errors ${phase.errors} (${phase.refused_overloaded} refused as overload); ` +
          `delivered ${phase.delivered_per_second}/s during the load (${phase.backlog_at_stop} owed at its end), ` +
          `p50 ${phase.fanout_p50_ms} ms, p99 ${phase.fanout_p99_ms} ms, RSS ${phase.relay_rss_mb} MB, CPU ${phase.relay_cpu_ms_per_1k_deliveries} ms per 1,000 deliveries; load generator loop delay p99 ${phase.generator_loop_delay_p99_ms} ms`,
      );
      if (phase.relay_publish_to_send)
        console.log(`  ${name}'s own histograms: publish → local sends ${phase.relay_publish_to_send}; group commits ${phase.relay_store_write}`);
      phases.push(phase);
    }
    const connections = devices.filter((d) => d.ws.readyState === WebSocket.OPEN).length;
    const peak = rssOf(relay.child.pid!).peakMb;
    return { connections, connect_seconds: connectSeconds, relay_rss_mb_after_connect: afterConnect.rssMb, relay_peak_rss_mb: peak, phases };
  } finally {
    await stopRelay(relay.child, devices);
  }
}

const ratio = (ours: number, bare: number) => (bare > 0 ? Number((ours / bare).toFixed(2)) : null);

async function compareWithBaseline(options: Options, fileLimit: number): Promise<void> {
  const bare = await measure('bare relay', startBareRelay, options, options.rates);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leeloo-bench-'));
  try {
    const ours = await measure('ours', () => startRelay(dataDir, null, options.cpuProf), options, options.rates);
    const phases = options.rates.map((rate, i) => {
      const b = bare.phases[i]!;
      const o = ours.phases[i]!;
      return {
        rate_per_device: rate,
        bare: b,
        ours: o,
        ratio: {
          delivered_per_second: ratio(o.delivered_per_second, b.delivered_per_second),
          fanout_p50: ratio(o.fanout_p50_ms, b.fanout_p50_ms),
          fanout_p99: ratio(o.fanout_p99_ms, b.fanout_p99_ms),
          relay_rss: ratio(o.relay_rss_mb, b.relay_rss_mb),
          relay_cpu_per_delivery: ratio(o.relay_cpu_ms_per_1k_deliveries, b.relay_cpu_ms_per_1k_deliveries),
        },
      };
    });
    console.log(
      `connections: bare ${bare.connections}/${options.devices}, ours ${ours.connections}/${options.devices}; load ${os.loadavg()[0]!.toFixed(2)} (1 min)`,
    );
    console.log(
      `RSS after connecting: bare ${bare.relay_rss_mb_after_connect} MB, ours ${ours.relay_rss_mb_after_connect} MB (${ratio(ours.relay_rss_mb_after_connect, bare.relay_rss_mb_after_connect)}×)`,
    );
    for (const p of phases) {
      console.log(
        `at ${p.rate_per_device}/s per device, ours ÷ bare: delivered/s ${p.ratio.delivered_per_second}× ` +
          `(${p.ours.delivered_per_second} / ${p.bare.delivered_per_second}), p50 ${p.ratio.fanout_p50}× (${p.ours.fanout_p50_ms} / ${p.bare.fanout_p50_ms} ms), ` +
          `p99 ${p.ratio.fanout_p99}× (${p.ours.fanout_p99_ms} / ${p.bare.fanout_p99_ms} ms), RSS ${p.ratio.relay_rss}×, CPU per delivery ${p.ratio.relay_cpu_per_delivery}×`,
      );
    }
    const common = { devices: options.devices, crew_size: options.crewSize, generation: options.generation, seconds: options.seconds, ulimit_n: fileLimit };
    console.log(
      JSON.stringify({
        ...common,
        load_1min: Number(os.loadavg()[0]!.toFixed(2)),
        bare: { ...bare, phases: undefined },
        ours: { ...ours, phases: undefined },
        phases,
      }),
    );
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const options = readOptions();
  const fileLimit = checkFileLimit(options.devices);
  if (options.baseline) return compareWithBaseline(options, fileLimit);
  const dataDirs = Array.from({ length: options.processes }, () => fs.mkdtempSync(path.join(os.tmpdir(), 'leeloo-bench-')));
  const redis = options.redis ? { url: options.redis, prefix: `leeloo-bench:${process.pid}-${Date.now()}:` } : null;
  const relays: { child: ChildProcess; port: number }[] = [];
  const stats = new Stats();
  let devices: Device[] = [];
  try {
    for (const dir of dataDirs) relays.push(await startRelay(dir, redis, options.cpuProf));
    const pids = relays.map((r) => r.child.pid!);
    const rss = () => pids.map(rssOf).reduce((a, b) => ({ rssMb: a.rssMb + b.rssMb, peakMb: a.peakMb + b.peakMb }), { rssMb: 0, peakMb: 0 });
    const idle = rss();
    const connectStarted = performance.now();
    devices = await connectAll(
      relays.map((r) => `ws://127.0.0.1:${r.port}/ws`),
      options,
      stats,
    );
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    const afterConnect = rss();
    const connections = devices.filter((d) => d.ws.readyState === WebSocket.OPEN).length;
    const cpu = () => pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
    const cpuBefore = cpu();
    const started = performance.now();
    // The load generator shares the machine: its own event-loop delay is in every latency measured.
    const generatorDelay = monitorEventLoopDelay({ resolution: 1 });
    generatorDelay.enable();
    const sent = await share(devices, options);
    const atStop = stats.deliveries;
    await settle(stats, sent, options.crewSize);
    generatorDelay.disable();
    const elapsed = (performance.now() - started) / 1000;
    const relayCpuSeconds = cpu() - cpuBefore;
    const after = rss();
    const sorted = [...stats.latencies].sort((a, b) => a - b);
    const cross = [...stats.crossLatencies].sort((a, b) => a - b);
    const result = {
      devices: options.devices,
      crew_size: options.crewSize,
      rate_per_device: options.rate,
      seconds: options.seconds,
      generation: options.generation,
      processes: options.processes,
      store: redis ? 'redis' : 'sqlite',
      ulimit_n: fileLimit,
      load_1min: Number(os.loadavg()[0]!.toFixed(2)),
      connections,
      connect_seconds: Number(connectSeconds.toFixed(1)),
      shares_sent: sent,
      shares_acked: stats.acks,
      errors: stats.errors,
      deliveries: stats.deliveries,
      deliveries_per_second: Math.round(stats.deliveries / elapsed),
      delivered_per_second_during_load: Math.round(atStop / options.seconds),
      fanout_p50_ms: Number(percentile(sorted, 50).toFixed(2)),
      fanout_p99_ms: Number(percentile(sorted, 99).toFixed(2)),
      cross_process_deliveries: cross.length,
      cross_process_p50_ms: Number(percentile(cross, 50).toFixed(2)),
      cross_process_p99_ms: Number(percentile(cross, 99).toFixed(2)),
      relay_cpu_ms_per_1k_deliveries: Number(((relayCpuSeconds * 1e6) / Math.max(1, stats.deliveries)).toFixed(1)),
      generator_loop_delay_p99_ms: Number((generatorDelay.percentile(99) / 1e6).toFixed(2)),
      generator_loop_delay_max_ms: Number((generatorDelay.max / 1e6).toFixed(2)),
      relay_rss_mb_idle: idle.rssMb,
      relay_rss_mb_after_connect: afterConnect.rssMb,
      relay_rss_kb_per_connection: Number((((afterConnect.rssMb - idle.rssMb) * 1024) / Math.max(1, connections)).toFixed(1)),
      relay_rss_mb: after.rssMb,
      relay_peak_rss_mb: after.peakMb,
    };
    const where = `${options.processes} process${options.processes > 1 ? 'es' : ''} on ${redis ? 'Redis' : 'the embedded store'}`;
    console.log(
      `${where}: connections ${connections}/${options.devices} (in ${result.connect_seconds} s), shares ${sent} sent / ${stats.acks} acked, errors ${stats.errors}`,
    );
    console.log(
      `delivered ${stats.deliveries} (${result.deliveries_per_second}/s; ${result.delivered_per_second_during_load}/s during the load), fan-out latency p50 ${result.fanout_p50_ms} ms, p99 ${result.fanout_p99_ms} ms`,
    );
    if (options.processes > 1) {
      console.log(`across processes: ${cross.length} deliveries, p50 ${result.cross_process_p50_ms} ms, p99 ${result.cross_process_p99_ms} ms`);
    }
    console.log(`relay CPU ${result.relay_cpu_ms_per_1k_deliveries} ms per 1,000 deliveries (summed over the processes, load and settling)`);
    console.log(`load generator's event-loop delay: p99 ${result.generator_loop_delay_p99_ms} ms, max ${result.generator_loop_delay_max_ms} ms`);
    console.log(
      `relay RSS ${after.rssMb} MB (peak ${after.peakMb} MB; ${afterConnect.rssMb} MB after connecting, ${idle.rssMb} MB idle: ${result.relay_rss_kb_per_connection} KB per connection)`,
    );
    console.log(JSON.stringify(result));
  } finally {
    devices.forEach((d) => d.ws.terminate());
    for (const relay of relays) await stopRelay(relay.child, []);
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
    if (redis) await deleteBenchKeys(redis.url, redis.prefix);
  }
}

/** Removes every key the benchmark's relays made (their own prefix; never FLUSHALL). */
async function deleteBenchKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

if (process.argv.includes('--serve-bare')) serveBare();
else
  main().catch((error: unknown) => {
    console.error(`bench-relay failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
