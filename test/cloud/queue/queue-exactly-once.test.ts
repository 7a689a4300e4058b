import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queueFeatureFactory } from '../../../cloud/queue/queue-feature.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type TestClient } from '../../helpers/ws-client.js';

/*
 * A careless client retries a queue command long after it was applied (its ack was lost and
 * hundreds of other changes went by). The relay answers the retry from its store with the
 * original seq and duplicate: true, and never applies it again.
 */

let relay: InProcessRelay;
let owner: TestClient;
let ann: TestClient;

const track = (i: number) => ({ spotify_uri: `spotify:track:${String(i).padStart(22, 'X')}`, track: `Song ${i}`, artist: 'Band', duration_ms: 200_000 });

async function member(name: string): Promise<TestClient> {
  const client = await relay.connect();
  await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  return client;
}

beforeEach(async () => {
  // The retries here come after 260 changes: the socket rate limit is not what is tested.
  relay = await startInProcessRelay({
    // One queue_state per change: 260 changes from one socket, each acked before the next
    // (coalesced retries are answered as duplicates too: queue-coalescing.test.ts).
    env: { RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000', LEELOO_QUEUE_STATE_INTERVAL_MS: '0' },
    features: [queueFeatureFactory()],
  });
  owner = await member('Olga');
  const created = await owner.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'));
  ann = await member('Ann');
  await ann.request({ type: 'join_crew', crew_code: created.crew_code, display_name: 'Ann' }, isType('crew_joined'));
});

afterEach(async () => {
  owner.ws.close();
  ann.ws.close();
  await relay.close();
});

async function queueNow(client: TestClient) {
  client.drain();
  const state = await client.request({ type: 'queue_get' }, isType('queue_state'));
  return state.queue as { now_playing: { item_id: string; jammed_by: string[] }; up_next: Array<{ item_id: string; voted_up: string[] }> };
}

describe('queue commands are exactly-once', () => {
  it('a queue_jam and a queue_vote retried after 260 other queue changes are not re-applied, and are acked with their seq and duplicate', async () => {
    await owner.request({ type: 'queue_add', ...track(1), client_msg_id: 'add-1' }, isType('ack', { client_msg_id: 'add-1' }));
    await owner.request({ type: 'queue_add', ...track(2), client_msg_id: 'add-2' }, isType('ack', { client_msg_id: 'add-2' }));
    const before = await queueNow(ann);
    const playing = before.now_playing.item_id;
    const next = before.up_next[0]!.item_id;

    const jam = await ann.request({ type: 'queue_jam', item_id: playing, client_msg_id: 'jam-1' }, isType('ack', { client_msg_id: 'jam-1' }));
    expect(jam.seq).toEqual(expect.any(Number));
    expect(jam.duplicate).toBeUndefined();
    const firstVote = await ann.request({ type: 'queue_vote', item_id: next, vote: 'up', client_msg_id: 'vote-0' }, isType('ack', { client_msg_id: 'vote-0' }));
    for (let i = 1; i <= 260; i += 1) {
      const id = `vote-${i}`;
      await ann.request({ type: 'queue_vote', item_id: next, vote: i % 2 === 1 ? 'none' : 'up', client_msg_id: id }, isType('ack', { client_msg_id: id }));
    }
    const after = await queueNow(ann);
    expect(after.now_playing.jammed_by).toHaveLength(1);
    expect(after.up_next[0]!.voted_up).toHaveLength(1); // vote-260 was "up"
    await ann.request({ type: 'queue_vote', item_id: next, vote: 'none', client_msg_id: 'vote-261' }, isType('ack', { client_msg_id: 'vote-261' }));

    ann.drain();
    owner.drain();
    const jamAgain = await ann.request({ type: 'queue_jam', item_id: playing, client_msg_id: 'jam-1' }, isType('ack', { client_msg_id: 'jam-1' }));
    expect(jamAgain).toMatchObject({ seq: jam.seq, duplicate: true });
    const voteAgain = await ann.request({ type: 'queue_vote', item_id: next, vote: 'up', client_msg_id: 'vote-0' }, isType('ack', { client_msg_id: 'vote-0' }));
    expect(voteAgain).toMatchObject({ seq: firstVote.seq, duplicate: true });
    await owner.expectQuiet();

    const final = await queueNow(ann);
    expect(final.now_playing.jammed_by).toHaveLength(1);
    expect(final.up_next[0]!.voted_up).toEqual([]);
  });

  it('a retried crew message is acked with its seq and duplicate, and stored once', async () => {
    const first = await ann.request(
      { type: 'message', msg_type: 'text', payload: { text: 'hi' }, client_msg_id: 't1' },
      isType('ack', { client_msg_id: 't1' }),
    );
    await owner.next(isType('message'));
    owner.drain();
    const again = await ann.request(
      { type: 'message', msg_type: 'text', payload: { text: 'hi' }, client_msg_id: 't1' },
      isType('ack', { client_msg_id: 't1' }),
    );
    expect(again).toMatchObject({ seq: first.seq, duplicate: true });
    await owner.expectQuiet();
  });
});
