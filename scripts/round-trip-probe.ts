/**
 * A socket answered by this process's event loop, pinged from another thread: how long a
 * client of the relay waits for an answer while this process is busy (an import, say).
 * The server echoes lines on 127.0.0.1; a worker thread (its own event loop, so it is not
 * delayed by ours) sends a numbered line every `intervalMs` and times each answer.
 */
import net from 'node:net';
import { Worker } from 'node:worker_threads';

export interface RoundTrips {
  readonly sent: number;
  readonly answered: number;
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly medianMs: number;
  /** The probe thread's own longest lateness on a 10 ms ticker: the machine's share of any wait (a loaded CPU). */
  readonly machineStallMs: number;
}

export interface RoundTripProbe {
  /** Stops pinging once every ping sent is answered (or after `graceMs`), and reports; once. */
  stop(graceMs?: number): Promise<RoundTrips>;
}

// Plain JavaScript: the worker runs it as it is, whatever loader runs this script.
const PINGER = `
const net = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const sentAt = new Map();
const times = [];
let sent = 0;
let buffered = '';
let stopping = null;
let machineStall = 0;
let lastTick = performance.now();
const ticker = setInterval(() => {
  const now = performance.now();
  machineStall = Math.max(machineStall, now - lastTick - 10);
  lastTick = now;
}, 10);
const socket = net.connect(workerData.port, '127.0.0.1');
socket.setNoDelay(true);
socket.setEncoding('utf8');
const report = () => {
  clearInterval(timer);
  clearInterval(ticker);
  socket.destroy();
  parentPort.postMessage({ sent, times, machineStall });
};
socket.on('data', (data) => {
  buffered += data;
  let end;
  while ((end = buffered.indexOf('\\n')) >= 0) {
    const id = Number(buffered.slice(0, end));
    buffered = buffered.slice(end + 1);
    times.push(performance.now() - sentAt.get(id));
    sentAt.delete(id);
  }
  if (stopping && sentAt.size === 0) report();
});
const timer = setInterval(() => {
  if (stopping) return;
  sentAt.set(sent, performance.now());
  socket.write(sent + '\\n');
  sent += 1;
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  stopping = message;
  if (sentAt.size === 0) report();
  else setTimeout(report, message.graceMs);
});
`;

export async function startRoundTripProbe(intervalMs: number): Promise<RoundTripProbe> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const worker = new Worker(PINGER, { eval: true, workerData: { port, intervalMs } });
  const connected = new Promise<void>((resolve) => server.once('connection', () => resolve()));
  await connected;
  let stopped: Promise<RoundTrips> | null = null;
  const finish = async (graceMs: number): Promise<RoundTrips> => {
    const reported = new Promise<{ sent: number; times: number[]; machineStall: number }>((resolve) => worker.once('message', resolve));
    worker.postMessage({ graceMs });
    const { sent, times, machineStall } = await reported;
    await worker.terminate();
    server.close();
    const sorted = [...times].sort((a, b) => a - b);
    const at = (share: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * share))] ?? 0);
    return {
      sent,
      answered: times.length,
      maxMs: Math.round(sorted.at(-1) ?? 0),
      p99Ms: at(0.99),
      medianMs: at(0.5),
      machineStallMs: Math.round(machineStall),
    };
  };
  return { stop: (graceMs = 5_000) => (stopped ??= finish(graceMs)) };
}
