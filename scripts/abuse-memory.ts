/**
 * Memory under clients that take nothing (issue 9, point 3), against a relay started as the
 * README does (cloud/main.ts, its own temp data dir, loopback):
 *  (a) a socket that says hello and then never reads while another member sends N crew events;
 *  (b) 10 crew-page event streams whose reader stopped while the same member sends N events.
 * Prints, per case, the relay's peak and final RSS over its idle RSS, with the heap and
 * external memory /metrics reports and the live events held for sockets. Target: each case
 * within 64 MB of the idle relay.
 *
 * `--control` adds a case (c): the same events with no client abusing, which is what the
 * sender's own traffic costs the relay.
 *
 *   npx tsx scripts/abuse-memory.ts [--events 80000] [--streams 10] [--text 500] [--control]
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

const is = (type: string) => (f: Frame) => f.type === type;

/** Peak and last RSS of a process, sampled every 50 ms until stopped. */
function sampleRss(pid: number): { stop: () => { peakMb: number; lastMb: number } } {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid).rssMb)), 50);
  return {
    stop() {
      clearInterval(timer);
      const last = rssOf(pid).rssMb;
      return { peakMb: Math.max(peak, last), lastMb: last };
    },
  };
}

/** Heap, external memory and held events as the relay's /metrics reports them, in MB (held: a count). */
async function breakdown(base: string): Promise<string> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const mb = (name: string) => (value(name) / 1024 ** 2).toFixed(1);
  return `heap used ${mb('nodejs_heap_size_used_bytes')} of ${mb('nodejs_heap_size_total_bytes')} MB, external ${mb('nodejs_external_memory_bytes')} MB, held events ${value('leeloo_held_events')}`;
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
    RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '100000', RATE_LIMIT_CLOSE_AFTER: '100000',
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
    const idle = rssOf(pid).rssMb;
    lines.push(`idle relay: RSS ${idle} MB (${await breakdown(base)})`);

    // (a) hello, then nothing: no resume, no reading.
    const silent = await Client.open(wsUrl);
    await hello(silent, 'Bo', { device_id: bo.device_id, device_secret: bo.device_secret });
    silent.ws.pause();
    let sampler = sampleRss(pid);
    let started = Date.now();
    await sendTexts(ana, EVENTS, 'a');
    let rss = sampler.stop();
    lines.push(`(a) silent socket, ${EVENTS} events in ${((Date.now() - started) / 1000).toFixed(1)} s: peak RSS +${rss.peakMb - idle} MB, after +${rss.lastMb - idle} MB (${await breakdown(base)})`);
    const a = rss.peakMb - idle;
    silent.ws.terminate();

    // (b) event streams whose reader stopped.
    const cookie = await crewCookie(base, ana);
    const streams = await Promise.all(Array.from({ length: STREAMS }, () => stoppedStream(base, cookie)));
    sampler = sampleRss(pid);
    started = Date.now();
    await sendTexts(ana, EVENTS, 'b');
    rss = sampler.stop();
    lines.push(`(b) ${STREAMS} stopped event streams, ${EVENTS} events in ${((Date.now() - started) / 1000).toFixed(1)} s: peak RSS +${rss.peakMb - idle} MB, after +${rss.lastMb - idle} MB (${await breakdown(base)})`);
    const b = rss.peakMb - idle;
    for (const stream of streams) stream.destroy();

    if (args.includes('--control')) {
      sampler = sampleRss(pid);
      await sendTexts(ana, EVENTS, 'c');
      rss = sampler.stop();
      lines.push(`(c) control, nobody abusing, ${EVENTS} events: peak RSS +${rss.peakMb - idle} MB, after +${rss.lastMb - idle} MB (${await breakdown(base)})`);
    }
    const verdict = (mb: number) => (mb <= TARGET_MB ? 'within' : 'OVER');
    ana.ws.terminate();
    lines.push(`result: (a) +${a} MB, (b) +${b} MB over the idle relay's ${idle} MB (peak RSS); target ${TARGET_MB} MB: (a) ${verdict(a)}, (b) ${verdict(b)}`);
  } finally {
    relay.child.kill('SIGTERM');
    await new Promise((resolve) => relay.child.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
  for (const line of lines) console.log(line);
}

await main();
