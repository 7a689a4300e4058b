import { afterEach, describe, expect, it } from 'vitest';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { waitUntil } from '../helpers/wait-until.js';
import { hello, isType, type Frame, type TestClient } from '../helpers/ws-client.js';

/*
 * A relay with more load than it can carry runs its event loop late. The relay here runs in the
 * test's process, so the test makes it late by holding the loop: the frames sent just before
 * are read once it is free, by a relay 150 ms late.
 */

let relay: InProcessRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

function holdTheLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Busy: nothing else runs on this loop meanwhile, as under a backlog.
  }
}

async function crewOfTwo(env: Record<string, string>): Promise<{ ann: TestClient; ben: TestClient; code: string }> {
  relay = await startInProcessRelay({ env });
  const ann = await relay.connect();
  await hello(ann, 'Ann');
  const created = await ann.request({ type: 'create_crew', display_name: 'Ann' }, isType('crew_created'));
  const ben = await relay.connect();
  await hello(ben, 'Ben');
  await ben.request({ type: 'join_crew', crew_code: created.crew_code, display_name: 'Ben' }, isType('crew_joined'));
  await ann.barrier();
  return { ann, ben, code: String(created.crew_code) };
}

const text = (body: string, clientMsgId: string) => ({ type: 'message', msg_type: 'text', payload: { text: body }, client_msg_id: clientMsgId });
const answerTo = (clientMsgId: string) => (f: Frame) => (f.type === 'ack' || f.type === 'error') && f.client_msg_id === clientMsgId;

describe('a relay running late (OVERLOAD_LAG_MS)', () => {
  it('refuses a crew message rate_limited with a retry_after_ms, stores nothing of it, and takes it when sent again', async () => {
    // RATE_LIMIT_CLOSE_AFTER 1: a refusal for the sender's own rate would close the socket; this one does not.
    const { ann, ben } = await crewOfTwo({ OVERLOAD_LAG_MS: '50', RATE_LIMIT_CLOSE_AFTER: '1' });
    const answer = ann.next(answerTo('late-1'));
    ann.send(text('sent while the relay is busy', 'late-1'));
    holdTheLoop(150);
    const refusal = await answer;
    expect(refusal).toMatchObject({ type: 'error', code: 'rate_limited', ref_type: 'message', message: expect.stringMatching(/busy/) });
    expect(refusal.retry_after_ms).toBeGreaterThanOrEqual(500);
    expect(refusal.retry_after_ms).toBeLessThan(1500);
    await ann.barrier();
    const [crew] = await relay!.store.crews.listCrews({ limit: 1 });
    const stored = await relay!.store.log.readEvents(crew!.crewId, 0);
    expect(stored.filter((e) => e.event.type === 'message')).toEqual([]);

    // Sent again once the loop is on time, as a gadget does after the wait (/health says how late it runs).
    await waitUntil(
      async () => ((await (await fetch(`${relay!.httpUrl}/health`)).json()) as { event_loop_lag_ms: number }).event_loop_lag_ms < 50,
      'the loop to be on time',
    );
    const ack = await ann.request(text('sent while the relay is busy', 'late-1'), answerTo('late-1'));
    expect(ack).toMatchObject({ type: 'ack', seq: expect.any(Number) });
    expect(await ben.next(isType('message'))).toMatchObject({ payload: { text: 'sent while the relay is busy' }, seq: ack.seq });
    expect(ann.ws.readyState).toBe(ann.ws.OPEN);
    const metrics = await (await fetch(`${relay!.httpUrl}/metrics`)).text();
    expect(Number(/^leeloo_overload_refusals_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('takes an older gadget’s crew message however late: it would never send a refused one again', async () => {
    const { ann, ben, code } = await crewOfTwo({ OVERLOAD_LAG_MS: '50' });
    const old = await relay!.connect();
    old.send({ type: 'join_crew', crew_code: code, device_id: 'old-gen2', display_name: 'Old' });
    await old.next(isType('crew_joined'));
    await ann.barrier();
    old.send({ type: 'message', msg_type: 'text', payload: { text: 'from an older gadget' } });
    holdTheLoop(150);
    expect(await ben.next(isType('message'))).toMatchObject({ payload: { text: 'from an older gadget' } });
    expect((await old.barrier()).filter((f) => f.type === 'error')).toEqual([]);
  });

  it('still answers what is not a crew message: a ping read late gets its pong', async () => {
    const { ann } = await crewOfTwo({ OVERLOAD_LAG_MS: '50' });
    const pong = ann.next(isType('pong'));
    ann.send({ type: 'ping' });
    holdTheLoop(150);
    expect(await pong).toMatchObject({ type: 'pong' });
  });

  it('never refuses for lateness with OVERLOAD_LAG_MS=0', async () => {
    const { ann, ben } = await crewOfTwo({ OVERLOAD_LAG_MS: '0' });
    const answer = ann.next(answerTo('on-1'));
    ann.send(text('taken however late', 'on-1'));
    holdTheLoop(150);
    expect(await answer).toMatchObject({ type: 'ack' });
    expect(await ben.next(isType('message'))).toMatchObject({ payload: { text: 'taken however late' } });
  });
});
