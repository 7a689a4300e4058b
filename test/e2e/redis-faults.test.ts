import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisProcess } from '../helpers/redis-process.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { waitUntil } from '../helpers/wait-until.js';
import { collectUntil, hello, isType, type TestClient } from '../helpers/ws-client.js';

/*
 * Redis goes away in the middle of traffic (SIGKILL: no goodbye) and comes back on the same
 * data (appendonly yes, appendfsync always, as the README asks of production): the relay keeps
 * its sockets, /ready answers 503 meanwhile, writes are refused as `unavailable` (the client
 * retries them with the same client_msg_id), and nothing it acknowledged is lost.
 */

let redis: RedisProcess;
let relays: RelayProcess[];

beforeAll(async () => {
  redis = await RedisProcess.start();
  // The retries below are the test's own traffic, not what it measures: room for them in the rate limit.
  const env = { REDIS_URL: redis.url, LEELOO_REDIS_PREFIX: 'faults:', RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000' };
  relays = await Promise.all([RelayProcess.start({ env }), RelayProcess.start({ env })]);
}, 90_000);

afterAll(async () => {
  await Promise.all((relays ?? []).map((r) => r.cleanup()));
  await redis?.remove();
});

async function readyStatus(relay: RelayProcess): Promise<number> {
  return (await fetch(`${relay.httpUrl}/ready`)).status;
}

/** Sends a text until it is acknowledged; `unavailable` is retried (the same client_msg_id), as every client does. */
async function sendUntilAcked(client: TestClient, id: string, text: string, refusals: { count: number }): Promise<number> {
  for (;;) {
    const answer = await client.request(
      { type: 'message', msg_type: 'text', payload: { text }, client_msg_id: id },
      (f) => f.client_msg_id === id && (f.type === 'ack' || f.type === 'error'),
      10_000,
    );
    if (answer.type === 'ack') return answer.seq as number;
    expect(answer.code).toBe('unavailable');
    refusals.count += 1;
    // A client's retry back-off (the gadgets wait longer); the outage ends when the test restarts Redis.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('Redis restarts in the middle of traffic', () => {
  it('keeps the sockets, answers /ready 503 while Redis is away, and loses nothing it acknowledged', async () => {
    const sender = await relays[0]!.connect();
    await hello(sender, 'Sender');
    const code = (await sender.request({ type: 'create_crew', display_name: 'Sender' }, isType('crew_created'))).crew_code as string;
    const reader = await relays[1]!.connect();
    const welcome = await hello(reader, 'Reader');
    const identity = { device_id: welcome.device_id as string, device_secret: welcome.device_secret as string };
    await reader.request({ type: 'join_crew', crew_code: code, display_name: 'Reader' }, isType('crew_joined'));
    await sender.next(isType('member_joined'));

    const acked = new Map<string, number>();
    const refusals = { count: 0 };
    for (let i = 0; i < 20; i += 1) acked.set(`before-${i}`, await sendUntilAcked(sender, `before-${i}`, `before ${i}`, refusals));

    await redis.stop('SIGKILL');
    await waitUntil(async () => (await readyStatus(relays[0]!)) === 503 && (await readyStatus(relays[1]!)) === 503, '/ready 503 on both processes');
    // Messages sent during the outage are refused (not lost silently), and retried below.
    const during = Array.from({ length: 10 }, (_, i) =>
      sendUntilAcked(sender, `during-${i}`, `during ${i}`, refusals).then((seq) => acked.set(`during-${i}`, seq)),
    );
    await waitUntil(() => refusals.count >= 10, 'the outage refusals');
    await redis.restart();
    await Promise.all(during);
    await waitUntil(async () => (await readyStatus(relays[0]!)) === 200 && (await readyStatus(relays[1]!)) === 200, '/ready 200 again');
    for (let i = 0; i < 20; i += 1) acked.set(`after-${i}`, await sendUntilAcked(sender, `after-${i}`, `after ${i}`, refusals));

    // The sockets stayed open through the outage.
    expect(sender.ws.readyState).toBe(sender.ws.OPEN);
    expect(reader.ws.readyState).toBe(reader.ws.OPEN);

    // Every acknowledged message is in the crew's log: the reader resumes from the start on the other process.
    const back = await relays[1]!.connect();
    await hello(back, 'Reader', identity);
    back.send({ type: 'resume', crew_code: code, after_seq: 0 });
    const replay = await collectUntil(back, isType('resumed'));
    const stored = new Map(replay.filter((f) => f.type === 'message').map((f) => [(f.payload as { text: string }).text, f.seq as number]));
    const lost = [...acked.keys()].filter((id) => !stored.has(id.replace('-', ' ')));
    expect(lost).toEqual([]);
    for (const [id, seq] of acked) expect(stored.get(id.replace('-', ' '))).toBe(seq);
    expect(acked.size).toBe(50);
    expect(refusals.count).toBeGreaterThanOrEqual(10);
  }, 120_000);
});
