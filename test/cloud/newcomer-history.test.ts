import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { firstVisibleSeq } from '../../cloud/crew-visibility.js';
import { ImportJobs } from '../../cloud/history/import-jobs.js';
import { playInput } from '../../cloud/store/areas/history.js';
import { HistoryQueries } from '../../cloud/history/queries.js';
import { memberHistoryRouter } from '../../cloud/history/routes.js';
import { McpFeature } from '../../cloud/mcp/mcp-feature.js';
import { crewApi, crewCookie, crewStreamUntil } from '../helpers/crew-link.js';
import { buildQueueWithCrewPages } from '../helpers/queue-features.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { waitUntil } from '../helpers/wait-until.js';
import { isType, OpenClients, type Frame, type TestClient } from '../helpers/ws-client.js';

/*
 * A newcomer acting as an attacker would: join a crew that has a past, then ask for that past
 * every way the relay offers (resume from 0, the crew page and its stream, the history API,
 * MCP). It gets the crew from its join on, unless the owner chose to share the history.
 */

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const WEEK_MS = 7 * 86_400_000;

let relay: InProcessRelay;
let jobs: ImportJobs | undefined;
const clients = new OpenClients(() => relay.connect());
const assistants: Client[] = [];

beforeAll(async () => {
  relay = await startInProcessRelay({
    env: { ADMIN_TOKEN },
    features: [
      (context) => {
        const queries = new HistoryQueries(context.store);
        const memberApi = () => {
          jobs = new ImportJobs({ store: context.store.history, log: context.log, maxUploadBytes: 1_000_000, minPlayMs: 30_000 });
          return memberHistoryRouter({ store: context.store, queries, jobs, log: context.log });
        };
        const { queue, crewPages } = buildQueueWithCrewPages(context, { memberApi });
        return [queue, crewPages, new McpFeature(context, { history: queries, queue })];
      },
    ],
  });
});
afterEach(async () => {
  await Promise.all(assistants.splice(0).map((c) => c.close()));
  await clients.closeAll();
});
afterAll(async () => {
  await relay.close();
});

interface Gadget {
  client: TestClient;
  deviceId: string;
  secret: string;
  crewCode: string;
}

async function gadget(name: string, crewCode?: string): Promise<Gadget> {
  const client = await clients.connect();
  const welcome = await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  const entered = crewCode
    ? await client.request({ type: 'join_crew', crew_code: crewCode, display_name: name }, isType('crew_joined'))
    : await client.request({ type: 'create_crew', display_name: name, crew_name: `${name}'s crew` }, isType('crew_created'));
  return { client, deviceId: String(welcome.device_id), secret: String(welcome.device_secret), crewCode: String(entered.crew_code) };
}

/** The same device on a new socket (hello with its credential), as after a reboot. */
async function reconnect(g: Gadget): Promise<TestClient> {
  const client = await clients.connect();
  await client.request({ type: 'hello', protocol_version: 3, device_name: 'again', device_id: g.deviceId, device_secret: g.secret }, isType('welcome'));
  return client;
}

let shares = 0;
async function share(g: Gadget, track: string): Promise<number> {
  const id = `share-${++shares}`;
  const ack = await g.client.request(
    {
      type: 'message',
      msg_type: 'song_push',
      client_msg_id: id,
      payload: { artist: 'Band', track, album: '', spotify_uri: `spotify:track:${track}`, album_art_url: '', note: '' },
    },
    isType('ack', { client_msg_id: id }),
  );
  return Number(ack.seq);
}

async function text(g: Gadget, words: string): Promise<number> {
  const id = `text-${++shares}`;
  const ack = await g.client.request({ type: 'message', msg_type: 'text', payload: { text: words }, client_msg_id: id }, isType('ack', { client_msg_id: id }));
  return Number(ack.seq);
}

/** Resume from `afterSeq`: every frame up to the answer (`resumed` or `resync`). */
async function resumeFrom(client: TestClient, crewCode: string, afterSeq: number): Promise<{ frames: Frame[]; answer: Frame }> {
  client.send({ type: 'resume', crew_code: crewCode, after_seq: afterSeq });
  const frames: Frame[] = [];
  for (;;) {
    const frame = await client.next();
    if (frame.type === 'resumed' || frame.type === 'resync') return { frames, answer: frame };
    frames.push(frame);
  }
}

const tracksIn = (frames: Frame[]) =>
  frames.filter((f) => f.type === 'message' && f.msg_type === 'song_push').map((f) => (f.payload as { track: string }).track);
const textsIn = (frames: Frame[]) => frames.filter((f) => f.type === 'message' && f.msg_type === 'text').map((f) => (f.payload as { text: string }).text);

