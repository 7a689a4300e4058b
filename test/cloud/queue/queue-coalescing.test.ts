import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queueWithCrewPages } from '../../helpers/queue-features.js';
import { crewApi, crewCookie, crewMember } from '../../helpers/crew-link.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type TestClient } from '../../helpers/ws-client.js';

/*
 * A member link fires a burst of votes: every vote is stored and acked with a seq, but the
 * crew's gadgets get at most one queue_state per LEELOO_QUEUE_STATE_INTERVAL_MS, the last one
 * carrying the final queue.
 */

let relay: InProcessRelay;
let clients: TestClient[] = [];
const ITEMS = 10;
const WAVES = 20;

interface Snapshot {
  version: number;
  up_next: { item_id: string; score: number }[];
}

const member = (name: string, join?: string) => crewMember(() => relay.connect(), clients, name, join);

const track = (i: number) => ({ spotify_uri: `spotify:track:${String(i).padStart(22, 'C')}`, track: `Song ${i}`, artist: 'Band', duration_ms: 200_000 });

beforeEach(async () => {
  clients = [];
  relay = await startInProcessRelay({ env: { RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '100000' }, features: [queueWithCrewPages()] });
});
afterEach(async () => {
  for (const client of clients) client.ws.close();
  await relay.close();
});

/** Olga's crew with Ann in it and ITEMS tracks waiting behind the one playing. */
async function crewWithQueue(): Promise<{ olga: TestClient; ann: TestClient; code: string; itemIds: string[] }> {
  const olga = await member('Olga');
  const code = String((await olga.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'))).crew_code);
  const ann = await member('Ann', code);
  for (let i = 0; i <= ITEMS; i += 1) {
    await olga.request({ type: 'queue_add', ...track(i), client_msg_id: `add-${i}` }, isType('ack', { client_msg_id: `add-${i}` }));
  }
  const cookie = await crewCookie(relay.httpUrl, ann);
  const state = await crewApi<{ queue: Snapshot }>(relay.httpUrl, cookie, '/state');
  await olga.barrier();
  return { olga, ann, code, itemIds: state.body.queue.up_next.map((item) => item.item_id) };
}

describe('queue_state fan-out is coalesced', () => {
  it('a burst of 200 votes from a crew page: each answered with a seq, far fewer queue_state frames at a gadget, the last one the final queue', async () => {
    const { olga, ann, itemIds } = await crewWithQueue();
    const cookie = await crewCookie(relay.httpUrl, ann);
    const answers: { status: number; body: { seq: number | null } }[] = [];
    // Each wave votes once on every item, the value flipping per wave: every vote is a change.
    for (let wave = 0; wave < WAVES; wave += 1) {
      const vote = wave % 2 === 0 ? 'up' : 'down';
      answers.push(
        ...(await Promise.all(
          itemIds.map((id, i) =>
            crewApi<{ seq: number | null }>(relay.httpUrl, cookie, `/queue/${id}/vote`, { method: 'POST', body: { vote, client_msg_id: `w${wave}-${i}` } }),
          ),
        )),
      );
    }
    expect(answers).toHaveLength(ITEMS * WAVES);
    for (const answer of answers) expect(answer).toMatchObject({ status: 200, body: { ok: true, seq: expect.any(Number) } });

    const frames = (await olga.barrier()).filter((f) => f.type === 'queue_state');
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.length).toBeLessThanOrEqual((ITEMS * WAVES) / 4);
    const final = (await crewApi<{ queue: Snapshot }>(relay.httpUrl, cookie, '/state')).body.queue;
    const last = frames.at(-1)!.queue as Snapshot;
    expect(last.version).toBe(final.version);
    expect(last.up_next).toEqual(final.up_next);
    expect(final.up_next.every((item) => item.score === -1)).toBe(true);
    // Seqs the votes were answered with are the queue_states' seqs.
    const seqs = new Set(frames.map((f) => f.seq));
    for (const answer of answers) expect(seqs.has(answer.body.seq)).toBe(true);
  }, 60_000);

  it('votes from several gadgets coalesced into one queue_state are each acked with its seq, and a retry of any is answered with it as a duplicate', async () => {
    const { ann, code, itemIds } = await crewWithQueue();
    const voters = [ann, ...(await Promise.all(['Bea', 'Cy', 'Dee', 'Eve'].map((name) => member(name, code))))];
    // Every voter votes on its own two items at once: the relay handles each socket's frames in order, the sockets side by side.
    const votes = voters.flatMap((voter, v) => [0, 1].map((k) => ({ voter, id: itemIds[v * 2 + k]!, msgId: `v-${v}-${k}` })));
    const acks = await Promise.all(
      votes.map(({ voter, id, msgId }) =>
        voter.request({ type: 'queue_vote', item_id: id, vote: 'up', client_msg_id: msgId }, isType('ack', { client_msg_id: msgId })),
      ),
    );
    for (const ack of acks) expect(ack).toMatchObject({ seq: expect.any(Number) });
    expect(new Set(acks.map((a) => a.seq)).size).toBeLessThan(acks.length);
    for (const [i, { voter, id, msgId }] of votes.entries()) {
      const retry = await voter.request({ type: 'queue_vote', item_id: id, vote: 'up', client_msg_id: msgId }, isType('ack', { client_msg_id: msgId }));
      expect(retry).toEqual({ type: 'ack', client_msg_id: msgId, seq: acks[i]!.seq, duplicate: true });
    }
  }, 60_000);

  it("a queue change waiting for its crew's next queue_state does not hold up the gadget's next frames", async () => {
    const slow = await startInProcessRelay({ env: { LEELOO_QUEUE_STATE_INTERVAL_MS: '60000' }, features: [queueWithCrewPages()] });
    try {
      const olga = await crewMember(() => slow.connect(), clients, 'Olga');
      await olga.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'));
      // The first change after a quiet interval goes out at once; the second waits up to a minute for the next queue_state.
      await olga.request({ type: 'queue_add', ...track(1), client_msg_id: 'add-1' }, isType('ack', { client_msg_id: 'add-1' }));
      olga.send({ type: 'queue_add', ...track(2), client_msg_id: 'add-2' });
      const text = await olga.request(
        { type: 'message', msg_type: 'text', payload: { text: 'still here' }, client_msg_id: 'text-1' },
        isType('ack', { client_msg_id: 'text-1' }),
      );
      expect(text).toMatchObject({ seq: expect.any(Number) });
      const seen = await olga.barrier();
      expect(olga.received.some((f) => f.type === 'ack' && f.client_msg_id === 'add-2')).toBe(false);
      expect(seen.filter((f) => f.type === 'error')).toEqual([]);
    } finally {
      await slow.close();
    }
  }, 60_000);
});
