import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../cloud/config.js';
import { queueWithCrewPages } from '../../helpers/queue-features.js';
import { loadLinkSecret, MemberLinks } from '../../../cloud/web/member-links.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type TestClient } from '../../helpers/ws-client.js';

/* The queue feature inside a real relay (in process, port 0): sockets, HTTP API, SSE, links. */

let relay: InProcessRelay;
let owner: TestClient;
let ann: TestClient;
let crewCode: string;
/** Added to the queue feature's clock, so a test can let a link expire without waiting a week. */
let skewMs = 0;

const config = loadConfig({}).queue;
const track = (i: number) => ({ spotify_uri: `spotify:track:${String(i).padStart(22, 'R')}`, track: `Song ${i}`, artist: 'Band', duration_ms: 200_000 });

async function member(name: string, join?: string): Promise<TestClient> {
  const client = await relay.connect();
  await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  if (join) await client.request({ type: 'join_crew', crew_code: join, display_name: name }, isType('crew_joined'));
  return client;
}

async function linkFor(client: TestClient): Promise<string> {
  const issued = await client.request({ type: 'crew_link' }, isType('crew_link_issued'));
  // Without PUBLIC_URL the relay names its configured port (0 here); the path is the link.
  return relay.httpUrl + new URL(String(issued.url)).pathname;
}

/** Opens a member link and returns the cookie the relay sets. */
async function cookieFrom(url: string): Promise<string> {
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/crew');
  const cookie = res.headers.get('set-cookie')!;
  expect(cookie).toMatch(/HttpOnly/);
  return cookie.split(';')[0]!;
}

function api(cookie: string | null, method: string, path: string, body?: unknown, raw?: string) {
  return fetch(`${relay.httpUrl}/crew/api${path}`, {
    method,
    headers: { ...(cookie ? { cookie } : {}), 'content-type': 'application/json' },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, any> }));
}

beforeEach(async () => {
  skewMs = 0;
  relay = await startInProcessRelay({ features: [queueWithCrewPages({ now: () => Date.now() + skewMs })] });
  owner = await member('Olga');
  const created = await owner.request({ type: 'create_crew', display_name: 'Olga', client_msg_id: 'c1' }, isType('crew_created'));
  crewCode = String(created.crew_code);
  ann = await member('Ann', crewCode);
  await owner.next(isType('member_joined'));
  owner.drain();
});

afterEach(async () => {
  owner.ws.close();
  ann.ws.close();
  await relay.close();
});

/** An SSE stream of the crew API: text until a marker, and all of it once the relay ends it. */
async function openStream(
  cookie: string,
  from: { after?: number; lastEventId?: number } = {},
): Promise<{ until(marker: string): Promise<string>; ended: Promise<string>; close(): void }> {
  const query = from.after === undefined ? '' : `?after=${from.after}`;
  const headers: Record<string, string> = { cookie, ...(from.lastEventId === undefined ? {} : { 'last-event-id': String(from.lastEventId) }) };
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(`${relay.httpUrl}/crew/api/events${query}`, { headers }, resolve).on('error', reject);
  });
  expect(res.statusCode).toBe(200);
  let text = '';
  const waiting: Array<() => void> = [];
  res.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (const check of waiting.splice(0)) check();
  });
  const ended = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the stream did not end: ${text}`)), 5000);
    res.on('end', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  const until = (marker: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${marker} on the stream: ${text}`)), 5000);
      const check = () => {
        if (text.includes(marker)) {
          clearTimeout(timer);
          resolve(text);
        } else waiting.push(check);
      };
      check();
    });
  // A stream the test closes itself never ends on its own: its `ended` is not awaited.
  const close = () => {
    ended.catch(() => undefined);
    res.destroy();
  };
  return { until, ended, close };
}

