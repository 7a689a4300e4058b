/**
 * Memory under clients that take nothing (issue 9, point 3), against a relay started as the
 * README does (cloud/main.ts, its own temp data dir, loopback):
 *  (a) a socket that says hello and then never reads while another member sends N crew events;
 *  (b) 10 crew-page event streams whose reader stopped while the same member sends N events.
 * Prints, per case, the relay's peak and final RSS over its idle RSS, with the heap and
 * external memory /metrics reports and the live events held for sockets. Target: each case
 * within 64 MB of the idle relay.
 *
 * `--control` first runs a case (c): the same events with no client abusing, which is what
 * the sender's own traffic costs the relay.
 *
 * `--rounds N` runs (a) and (b) N times each on the same relay (a new silent socket, new
 * streams each round) and judges the worst round.
 *
 *   npx tsx scripts/abuse-memory.ts [--events 80000] [--streams 10] [--text 500] [--rounds 1] [--control]
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { rssOf, startRelay } from './relay-child.js';

type Frame = Record<string, unknown> & { type: string };

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const EVENTS = option('events', 80_000);
const STREAMS = option('streams', 10);
const TEXT = 'x'.repeat(option('text', 500));
const ROUNDS = option('rounds', 1);
const WINDOW = 256;
const TARGET_MB = 64;

/** A socket that hands every frame to `onFrame`; `request` waits for the first frame `until` accepts. */
class Client {
  private waiters: { until: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  onFrame: (f: Frame) => void = () => undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.onFrame(frame);
      const i = this.waiters.findIndex((w) => w.until(frame));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(frame);
    });
  }

  static open(url: string): Promise<Client> {
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new Client(ws)));
      ws.once('error', reject);
    });
  }

  request(message: unknown, until: (f: Frame) => boolean): Promise<Frame> {
    return new Promise((resolve) => {
      this.waiters.push({ until, resolve });
      this.ws.send(JSON.stringify(message));
    });
  }
}

const roundOf = (round: number) => (ROUNDS > 1 ? ` (round ${round} of ${ROUNDS})` : '');
const is = (type: string) => (f: Frame) => f.type === type;

/** The relay's /metrics values this script reads, in bytes (held events: a count). */
async function metricsOf(base: string): Promise<{ heapUsed: number; heapTotal: number; newSpace: number; external: number; held: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    heapUsed: value('nodejs_heap_size_used_bytes'),
    heapTotal: value('nodejs_heap_size_total_bytes'),
    newSpace: value('nodejs_heap_space_size_total_bytes{space="new"}'),
    external: value('nodejs_external_memory_bytes'),
    held: value('leeloo_held_events'),
  };
}

const mb = (bytes: number) => (bytes / 1024 ** 2).toFixed(1);

/**
 * Samples the relay while a case runs: RSS every 50 ms, and its heap every 500 ms (/metrics),
 * so the peak says where the memory went: V8's heap (used, and what V8 reserved for it, with its
 * young generation) or outside it (external: Buffers and other native memory V8 knows of).
 */
function sample(pid: number, base: string, idleMb: number): { stop: () => Promise<{ line: string; overMb: number }> } {
  let peak = 0;
  const peaks = { heapUsed: 0, heapTotal: 0, newSpace: 0, external: 0 };
  const rss = setInterval(() => (peak = Math.max(peak, rssOf(pid).rssMb)), 50);
  const heap = setInterval(() => {
    void metricsOf(base).then(
      (m) => {
        for (const key of Object.keys(peaks) as (keyof typeof peaks)[]) peaks[key] = Math.max(peaks[key], m[key]);
      },
      () => undefined,
    );
  }, 500);
  return {
    async stop() {
      clearInterval(rss);
      clearInterval(heap);
      const last = rssOf(pid).rssMb;
      const m = await metricsOf(base);
      const peakMb = Math.max(peak, last);
      return {
        overMb: peakMb - idleMb,
        line:
          `peak RSS +${peakMb - idleMb} MB, after +${last - idleMb} MB; at most: V8 heap ${mb(peaks.heapUsed)} used of ${mb(peaks.heapTotal)} MB ` +
          `(young generation ${mb(peaks.newSpace)} MB), external ${mb(peaks.external)} MB; after: ${mb(m.heapUsed)} used of ${mb(m.heapTotal)} MB, ` +
          `external ${mb(m.external)} MB, held events ${m.held}`,
      };
    },
  };
}

/** Sends `count` texts with acks, at most WINDOW unacknowledged at once. */
async function sendTexts(sender: Client, count: number, tag: string): Promise<void> {
  let acked = 0;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const more = () => {
      while (sent < count && sent - acked < WINDOW) {
        sender.ws.send(JSON.stringify({ type: 'message', msg_type: 'text', payload: { text: TEXT }, client_msg_id: `${tag}-${sent}` }));
        sent += 1;
      }
    };
    sender.onFrame = (frame) => {
      if (frame.type === 'error') throw new Error(`the relay refused a text: ${JSON.stringify(frame)}`);
      if (frame.type !== 'ack') return;
      acked += 1;
      if (acked === count) resolve();
      else more();
    };
    more();
  });
  sender.onFrame = () => undefined;
}

