import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../cloud/log.js';
import type { CrewStore } from '../../cloud/store/store.js';
import { queueWithCrewPages } from '../helpers/queue-features.js';
import { crewCookie } from '../helpers/crew-link.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { waitUntil } from '../helpers/wait-until.js';
import { hello, isType, type Frame, type TestClient } from '../helpers/ws-client.js';

/*
 * Clients that take nothing: a socket that says hello and then neither resumes nor reads, and
 * crew-page event streams whose reader stopped. The relay must not keep what they do not take.
 */

let relay: InProcessRelay | undefined;
let clients: TestClient[] = [];
const HELD_CAP = 50;

afterEach(async () => {
  for (const client of clients) client.ws.terminate();
  clients = [];
  await relay?.close();
  relay = undefined;
});

async function start(env: Record<string, string> = {}): Promise<InProcessRelay> {
  relay = await startInProcessRelay({
    env: { MAX_HELD_EVENTS: String(HELD_CAP), RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '100000', ...env },
    features: [queueWithCrewPages()],
  });
  return relay;
}

async function connect(): Promise<TestClient> {
  const client = await relay!.connect();
  clients.push(client);
  return client;
}

/** The relay's /metrics value of a gauge without labels. */
async function gauge(name: string): Promise<number> {
  const text = await (await fetch(`${relay!.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`/metrics has no ${name}`);
  return Number(line.split(' ')[1]);
}

/** Ana's crew with Bo in it; Bo's identity, to come back with. */
async function crewOfTwo(): Promise<{ ana: TestClient; code: string; bo: { device_id: string; device_secret: string } }> {
  const ana = await connect();
  await hello(ana, 'Ana');
  const code = String((await ana.request({ type: 'create_crew', display_name: 'Ana' }, isType('crew_created'))).crew_code);
  const first = await connect();
  const welcome = await hello(first, 'Bo');
  await first.request({ type: 'join_crew', crew_code: code, display_name: 'Bo' }, isType('crew_joined'));
  await ana.next(isType('member_joined'));
  await first.terminate();
  await ana.next(isType('member_offline'));
  return { ana, code, bo: { device_id: String(welcome.device_id), device_secret: String(welcome.device_secret) } };
}

/** Ana sends `count` texts, each acked before the next (so each was fanned out); returns their seqs. */
async function send(ana: TestClient, count: number, tag: string): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const ack = await ana.request(
      { type: 'message', msg_type: 'text', payload: { text: `${tag} ${i}` }, client_msg_id: `${tag}-${i}` },
      isType('ack', { client_msg_id: `${tag}-${i}` }),
    );
    seqs.push(ack.seq as number);
  }
  return seqs;
}

describe('live events held for a socket', () => {
  it('a socket that said hello and then nothing is told to resync (too_far_behind) past MAX_HELD_EVENTS, and what was held is freed', async () => {
    await start();
    const { ana, code, bo } = await crewOfTwo();
    const silent = await connect();
    const welcome = await hello(silent, 'Bo', bo);
    expect((welcome.crew as { crew_code: string }).crew_code).toBe(code);

    await send(ana, HELD_CAP, 'held');
    expect(await gauge('leeloo_held_events')).toBe(HELD_CAP);
    expect(silent.queue.filter((f) => f.type === 'message')).toEqual([]);

    await send(ana, 1, 'over');
    const resync = await silent.next(isType('resync'));
    expect(resync).toMatchObject({ reason: 'too_far_behind', crew_code: code, crew: { latest_seq: expect.any(Number) } });
    const latest = (resync.crew as { latest_seq: number }).latest_seq;
    await waitUntil(async () => (await gauge('leeloo_held_events')) === 0, 'the held events to be released');
    // Nothing that was held is sent after all; what comes next is live, after the state's seq.
    await send(ana, 1, 'after');
    const next = await silent.next(isType('message'));
    expect(next).toMatchObject({ payload: { text: 'after 0' } });
    expect(next.seq as number).toBeGreaterThan(latest);
    expect(silent.received.filter((f) => f.type === 'message')).toHaveLength(1);
  }, 30_000);

  it('a socket that resumes within the cap gets everything in order and no resync', async () => {
    await start();
    const { ana, code, bo } = await crewOfTwo();
    const back = await connect();
    const welcome = await hello(back, 'Bo', bo);
    const lastSeen = (welcome.crew as { latest_seq: number }).latest_seq;
    await send(ana, HELD_CAP, 'held');
    back.send({ type: 'resume', crew_code: code, after_seq: lastSeen });
    await back.next(isType('resumed'));
    await back.barrier();
    const texts = back.received.filter((f) => f.type === 'message').map((f) => (f.payload as { text: string }).text);
    expect(texts).toEqual(Array.from({ length: HELD_CAP }, (_, i) => `held ${i}`));
    expect(back.received.some((f) => f.type === 'resync')).toBe(false);
    expect(await gauge('leeloo_held_events')).toBe(0);
  }, 30_000);
});

/**
 * Holds the next call of one of the relay's crew-store methods until `open()`: the relay's read
 * waits there, so the test decides what happens meanwhile. Later calls go straight through.
 */
function holdNextCall(crews: CrewStore, name: 'listMembers' | 'firstSeq' | 'readEvents'): { reached: Promise<void>; open(): Promise<void> } {
  const target = crews as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const real = target[name]!;
  let arrive!: () => void;
  let go!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const opened = new Promise<void>((resolve) => (go = resolve));
  let answered: Promise<unknown> = Promise.resolve();
  target[name] = (...args: unknown[]) => {
    target[name] = real;
    arrive();
    answered = opened.then(() => real.apply(crews, args));
    return answered;
  };
  return {
    reached,
    async open() {
      go();
      await answered.catch(() => undefined);
      // The caller goes on in the microtasks after the answer: let them run.
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

/**
 * What a gadget that resumed from `from` makes of the frames it then got, as device/relay-client.ts
 * does (a resync sets its seq to the state's; an event moves it on): Ana's texts (`texts`, their
 * seqs) must each arrive once, in seq order, after the state it took last, and a `resumed` must
 * follow every text it says it replayed (after its `after_seq`, up to its `latest_seq`), whatever
 * came before it. Returns what went wrong.
 */
function deliveryProblems(frames: Frame[], from: number, texts: number[]): string[] {
  const problems: string[] = [];
  let at = from;
  const got = new Set<number>();
  const due = () => texts.filter((seq) => seq > at);
  for (const frame of frames) {
    if (frame.type === 'resync') {
      const seq = (frame.crew as { latest_seq: number }).latest_seq;
      if (seq < at) problems.push(`a resync took the gadget back from seq ${at} to ${seq}`);
      at = seq;
    } else if (frame.type === 'message') {
      const seq = frame.seq as number;
      const skipped = due().filter((s) => s < seq);
      if (seq <= at) problems.push(`seq ${seq} sent again after ${at}`);
      else if (skipped.length > 0) problems.push(`seq ${seq} sent without ${skipped.join(', ')}`);
      at = Math.max(at, seq);
      got.add(seq);
    } else if (frame.type === 'resumed') {
      const [after, latest] = [frame.after_seq as number, frame.latest_seq as number];
      const missing = texts.filter((seq) => seq > after && seq <= latest && !got.has(seq));
      if (missing.length > 0) problems.push(`resumed from ${after} to ${latest} without ${missing.join(', ')}`);
    }
  }
  if (due().length > 0) problems.push(`never sent ${due().join(', ')}`);
  return problems;
}

/** Ana's crew with Bo's gadget back in it, silent after `welcome`: it has seen up to `from`. */
async function silentGadget(): Promise<{ ana: TestClient; gadget: TestClient; crews: CrewStore; from: number; resume: () => void }> {
  await start();
  const { ana, code, bo } = await crewOfTwo();
  const gadget = await connect();
  const from = ((await hello(gadget, 'Bo', bo)).crew as { latest_seq: number }).latest_seq;
  return { ana, gadget, crews: relay!.store.crews, from, resume: () => gadget.send({ type: 'resume', crew_code: code, after_seq: from }) };
}

/*
 * A socket told to resync for being too far behind, and the device's `resume`, overlapping: every
 * text from the resume point on reaches the gadget once and in order, or comes after a resync that
 * covers it — never a `resumed` with a gap, a text twice, or a resync older than what was sent.
 * Store reads are held at chosen points, so each interleaving happens every time.
 */
describe('a resume and a too-far-behind resync that overlap', () => {
  it('the resume replays while the resync reads the crew: no resync older than the replay comes after it', async () => {
    const { ana, gadget, crews, from, resume } = await silentGadget();
    const resyncRead = holdNextCall(crews, 'listMembers');
    const texts = await send(ana, HELD_CAP + 1, 'held');
    await resyncRead.reached;
    texts.push(...(await send(ana, 3, 'during')));
    resume();
    await gadget.next(isType('resumed'));
    await resyncRead.open();
    texts.push(...(await send(ana, 1, 'after')));
    await gadget.barrier();
    expect(deliveryProblems(gadget.received, from, texts)).toEqual([]);
  }, 30_000);

  /**
   * The resync's read waits until the resume waits at `resumeRead`; then the resync's read goes
   * on, Ana sends two more texts, and the resume goes on. Returns deliveryProblems.
   */
  async function resyncEndsWhileResumeWaitsAt(resumeRead: 'firstSeq' | 'readEvents'): Promise<string[]> {
    const { ana, gadget, crews, from, resume } = await silentGadget();
    const resyncRead = holdNextCall(crews, 'listMembers');
    const texts = await send(ana, HELD_CAP + 1, 'held');
    await resyncRead.reached;
    const resumeWaits = holdNextCall(crews, resumeRead);
    resume();
    await resumeWaits.reached;
    await resyncRead.open();
    texts.push(...(await send(ana, 2, 'during')));
    await resumeWaits.open();
    await gadget.next(isType('resumed'));
    await gadget.barrier();
    return deliveryProblems(gadget.received, from, texts);
  }

  it('the resync ends before the resume reads where to start: nothing is sent twice', async () => {
    expect(await resyncEndsWhileResumeWaitsAt('firstSeq')).toEqual([]);
  }, 30_000);

  it('the resync ends while the resume reads the log: live events do not overtake the replay, nor does a resumed claim what it did not replay', async () => {
    expect(await resyncEndsWhileResumeWaitsAt('readEvents')).toEqual([]);
  }, 30_000);

  it('a resync that starts while the resume reads where to start: the resume stops, nothing is sent twice', async () => {
    const { ana, gadget, crews, from, resume } = await silentGadget();
    const texts = await send(ana, 3, 'before');
    const resumeRead = holdNextCall(crews, 'firstSeq');
    resume();
    await resumeRead.reached;
    texts.push(...(await send(ana, HELD_CAP, 'held')));
    await gadget.next(isType('resync'));
    texts.push(...(await send(ana, 1, 'after')));
    await resumeRead.open();
    await gadget.barrier();
    expect(deliveryProblems(gadget.received, from, texts)).toEqual([]);
  }, 30_000);
});

/** An event stream read from the start (`reading`), or paused after the headers until `resume` reads the rest. */
function openStream(cookie: string, reading: boolean): Promise<{ text: () => string; ended: Promise<void>; resume: () => void }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const request = http.get(`${relay!.httpUrl}/crew/api/events?after=0`, { headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`the event stream answered ${res.statusCode}`));
      const ended = new Promise<void>((done) => res.once('close', () => done()));
      res.on('error', () => undefined);
      const read = () => res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8'))).resume();
      if (reading) read();
      else res.pause();
      resolve({ text: () => text, ended, resume: read });
    });
    request.once('error', () => undefined);
  });
}

describe('crew-page event streams', () => {
  it('a stream whose reader stopped is cut off past SEND_BUFFER_LIMIT_BYTES; a reading one is not', async () => {
    const lines: string[] = [];
    relay = await startInProcessRelay({
      env: { SEND_BUFFER_LIMIT_BYTES: String(64 * 1024), RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '100000' },
      features: [queueWithCrewPages()],
      log: createLogger('info', { write: (line: string) => void lines.push(line) }),
    });
    const { ana } = await crewOfTwo();
    const cookie = await crewCookie(relay.httpUrl, ana);
    const stopped = await openStream(cookie, false);
    const reading = await openStream(cookie, true);
    let readingEnded = false;
    void reading.ended.then(() => (readingEnded = true));
    const cutOff = () => lines.some((l) => l.includes('stream stopped reading; cut off'));

    // 3 KB texts: the kernel's buffers fill first, then the relay's, then the limit.
    const text = 'x'.repeat(3000);
    let sent = 0;
    while (!cutOff() && sent < 20_000) {
      await ana.request(
        { type: 'message', msg_type: 'text', payload: { text }, client_msg_id: `big-${sent}` },
        isType('ack', { client_msg_id: `big-${sent}` }),
      );
      sent += 1;
    }
    expect(cutOff()).toBe(true);
    await send(ana, 1, 'still-here');
    await waitUntil(() => reading.text().includes('still-here 0'), 'the reading stream to receive the last event');
    expect(readingEnded).toBe(false);
    // The stopped reader, reading again, finds its stream ended short of what came later.
    stopped.resume();
    await stopped.ended;
    expect(stopped.text()).not.toContain('still-here 0');
    expect(stopped.text().split('event: message').length - 1).toBeLessThan(sent);
  }, 60_000);
});