describe('queue over the socket', () => {
  it('acks with the seq the fanned-out queue_state carries', async () => {
    const ack = await ann.request({ type: 'queue_add', ...track(1), client_msg_id: 'add-1' }, isType('ack', { client_msg_id: 'add-1' }));
    const seen = await owner.next(isType('queue_state'));
    expect(seen.seq).toBe(ack.seq);
    expect(seen.crew_code).toBe(crewCode);
    expect(seen).toMatchObject({ change: { kind: 'added', by: expect.any(String) }, queue: { now_playing: { track: 'Song 1', added_by_name: 'Ann' } } });
    const again = await ann.request({ type: 'queue_add', ...track(1), client_msg_id: 'add-1' }, isType('ack', { client_msg_id: 'add-1' }));
    expect(again).toMatchObject({ seq: ack.seq, duplicate: true });
    await owner.expectQuiet((f) => f.type === 'member_offline');
  });

  it('enqueues a share and refuses what a member may not do', async () => {
    ann.send({ type: 'message', msg_type: 'song_push', client_msg_id: 's1', payload: { ...track(2), album: '', note: 'listen!' } });
    const state = await owner.next(isType('queue_state'));
    expect(state.queue).toMatchObject({ now_playing: { track: 'Song 2', added_by_name: 'Ann' } });
    const itemId = (state.queue as any).now_playing.item_id as string;
    for (const message of [{ type: 'queue_skip' }, { type: 'queue_pause' }, { type: 'queue_clear' }, { type: 'queue_throwback', enabled: true }]) {
      expect(await ann.request({ ...message, client_msg_id: 'x' }, isType('error'))).toMatchObject({ code: 'not_owner', ref_type: message.type });
    }
    expect(await ann.request({ type: 'queue_remove', item_id: 'q_nothingthere00' }, isType('error'))).toMatchObject({ code: 'not_found' });
    expect(await ann.request({ type: 'queue_vote', item_id: itemId, vote: 'sideways' }, isType('error'))).toMatchObject({ code: 'invalid_message' });
    expect(await ann.request({ type: 'queue_add', ...track(3), spotify_uri: 'spotify:album:abc' }, isType('error'))).toMatchObject({ code: 'invalid_message' });
    const stranger = await member('Stranger');
    expect(await stranger.request({ type: 'queue_add', ...track(4) }, isType('error'))).toMatchObject({ code: 'not_in_crew' });
    stranger.ws.close();
    const seenByAnn = ann.next(isType('queue_state', { seq: 5 }));
    await owner.request({ type: 'queue_skip', item_id: itemId, client_msg_id: 'sk' }, isType('ack', { client_msg_id: 'sk', seq: 5 }));
    const skipped = await seenByAnn;
    expect(skipped).toMatchObject({ change: { kind: 'skipped', item_id: itemId }, queue: { now_playing: null } });
  });

  it('sounds the airhorn crew-wide and limits it', async () => {
    await ann.request({ type: 'airhorn', client_msg_id: 'h1' }, isType('ack'));
    expect(await owner.next(isType('airhorn'))).toMatchObject({ from_name: 'Ann', seq: expect.any(Number) });
    const refused = await ann.request({ type: 'airhorn', client_msg_id: 'h2' }, isType('error'));
    expect(refused).toMatchObject({ code: 'rate_limited', client_msg_id: 'h2' });
    expect(refused.retry_after_ms).toBeGreaterThan(10_000);
  });
});