async function hello(client: Client, name: string, identity: object = {}): Promise<Frame> {
  return client.request({ type: 'hello', protocol_version: 3, device_name: name, ...identity }, is('welcome'));
}

/** The crew's member link traded for its cookie, as a phone's browser does. */
async function crewCookie(base: string, member: Client): Promise<string> {
  const issued = await member.request({ type: 'crew_link' }, is('crew_link_issued'));
  const opened = await fetch(base + new URL(String(issued.url)).pathname, { redirect: 'manual' });
  return opened.headers.get('set-cookie')!.split(';')[0]!;
}

/** An event stream whose reader stops after the headers: nothing more is read from its socket. */
function stoppedStream(base: string, cookie: string): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${base}/crew/api/events`, { headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`the event stream answered ${res.statusCode}`));
      res.pause();
      resolve(request);
    });
    request.on('error', () => undefined);
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'leeloo-abuse-memory-'));
  const relay = await startRelay(path.join(dir, 'data'), {
    RATE_LIMIT_PER_SECOND: '10000',
    RATE_LIMIT_BURST: '100000',
    RATE_LIMIT_CLOSE_AFTER: '100000',
  });
  const pid = relay.child.pid!;
  const base = `http://127.0.0.1:${relay.port}`;
  const wsUrl = `ws://127.0.0.1:${relay.port}/ws`;
  const lines: string[] = [];
  try {
    const ana = await Client.open(wsUrl);
    await hello(ana, 'Ana');
    const code = (await ana.request({ type: 'create_crew', display_name: 'Ana' }, is('crew_created'))).crew_code;
    const first = await Client.open(wsUrl);
    const bo = await hello(first, 'Bo');
    await first.request({ type: 'join_crew', crew_code: code, display_name: 'Bo' }, is('crew_joined'));
    first.ws.terminate();
    // Warm-up: the relay's code paths and the store's first pages, as any running relay has them.
    await sendTexts(ana, 2000, 'warm');
    const idleMb = rssOf(pid).rssMb;
    const idle = await metricsOf(base);
    lines.push(
      `idle relay: RSS ${idleMb} MB; V8 heap ${mb(idle.heapUsed)} used of ${mb(idle.heapTotal)} MB (young generation ${mb(idle.newSpace)} MB), external ${mb(idle.external)} MB`,
    );
    const run = async (label: string, tag: string): Promise<number> => {
      const sampler = sample(pid, base, idleMb);
      const started = Date.now();
      await sendTexts(ana, EVENTS, tag);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const { line, overMb } = await sampler.stop();
      lines.push(`${label}, ${EVENTS} events in ${seconds} s: ${line}`);
      return overMb;
    };

    // (c) first: what the sender's own traffic costs, with nobody abusing.
    const control = args.includes('--control') ? await run('(c) control, nobody abusing', 'c') : null;

    // (a) hello, then nothing: no resume, no reading. Each round is a new silent socket; the worst counts.
    let a = 0;
    for (let round = 1; round <= ROUNDS; round += 1) {
      const silent = await Client.open(wsUrl);
      await hello(silent, 'Bo', { device_id: bo.device_id, device_secret: bo.device_secret });
      silent.ws.pause();
      a = Math.max(a, await run(`(a) a socket that said hello and reads nothing${roundOf(round)}`, `a${round}`));
      silent.ws.terminate();
    }

    // (b) event streams whose reader stopped.
    const cookie = await crewCookie(base, ana);
    let b = 0;
    for (let round = 1; round <= ROUNDS; round += 1) {
      const streams = await Promise.all(Array.from({ length: STREAMS }, () => stoppedStream(base, cookie)));
      b = Math.max(b, await run(`(b) ${STREAMS} crew-page event streams whose reader stopped${roundOf(round)}`, `b${round}`));
      for (const stream of streams) stream.destroy();
    }
    ana.ws.terminate();

    const worst = ROUNDS > 1 ? `, the worst of ${ROUNDS} rounds each` : '';
    const verdict = (over: number) => (over <= TARGET_MB ? 'within' : 'OVER');
    const controlPart = control === null ? '' : `, (c) control +${control} MB`;
    lines.push(
      `result: (a) +${a} MB, (b) +${b} MB${controlPart} over the idle relay's ${idleMb} MB (peak RSS${worst}); target ${TARGET_MB} MB: (a) ${verdict(a)}, (b) ${verdict(b)}`,
    );
  } finally {
    relay.child.kill('SIGTERM');
    await new Promise((resolve) => relay.child.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
  for (const line of lines) console.log(line);
}

await main();
