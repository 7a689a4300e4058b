/**
 * The Pi-side connection test: can this machine reach the relay and use it?
 *
 *   npx tsx scripts/test-relay-connection.ts [ws(s)://host/ws] [--crew LEELOO-XXXX] [--name NAME]
 *
 * The URL may also come from LEELOO_RELAY_URL. It connects, says hello (as a throwaway
 * device), creates a test crew (or joins --crew), pings, shares a test track, checks
 * that a resend is deduplicated, and leaves the crew. One PASS/FAIL line per step; the
 * summary line comes last; the exit code is non-zero when a step failed.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, parseOutbound, type InboundMessage, type OutboundMessage } from '../protocol/index.js';

const STEP_TIMEOUT_MS = 8000;

interface Options {
  url: string;
  crew: string | null;
  name: string;
}

function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): Options {
  const options: Options = { url: env.LEELOO_RELAY_URL ?? 'ws://127.0.0.1:8080/ws', crew: null, name: 'connection test' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--crew') options.crew = argv[++i] ?? null;
    else if (arg === '--name') options.name = argv[++i] ?? options.name;
    else if (/^wss?:\/\//.test(arg)) options.url = arg;
    else throw new Error(`Unknown argument "${arg}". Usage: test-relay-connection.ts [ws(s)://host/ws] [--crew CODE] [--name NAME]`);
  }
  return options;
}

/** One socket, with a queue of parsed frames that steps wait on. */
class Connection {
  private readonly frames: OutboundMessage[] = [];
  private waiter: (() => void) | null = null;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const parsed = parseOutbound(String(data));
      if (parsed.ok) this.frames.push(parsed.message);
      this.waiter?.();
    });
    socket.on('close', () => this.waiter?.());
  }

  static open(url: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { handshakeTimeout: STEP_TIMEOUT_MS });
      socket.once('open', () => resolve(new Connection(socket)));
      socket.once('error', (error) => reject(new Error(`cannot connect to ${url}: ${error.message}`)));
    });
  }

  send(message: InboundMessage): void {
    this.socket.send(JSON.stringify(message));
  }

  /** The first frame matching `test`; an `error` frame or a closed socket fails the step. */
  async next<T extends OutboundMessage>(test: (m: OutboundMessage) => m is T): Promise<T> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const index = this.frames.findIndex((m) => test(m) || m.type === 'error');
      if (index >= 0) {
        const [frame] = this.frames.splice(index, 1) as [OutboundMessage];
        if (frame.type === 'error' && !test(frame)) throw new Error(`relay answered ${frame.code}: ${frame.message}`);
        return frame as T;
      }
      if (this.socket.readyState !== WebSocket.OPEN) throw new Error('the relay closed the connection');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer within ${STEP_TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => (clearTimeout(timer), resolve());
      });
    }
  }
}

const is =
  <K extends OutboundMessage['type']>(type: K) =>
  (m: OutboundMessage): m is Extract<OutboundMessage, { type: K }> =>
    m.type === type;

interface StepResult {
  name: string;
  ok: boolean;
  detail: string;
}

async function runSteps(options: Options): Promise<StepResult[]> {
  const results: StepResult[] = [];
  let connection: Connection | null = null;
  const step = async (name: string, run: () => Promise<string>): Promise<boolean> => {
    const started = Date.now();
    try {
      const detail = await run();
      results.push({ name, ok: true, detail: `${detail} (${Date.now() - started} ms)` });
      return true;
    } catch (error) {
      results.push({ name, ok: false, detail: (error as Error).message });
      return false;
    }
  };
  const share = {
    artist: 'LEELOO',
    track: 'Connection test',
    album: '',
    spotify_uri: 'spotify:track:4uLU6hMCjMI75M1A2tKUQC',
    album_art_url: '',
    note: 'sent by test-relay-connection',
  };
  const clientMsgId = randomUUID();
  const steps: [string, () => Promise<string>][] = [
    [
      'connect',
      async () => {
        connection = await Connection.open(options.url);
        return `connected to ${options.url}`;
      },
    ],
    [
      'hello',
      async () => {
        connection!.send({ type: 'hello', protocol_version: PROTOCOL_VERSION, device_name: options.name });
        const welcome = await connection!.next(is('welcome'));
        return `device ${welcome.device_id}, protocol ${welcome.protocol_version}${welcome.device_secret ? ', credential issued' : ''}`;
      },
    ],
    [
      options.crew ? 'join crew' : 'create crew',
      async () => {
        connection!.send(
          options.crew ? { type: 'join_crew', crew_code: options.crew, display_name: options.name } : { type: 'create_crew', display_name: options.name },
        );
        const answer = await connection!.next(
          (m): m is Extract<OutboundMessage, { type: 'crew_created' | 'crew_joined' }> => m.type === 'crew_created' || m.type === 'crew_joined',
        );
        return `in crew ${answer.crew_code}`;
      },
    ],
    [
      'ping',
      async () => {
        const sent = Date.now();
        connection!.send({ type: 'ping' });
        await connection!.next(is('pong'));
        return `pong after ${Date.now() - sent} ms`;
      },
    ],
    [
      'share test track',
      async () => {
        connection!.send({ type: 'message', msg_type: 'song_push', payload: share, client_msg_id: clientMsgId });
        const ack = await connection!.next((m): m is Extract<OutboundMessage, { type: 'ack' }> => m.type === 'ack' && m.client_msg_id === clientMsgId);
        return `acked as seq ${ack.seq ?? '?'}`;
      },
    ],
    [
      'resend is deduplicated',
      async () => {
        connection!.send({ type: 'message', msg_type: 'song_push', payload: share, client_msg_id: clientMsgId });
        const ack = await connection!.next((m): m is Extract<OutboundMessage, { type: 'ack' }> => m.type === 'ack' && m.client_msg_id === clientMsgId);
        if (!ack.duplicate) throw new Error('the relay accepted the same client_msg_id twice');
        return `duplicate acked with seq ${ack.seq ?? '?'}`;
      },
    ],
    [
      'leave crew',
      async () => {
        connection!.send({ type: 'leave_crew', client_msg_id: randomUUID() });
        const left = await connection!.next(is('crew_left'));
        return `left ${left.crew_code}`;
      },
    ],
  ];
  for (const [name, run] of steps) {
    // Later steps depend on earlier ones: after a failure the rest are reported as skipped.
    if (results.some((r) => !r.ok)) results.push({ name, ok: false, detail: 'skipped after an earlier failure' });
    else await step(name, run);
  }
  (connection as Connection | null)?.socket.close(1000);
  return results;
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    process.stdout.write(`FAIL ${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const results = await runSteps(options);
  for (const r of results) process.stdout.write(`${r.ok ? 'PASS' : 'FAIL'}  ${r.name.padEnd(24)} ${r.detail}\n`);
  const failed = results.filter((r) => !r.ok).length;
  process.stdout.write(
    failed === 0
      ? `RESULT: PASS — all ${results.length} steps passed against ${options.url}\n`
      : `RESULT: FAIL — ${failed} of ${results.length} steps failed against ${options.url}\n`,
  );
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