describe('crew pages over HTTP', () => {
  it('opens by a signed link and runs queue commands with clear errors', async () => {
    const cookie = await cookieFrom(await linkFor(ann));
    const page = await fetch(`${relay.httpUrl}/crew`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Up next');
    const added = await api(cookie, 'POST', '/queue', {
      link: 'https://open.spotify.com/intl-de/track/4uLU6hMCjMI75M1A2tKUQC?si=abc',
      track: 'Never',
      artist: 'Rick',
    });
    expect(added).toMatchObject({ status: 200, body: { ok: true, queue: { now_playing: { spotify_uri: 'spotify:track:4uLU6hMCjMI75M1A2tKUQC' } } } });
    expect((await api(cookie, 'POST', '/queue', { link: 'https://example.com/track/x', track: 'a', artist: 'b' })).body.code).toBe('invalid_message');
    expect(await api(cookie, 'POST', '/queue', { link: 'spotify:track:4uLU6hMCjMI75M1A2tKUQD' })).toMatchObject({
      status: 400,
      body: { code: 'invalid_message' },
    });
    expect(await api(cookie, 'POST', '/queue', undefined, '{"link": ')).toMatchObject({ status: 400, body: { code: 'invalid_json' } });
    expect(await api(cookie, 'POST', '/queue/q_nothingthere00/vote', { vote: 'up' })).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(await api(cookie, 'POST', '/queue/q_nothingthere00/vote', { vote: 7 })).toMatchObject({ status: 400, body: { code: 'invalid_message' } });
    expect(await api(cookie, 'POST', '/queue/skip', {})).toMatchObject({ status: 403, body: { code: 'not_owner' } });
    expect(await api(cookie, 'POST', '/queue', { link: 'spotify:track:4uLU6hMCjMI75M1A2tKUQC', track: 'a', artist: 'b' })).toMatchObject({
      status: 409,
      body: { code: 'conflict' },
    });
    expect(await api(cookie, 'GET', '/nothing-here')).toMatchObject({ status: 404, body: { code: 'not_found' } });
    const state = await api(cookie, 'GET', '/state');
    expect(state.body).toMatchObject({ me: { display_name: 'Ann', is_owner: false }, queue: { now_playing: { track: 'Never' } } });
  });

  it('refuses missing, forged, expired and rotated links with a clear page', async () => {
    expect(await api(null, 'GET', '/state')).toMatchObject({ status: 401, body: { code: 'link_invalid' } });
    const url = await linkFor(ann);
    const forged = url.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const bad = await fetch(forged, { redirect: 'manual' });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toMatch(/link_invalid[\s\S]*|This link does not work/);
    const links = new MemberLinks(await loadLinkSecret(undefined, relay.dataDir), 1000);
    const crew = await relay.store.crews.getCrewByCode(crewCode);
    const old = links.issue(crew!.crewId, (await relay.store.crews.listMembers(crew!.crewId))[1]!.deviceId, crewCode, Date.now() - 5000);
    const expired = await fetch(`${relay.httpUrl}/c/${old.token}`, { redirect: 'manual' });
    expect(expired.status).toBe(410);
    expect(await expired.text()).toContain('link_expired');
    const cookie = await cookieFrom(url);
    await owner.request({ type: 'rotate_code', client_msg_id: 'r1' }, isType('crew_code_changed'));
    expect(await api(cookie, 'GET', '/state')).toMatchObject({ status: 410, body: { code: 'link_expired' } });
  });

  it('streams queue changes to the page (SSE) as they happen', async () => {
    const cookie = await cookieFrom(await linkFor(ann));
    const events = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${relay.httpUrl}/crew/api/events`, { headers: { cookie } }, resolve).on('error', reject);
    });
    expect(events.headers['content-type']).toMatch(/text\/event-stream/);
    const got = new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`no queue_state on the stream: ${text}`)), 5000);
      events.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('event: queue_state')) {
          clearTimeout(timer);
          resolve(text);
        }
      });
    });
    owner.send({ type: 'queue_add', ...track(9), client_msg_id: 'o9' });
    expect(await got).toMatch(/"track":"Song 9"/);
    events.destroy();
  });

  it('replays what a reconnecting page missed (Last-Event-ID, or ?after= on its first connection), in order and once', async () => {
    const cookie = await cookieFrom(await linkFor(ann));
    const first = await owner.request({ type: 'queue_add', ...track(1), client_msg_id: 'm1' }, isType('ack'));
    const missed = await owner.request({ type: 'queue_add', ...track(2), client_msg_id: 'm2' }, isType('ack'));
    // The page's state said latest_seq = first.seq; the stream starts after it.
    const page = await openStream(cookie, { after: Number(first.seq) });
    let text = await page.until(`id: ${missed.seq}\nevent: queue_state`);
    expect(text).not.toContain(`id: ${first.seq}\n`);
    const live = await owner.request({ type: 'queue_add', ...track(3), client_msg_id: 'm3' }, isType('ack'));
    text = await page.until(`id: ${live.seq}\n`);
    expect(text.split(`id: ${missed.seq}\n`)).toHaveLength(2);
    page.close();

    // The browser reconnects with the last id it saw and gets only what came after it.
    const gone = await owner.request({ type: 'queue_add', ...track(4), client_msg_id: 'm4' }, isType('ack'));
    const back = await openStream(cookie, { lastEventId: Number(live.seq), after: Number(first.seq) });
    text = await back.until(`id: ${gone.seq}\n`);
    expect(text).toContain('"Song 4"');
    expect(text).not.toContain(`id: ${live.seq}\n`);
    back.close();

    // A position the relay never had (another relay's data): reload the state.
    const ahead = await openStream(cookie, { after: Number(gone.seq) + 1000 });
    await ahead.until('event: resync\n');
    ahead.close();
  });

  it('ends a page stream when its link expires or its member is removed', async () => {
    const annStream = await openStream(await cookieFrom(await linkFor(ann)));
    const ownerStream = await openStream(await cookieFrom(await linkFor(owner)));
    await owner.request({ type: 'queue_add', ...track(1), client_msg_id: 'e1' }, isType('ack'));
    expect(await ownerStream.until('event: queue_state')).toContain('"Song 1"');
    const annId = (await relay.store.crews.listMembers((await relay.store.crews.getCrewByCode(crewCode))!.crewId))[1]!.deviceId;
    owner.send({ type: 'remove_member', device_id: annId, client_msg_id: 'rm' });
    expect(await annStream.ended).toMatch(/event: expired\ndata: \{"code":"link_expired"/);
    skewMs = config.linkTtlMs + 1000;
    await owner.request({ type: 'queue_add', ...track(2), client_msg_id: 'e2' }, isType('ack'));
    const text = await ownerStream.ended;
    expect(text).toMatch(/event: expired/);
    expect(text).not.toContain('"Song 2"');
  });
});