/** A crew with a past: shares and a text from before the newcomer, and shares weeks ago. */
async function crewWithPast(): Promise<{ owner: Gadget; pastSeqs: number[] }> {
  const owner = await gadget('Olga');
  const crewId = (await relay.store.crews.getCrewByCode(owner.crewCode))!.crewId;
  const pastSeqs = [await share(owner, 'BeforeOne'), await text(owner, 'our secret plans'), await share(owner, 'BeforeTwo')];
  // Shares stored weeks ago (the same weekday), as a crew with a long past has them: throwback and on-this-day read those.
  for (const weeks of [1, 2]) {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - weeks * WEEK_MS);
    const [stored] = await relay.store.log.appendEvents([
      {
        crewId,
        from: { deviceId: owner.deviceId },
        event: {
          type: 'message',
          from_device: owner.deviceId,
          from_name: 'Olga',
          timestamp: Date.now(),
          msg_type: 'song_push',
          payload: { artist: 'Band', track: `WeeksAgo${weeks}`, album: '', spotify_uri: `spotify:track:WeeksAgo${weeks}`, album_art_url: '', note: '' },
        },
      },
    ]);
    vi.useRealTimers();
    pastSeqs.push(stored!.seq);
  }
  return { owner, pastSeqs };
}

async function assistant(deviceId: string): Promise<Client> {
  const res = await fetch(`${relay.httpUrl}/admin/devices/${deviceId}/mcp-token`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const { token } = (await res.json()) as { token: string };
  const client = new Client({ name: 'newcomer-assistant', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${relay.httpUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  assistants.push(client);
  return client;
}
const resultOf = (answer: unknown) => (answer as { structuredContent: { result: unknown } }).structuredContent.result;
const PAST = ['BeforeOne', 'BeforeTwo', 'WeeksAgo1', 'WeeksAgo2', 'our secret plans'];
const mentionsPast = (value: unknown) => PAST.filter((word) => JSON.stringify(value).includes(word));
// The queue is the crew's present (a share before the join may still be queued): only its past events are hidden.
const pastEventsOnStream = (text: string) => mentionsPast(text.split('\n\n').filter((block) => !block.includes('event: queue_state')));
const pastEventsIn = (items: { kind: string; event?: { type: string } }[]) => mentionsPast(items.filter((i) => i.event?.type !== 'queue_state'));

describe('a newcomer reads the crew from its join on', () => {
  it('resume {after_seq: 0} replays from the join on, also after a reconnect: no earlier event, no resync', async () => {
    const { owner } = await crewWithPast();
    const mallory = await gadget('Mallory', owner.crewCode);
    const joinedSeq = (await relay.store.crews.getMembership(mallory.deviceId))!.joinedSeq;
    expect(joinedSeq).toBeGreaterThanOrEqual(5);

    const first = await resumeFrom(mallory.client, owner.crewCode, 0);
    expect(first.answer).toMatchObject({ type: 'resumed', after_seq: joinedSeq });
    expect(tracksIn(first.frames)).toEqual([]);
    expect(textsIn(first.frames)).toEqual([]);
    expect(first.frames.every((f) => Number(f.seq) > joinedSeq)).toBe(true);

    await share(owner, 'AfterJoin');
    expect(await mallory.client.next(isType('message'))).toMatchObject({ payload: { track: 'AfterJoin' } });

    // Rebooted, with its position lost: it asks from 0 again and gets only what followed its join.
    mallory.client.ws.close();
    const again = await reconnect(mallory);
    const second = await resumeFrom(again, owner.crewCode, 0);
    expect(second.answer).toMatchObject({ type: 'resumed', after_seq: joinedSeq });
    expect(tracksIn(second.frames)).toEqual(['AfterJoin']);
    // A resume from inside its own span is answered as before.
    const inside = await resumeFrom(again, owner.crewCode, Number(second.answer.latest_seq));
    expect(inside).toMatchObject({ frames: [], answer: { type: 'resumed', replayed: 0 } });
  });

  it('the crew page, its event stream, the history API and MCP show nothing from before the join; own plays stay', async () => {
    const { owner, pastSeqs } = await crewWithPast();
    const mallory = await gadget('Mallory', owner.crewCode);
    const now = Date.now();
    await relay.store.history.addPlays([
      playInput({ memberId: mallory.deviceId, source: 'import_extended', endMs: now - WEEK_MS, track: 'MyOldPlay', artist: 'Me', msPlayed: 90_000 }),
    ]);
    await share(owner, 'AfterJoin');
    const cookie = await crewCookie(relay.httpUrl, mallory.client);

    const state = await crewApi<{ recent: unknown[] }>(relay.httpUrl, cookie, '/state');
    expect(state.status).toBe(200);
    expect(mentionsPast(state.body.recent)).toEqual([]);
    expect(JSON.stringify(state.body.recent)).toContain('AfterJoin');

    const stream = await crewStreamUntil(relay.httpUrl, cookie, '?after=0', 'AfterJoin');
    expect(pastEventsOnStream(stream)).toEqual([]);
    const fromBeforeTheJoin = await crewStreamUntil(relay.httpUrl, cookie, `?after=${pastSeqs[0]! - 1}`, 'AfterJoin');
    expect(pastEventsOnStream(fromBeforeTheJoin)).toEqual([]);

    const history = await crewApi<{ items: { kind: string; event?: { type: string } }[] }>(relay.httpUrl, cookie, '/history?limit=500');
    expect(history.status).toBe(200);
    expect(pastEventsIn(history.body.items)).toEqual([]);
    expect(JSON.stringify(history.body)).toContain('AfterJoin');
    expect(JSON.stringify(history.body)).toContain('MyOldPlay');
    const ownersShares = await crewApi<{ items: { kind: string }[] }>(relay.httpUrl, cookie, `/history?limit=500&member=${owner.deviceId}`);
    expect(pastEventsIn(ownersShares.body.items)).toEqual([]);
    const weeks = await crewApi(relay.httpUrl, cookie, '/history/on-this-day?mode=weeks&count=4');
    expect(weeks.status).toBe(200);
    expect(mentionsPast(weeks.body)).toEqual([]);
    const throwback = await crewApi(relay.httpUrl, cookie, '/history/throwback?weeks=4');
    expect(throwback.status).toBe(200);
    expect(mentionsPast(throwback.body)).toEqual([]);

    const ai = await assistant(mallory.deviceId);
    const lately = resultOf(await ai.callTool({ name: 'crew_shares', arguments: { days: 30, limit: 50 } })) as { track: string }[];
    expect(lately.map((s) => s.track)).toEqual(['AfterJoin']);
    const reacted = await ai.callTool({ name: 'react_to_share', arguments: { share_seq: pastSeqs[0], reaction: 'love' } });
    expect(reacted.isError).toBe(true);
    expect(JSON.stringify(reacted.content)).toContain('not_found');
    const month = new Date().toISOString().slice(0, 7);
    const recap = await ai.readResource({ uri: `leeloo://crew/recap/${month}` });
    expect(mentionsPast(recap.contents)).toEqual([]);
  }, 30_000);

  it('the owner’s "share history with newcomers" lets members read the crew from its start, for later reads, until turned off', async () => {
    const { owner } = await crewWithPast();
    const mallory = await gadget('Mallory', owner.crewCode);
    await mallory.client.barrier();

    const refused = await mallory.client.request({ type: 'set_crew_settings', share_history: true, client_msg_id: 'not-mine' }, isType('error'));
    expect(refused).toMatchObject({ code: 'not_owner', client_msg_id: 'not-mine' });
    const bad = await owner.client.request({ type: 'set_crew_settings', share_history: 'yes', client_msg_id: 'bad' }, isType('error'));
    expect(bad).toMatchObject({ code: 'invalid_message' });

    const on = await owner.client.request(
      { type: 'set_crew_settings', share_history: true, client_msg_id: 'share-on' },
      isType('ack', { client_msg_id: 'share-on' }),
    );
    expect(await mallory.client.next(isType('crew_settings_changed'))).toMatchObject({ share_history: true, seq: on.seq });
    const all = await resumeFrom(mallory.client, owner.crewCode, 0);
    expect(all.answer).toMatchObject({ type: 'resumed', after_seq: 0 });
    expect(tracksIn(all.frames)).toEqual(['BeforeOne', 'BeforeTwo', 'WeeksAgo1', 'WeeksAgo2']);
    const cookie = await crewCookie(relay.httpUrl, mallory.client);
    const state = await crewApi<{ recent: unknown[]; crew: { share_history: boolean } }>(relay.httpUrl, cookie, '/state');
    expect(state.body.crew.share_history).toBe(true);
    expect(mentionsPast(state.body.recent)).toEqual(expect.arrayContaining(['BeforeOne', 'our secret plans']));
    const lately = resultOf(await (await assistant(mallory.deviceId)).callTool({ name: 'crew_shares', arguments: { days: 30, limit: 50 } })) as {
      track: string;
    }[];
    expect(lately.map((s) => s.track)).toEqual(expect.arrayContaining(['BeforeOne', 'WeeksAgo2']));

    // The owner turns it off on the crew page; a member's page cannot.
    const notOwner = await crewApi(relay.httpUrl, cookie, '/crew-settings', { method: 'PUT', body: { share_history: false } });
    expect(notOwner).toMatchObject({ status: 403, body: { code: 'not_owner' } });
    const ownerCookie = await crewCookie(relay.httpUrl, owner.client);
    const badBody = await crewApi(relay.httpUrl, ownerCookie, '/crew-settings', { method: 'PUT', body: { share_history: 'no' } });
    expect(badBody).toMatchObject({ status: 400, body: { code: 'invalid_message' } });
    const off = await crewApi<{ seq: number }>(relay.httpUrl, ownerCookie, '/crew-settings', {
      method: 'PUT',
      body: { share_history: false, client_msg_id: 'page-off' },
    });
    expect(off).toMatchObject({ status: 200, body: { ok: true, share_history: false, duplicate: false } });
    expect(await mallory.client.next(isType('crew_settings_changed'))).toMatchObject({ share_history: false, seq: off.body.seq });
    const hidden = await resumeFrom(mallory.client, owner.crewCode, 0);
    expect(tracksIn(hidden.frames)).toEqual([]);
    expect(mentionsPast((await crewApi<{ recent: unknown[] }>(relay.httpUrl, cookie, '/state')).body.recent)).toEqual([]);

    // A late retry of the old "on" is answered with its first seq and undoes nothing.
    const retried = await owner.client.request(
      { type: 'set_crew_settings', share_history: true, client_msg_id: 'share-on' },
      isType('ack', { client_msg_id: 'share-on' }),
    );
    expect(retried).toMatchObject({ seq: on.seq, duplicate: true });
    const again = await crewApi(relay.httpUrl, ownerCookie, '/crew-settings', { method: 'PUT', body: { share_history: false, client_msg_id: 'page-off' } });
    expect(again.body).toMatchObject({ seq: off.body.seq, duplicate: true });
    expect((await relay.store.crews.getCrewByCode(owner.crewCode))!.shareHistory).toBe(false);
    const welcome = await (await clients.connect()).request(
      { type: 'hello', protocol_version: 3, device_name: 'Olga', device_id: owner.deviceId, device_secret: owner.secret },
      isType('welcome'),
    );
    expect(welcome.crew).toMatchObject({ share_history: false });
  }, 30_000);

  it('re-joining a crew one is in keeps the position; leaving and joining again starts a new one', async () => {
    const { owner } = await crewWithPast();
    const mallory = await gadget('Mallory', owner.crewCode);
    const joinedSeq = (await relay.store.crews.getMembership(mallory.deviceId))!.joinedSeq;
    await share(owner, 'Between');
    await mallory.client.request({ type: 'join_crew', crew_code: owner.crewCode, display_name: 'Mallory' }, isType('crew_joined'));
    await reconnect(mallory).then((c) => c.request({ type: 'join_crew', crew_code: owner.crewCode, display_name: 'Mallory' }, isType('crew_joined')));
    expect((await relay.store.crews.getMembership(mallory.deviceId))!.joinedSeq).toBe(joinedSeq);

    const g = await gadget('Other');
    await g.client.request({ type: 'leave_crew', client_msg_id: 'leave' }, isType('ack'));
    // The share went into the crew queue, announced by a queue_state up to a coalescing interval later: the crew's log settles first.
    const crewId = (await relay.store.crews.getCrewByCode(owner.crewCode))!.crewId;
    const between = await relay.store.log.readEvents(crewId, 0);
    const shareSeq = [...between].reverse().find((e) => e.event.type === 'message')!.seq;
    await waitUntil(
      async () => (await relay.store.log.readEvents(crewId, shareSeq)).some((e) => e.event.type === 'queue_state'),
      'the share announced in the queue',
    );
    const latest = (await relay.store.crews.getCrewByCode(owner.crewCode))!.latestSeq;
    await g.client.request({ type: 'join_crew', crew_code: owner.crewCode, display_name: 'Other' }, isType('crew_joined'));
    expect((await relay.store.crews.getMembership(g.deviceId))!.joinedSeq).toBe(latest);
  });
});

describe('firstVisibleSeq', () => {
  it('is the seq after the join, or 1 when the owner shares the history', () => {
    expect(firstVisibleSeq({ joinedSeq: 41 }, { shareHistory: false })).toBe(42);
    expect(firstVisibleSeq({ joinedSeq: 41 }, { shareHistory: true })).toBe(1);
    expect(firstVisibleSeq({ joinedSeq: 0 }, { shareHistory: false })).toBe(1);
  });
});
