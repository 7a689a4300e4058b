import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QueueSnapshot } from '../../../protocol/queue.js';
import { crewCookie } from '../../helpers/crew-link.js';
import { queueWithCrewPages } from '../../helpers/queue-features.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, OpenClients, type Frame, type TestClient } from '../../helpers/ws-client.js';

/*
 * Vote to skip through the surfaces people use: gadgets on sockets and a phone on the crew
 * page's API, in a real relay (LEELOO_QUEUE_STATE_INTERVAL_MS 0: one queue_state per change):
 * more than half of the members online skip the playing track, whoever is offline does not
 * count, the owner's own skip needs no votes.
 */

const track = (i: number) => ({ spotify_uri: `spotify:track:${String(i).padStart(22, 'V')}`, track: `Song ${i}`, artist: 'Band', duration_ms: 200_000 });

let relay: InProcessRelay;
const clients = new OpenClients(() => relay.connect());
let owner: TestClient;
let crewCode: string;

async function member(name: string): Promise<{ client: TestClient; deviceId: string }> {
  const client = await clients.connect();
  const welcome = await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  await client.request({ type: 'join_crew', crew_code: crewCode, display_name: name }, isType('crew_joined'));
  return { client, deviceId: String(welcome.device_id) };
}

const queueChange = (kind: string) => (f: Frame) => f.type === 'queue_state' && (f.change as { kind: string }).kind === kind;

beforeEach(async () => {
  relay = await startInProcessRelay({ env: { LEELOO_QUEUE_STATE_INTERVAL_MS: '0' }, features: [queueWithCrewPages()] });
  owner = await clients.connect();
  await owner.request({ type: 'hello', protocol_version: 3, device_name: 'Olga' }, isType('welcome'));
  crewCode = String((await owner.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'))).crew_code);
});

afterEach(async () => {
  await clients.closeAll();
  await relay.close();
});

describe('vote to skip', () => {
  it('skips when more than half of the members online voted; an offline member does not count', async () => {
    const [ann, bob, cy] = [await member('Ann'), await member('Bob'), await member('Cy')];
    for (const i of [1, 2]) await owner.request({ type: 'queue_add', ...track(i), client_msg_id: `add-${i}` }, isType('ack'));
    const first = (await owner.request({ type: 'queue_get' }, queueChange('snapshot'))).queue as QueueSnapshot;
    const playing = first.now_playing!.item_id;

    // Four online: three votes needed.
    const voted = ann.client.next(queueChange('skip_voted'));
    await bob.client.request({ type: 'queue_skip_vote', item_id: playing, client_msg_id: 'b1' }, isType('ack'));
    expect(((await voted).queue as QueueSnapshot).now_playing).toMatchObject({ item_id: playing, skip_votes: [bob.deviceId] });
    await ann.client.request({ type: 'queue_skip_vote', item_id: playing, client_msg_id: 'a1' }, isType('ack'));
    let now = (await owner.request({ type: 'queue_get' }, queueChange('snapshot'))).queue as QueueSnapshot;
    expect(now.now_playing).toMatchObject({ item_id: playing, skip_votes: [bob.deviceId, ann.deviceId] });

    // A retry of the same vote changes nothing and is acked as a duplicate.
    const retry = await ann.client.request({ type: 'queue_skip_vote', item_id: playing, client_msg_id: 'a1' }, isType('ack'));
    expect(retry.duplicate).toBe(true);

    // Cy leaves: three online, two votes are a majority; Ann's taking back and voting again skips.
    await cy.client.close();
    await owner.next(isType('member_offline'));
    await ann.client.request({ type: 'queue_skip_vote', item_id: playing, skip: false, client_msg_id: 'a2' }, isType('ack'));
    const skipped = owner.next(queueChange('skipped'));
    await ann.client.request({ type: 'queue_skip_vote', item_id: playing, client_msg_id: 'a3' }, isType('ack'));
    const after = await skipped;
    expect(after.change).toMatchObject({ kind: 'skipped', item_id: playing, by: ann.deviceId });
    expect((after.queue as QueueSnapshot).now_playing).toMatchObject({ spotify_uri: track(2).spotify_uri, skip_votes: [] });

    // A vote for the track that played before counts for nothing.
    const late = await bob.client.request({ type: 'queue_skip_vote', item_id: playing, client_msg_id: 'b2' }, isType('error'));
    expect(late).toMatchObject({ code: 'conflict', client_msg_id: 'b2' });
    now = (await owner.request({ type: 'queue_get' }, queueChange('snapshot'))).queue as QueueSnapshot;
    expect(now.now_playing?.skip_votes).toEqual([]);
  });

  it("counts a phone on the crew page as online, and the owner's skip needs no votes", async () => {
    const ann = await member('Ann');
    for (const i of [1, 2, 3]) await owner.request({ type: 'queue_add', ...track(i), client_msg_id: `add-${i}` }, isType('ack'));
    const cookie = await crewCookie(relay.httpUrl, ann.client);
    // Ann's gadget goes offline; her phone still votes: Olga and Ann are the two online, both must vote.
    await ann.client.close();
    await owner.next(isType('member_offline'));
    const playing = ((await owner.request({ type: 'queue_get' }, queueChange('snapshot'))).queue as QueueSnapshot).now_playing!.item_id;
    const vote = (skip: boolean) =>
      fetch(`${relay.httpUrl}/crew/api/queue/${playing}/skip-vote`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ skip }),
      });
    const answer = await vote(true);
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { queue: QueueSnapshot }).queue.now_playing).toMatchObject({ item_id: playing, skip_votes: [ann.deviceId] });
    const bad = await fetch(`${relay.httpUrl}/crew/api/queue/${playing}/skip-vote`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: '{"skip":"yes"}',
    });
    expect(bad.status).toBe(400);

    const skipped = await owner.request({ type: 'queue_skip', item_id: playing, client_msg_id: 'skip-1' }, isType('ack'));
    expect(skipped.seq).toBeGreaterThan(0);
    const now = ((await owner.request({ type: 'queue_get' }, queueChange('snapshot'))).queue as QueueSnapshot).now_playing!;
    expect(now).toMatchObject({ spotify_uri: track(2).spotify_uri, skip_votes: [] });
  });
});
