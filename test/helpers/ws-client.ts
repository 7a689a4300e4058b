import { WebSocket } from 'ws';

export type Frame = Record<string, unknown> & { type: string };
export type FramePredicate = (frame: Frame) => boolean;

/** Matches frames by type and, optionally, by a few field values. */
export function isType(type: string, fields: Record<string, unknown> = {}): FramePredicate {
  return (frame) => frame.type === type && Object.entries(fields).every(([k, v]) => frame[k] === v);
}

interface Waiter {
  predicate: FramePredicate;
  resolve(frame: Frame): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A WebSocket client for tests. It queues every frame it receives; `next` takes the first
 * queued or future frame matching a predicate (others stay queued) or fails after a timeout.
 * `expectQuiet` proves nothing else arrived, with an app-level ping/pong round trip as the
 * barrier: the relay handles a socket's frames in order, so the pong comes after anything
 * the earlier frames caused.
 */
export class TestClient {
  readonly ws: WebSocket;
  readonly queue: Frame[] = [];
  /** Every frame ever received, in order (for counting). */
  readonly received: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly waiters: Waiter[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data, isBinary) => this.onMessage(data.toString(), isBinary));
    ws.on('error', () => undefined);
    ws.once('close', () => this.failWaiters(new Error('the socket closed')));
  }

  /** `headers` go with the upgrade request (e.g. X-Forwarded-For behind TRUST_PROXY). */
  static connect(url: string, timeoutMs = 5000, headers: Record<string, string> = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const client = new TestClient(ws);
      const timer = setTimeout(() => reject(new Error(`could not connect to ${url} within ${timeoutMs} ms`)), timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(client);
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  private onMessage(text: string, isBinary: boolean): void {
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      frame = { type: '__unparseable__', text, isBinary };
    }
    this.received.push(frame);
    const index = this.waiters.findIndex((w) => w.predicate(frame));
    if (index >= 0) {
      const [waiter] = this.waiters.splice(index, 1);
      clearTimeout(waiter!.timer);
      waiter!.resolve(frame);
      return;
    }
    this.queue.push(frame);
  }

  private failWaiters(error: Error): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  sendBinary(data: Buffer): void {
    this.ws.send(data, { binary: true });
  }

  /** The first frame matching `predicate` (any frame when omitted). */
  next(predicate: FramePredicate = () => true, timeoutMs = 5000): Promise<Frame> {
    const index = this.queue.findIndex(predicate);
    if (index >= 0) return Promise.resolve(this.queue.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(
          this.waiters.findIndex((w) => w.timer === timer),
          1,
        );
        const seen = this.queue.map((f) => JSON.stringify(f).slice(0, 300)).join(', ') || 'nothing';
        reject(new Error(`no matching frame within ${timeoutMs} ms (queued: ${seen})`));
      }, timeoutMs);
      this.waiters.push({ predicate, resolve, reject, timer });
    });
  }

  /** Sends `message` and waits for the frame matching `predicate`. */
  async request(message: unknown, predicate: FramePredicate, timeoutMs = 5000): Promise<Frame> {
    const answer = this.next(predicate, timeoutMs);
    this.send(message);
    return answer;
  }

  /** Removes and returns every queued frame. */
  drain(): Frame[] {
    return this.queue.splice(0);
  }

  /** Round-trips a ping, then returns the frames queued before the pong (and removes them). */
  async barrier(timeoutMs = 5000): Promise<Frame[]> {
    await this.request({ type: 'ping' }, isType('pong'), timeoutMs);
    return this.drain();
  }

  /** Fails when any frame other than those the filter ignores arrived before a ping/pong barrier. */
  async expectQuiet(ignore: FramePredicate = () => false, timeoutMs = 5000): Promise<void> {
    const extra = (await this.barrier(timeoutMs)).filter((f) => !ignore(f));
    if (extra.length > 0) throw new Error(`expected no more frames, got: ${JSON.stringify(extra)}`);
  }

  close(code = 1000): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code);
    return this.closed;
  }

  /** Drops the connection without a closing handshake, as a lost network would. */
  terminate(): Promise<{ code: number; reason: string }> {
    this.ws.terminate();
    return this.closed;
  }
}

/** The clients a suite opened, so that one hook closes them all. */
export class OpenClients {
  private readonly open: TestClient[] = [];

  constructor(private readonly connectTo: () => Promise<TestClient>) {}

  /** A new client, closed by closeAll. */
  readonly connect = async (): Promise<TestClient> => {
    const client = await this.connectTo();
    this.open.push(client);
    return client;
  };

  async closeAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map((c) => c.close()));
  }
}

/** A current-generation `hello` (with the identity of a device that has one) and its `welcome`. */
export function hello(client: TestClient, name: string, identity?: { device_id: string; device_secret: string }): Promise<Frame> {
  return client.request({ type: 'hello', protocol_version: 3, device_name: name, ...identity }, isType('welcome'));
}

/** The frames the client receives up to and including the first that `end` matches. */
export async function collectUntil(client: TestClient, end: FramePredicate, timeoutMs = 10_000): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (;;) {
    const frame = await client.next(() => true, timeoutMs);
    frames.push(frame);
    if (end(frame)) return frames;
  }
}
