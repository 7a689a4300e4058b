import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueWithCrewPages } from '../../helpers/queue-features.js';
import { expectVolleyLimited } from '../../helpers/rate-limit-volley.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type TestClient } from '../../helpers/ws-client.js';

/* A member link used as a weapon: the crew API answers it at a socket's rate, then 429 with Retry-After. */

let relay: InProcessRelay;
const clients: TestClient[] = [];

async function member(name: string, crewCode?: string): Promise<TestClient> {
  const client = await relay.connect();
  clients.push(client);
  await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  if (crewCode) await client.request({ type: 'join_crew', crew_code: crewCode, display_name: name }, isType('crew_joined'));
  return client;
}

/** Trades a member's link for the crew cookie, as the phone's browser does. */
async function cookieOf(client: TestClient): Promise<string> {
  const issued = await client.request({ type: 'crew_link' }, isType('crew_link_issued'));
  const opened = await fetch(relay.httpUrl + new URL(String(issued.url)).pathname, { redirect: 'manual' });
  return opened.headers.get('set-cookie')!.split(';')[0]!;
}

beforeAll(async () => {
  relay = await startInProcessRelay({ env: { RATE_LIMIT_PER_SECOND: '5', RATE_LIMIT_BURST: '10' }, features: [queueWithCrewPages()] });
});
afterAll(async () => {
  for (const client of clients) client.ws.close();
  await relay.close();
});

describe('crew API rate limit per member link', () => {
  it("answers a link firing 500 votes with 429s and Retry-After, and leaves another member's link alone", async () => {
    const owner = await member('Olga');
    const code = String((await owner.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'))).crew_code);
    const ann = await member('Ann', code);
    await owner.request(
      { type: 'queue_add', spotify_uri: `spotify:track:${'V'.repeat(22)}`, track: 'Song', artist: 'Band', duration_ms: 200_000, client_msg_id: 'add' },
      isType('ack'),
    );
    const added = await ann.next(isType('queue_state'));
    const itemId = /"(q_[A-Za-z0-9_-]{16})"/.exec(JSON.stringify(added.queue))![1]!;
    const weapon = await cookieOf(ann);

    await expectVolleyLimited(
      500,
      (i) =>
        fetch(`${relay.httpUrl}/crew/api/queue/${itemId}/vote`, {
          method: 'POST',
          headers: { cookie: weapon, 'content-type': 'application/json' },
          body: JSON.stringify({ vote: i % 2 === 0 ? 1 : -1 }),
        }).then(async (res) => ({ status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { code: string } })),
      { burst: 10, perSecond: 5 },
    );

    const calm = await cookieOf(owner);
    const state = await fetch(`${relay.httpUrl}/crew/api/state`, { headers: { cookie: calm } });
    expect(state.status).toBe(200);
  }, 60_000);
});
