import { Writable } from 'node:stream';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../cloud/log.js';
import { spotifyFeatureFactory } from '../../cloud/spotify/spotify-feature.js';
import { startFakeSpotify, type FakeSpotify } from '../fakes/fake-spotify.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { waitUntil } from '../helpers/wait-until.js';
import { type TestClient, isType, type Frame } from '../helpers/ws-client.js';

/*
 * The field gadgets' own Spotify sign-in (spotify_auth.py / spotify_auth_qr.py in
 * squid-baby/Leeloo_Ui): the gadget builds the authorize URL itself with the relay app's
 * client id, redirect_uri = the relay's /spotify/callback, state = its device id and no
 * PKCE, then waits on its socket for `spotify_auth_complete` and saves `tokens` as they are.
 */

const PUBLIC_URL = 'https://leeloobot.example';
const CLIENT_ID = 'f8c3c0120e694af283d7d7f7c2f67d4c';
const CLIENT_SECRET = 'relaysecret0123456789abcdef';
const KEY = Buffer.alloc(32, 9).toString('base64');
const HOUR = 3_600_000;

let spotify: FakeSpotify;
let relay: InProcessRelay;
let clock: number;
let logLines: string[];
const clients: TestClient[] = [];

beforeEach(async () => {
  clock = 1_800_000_000_000;
  logLines = [];
  spotify = await startFakeSpotify();
  spotify.registerApp(CLIENT_ID, CLIENT_SECRET);
  spotify.addUser({ id: 'nathan', displayName: 'Nathan' });
  const sink = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      logLines.push(chunk.toString());
      done();
    },
  });
  const spot = spotifyFeatureFactory({ now: () => clock, http: { backoffBaseMs: 1, maxRetryAfterWaitMs: 50, maxAttempts: 2 } });
  relay = await startInProcessRelay({
    env: {
      PUBLIC_URL,
      SPOTIFY_CLIENT_ID: CLIENT_ID,
      SPOTIFY_CLIENT_SECRET: CLIENT_SECRET,
      LEELOO_ENCRYPTION_KEY: KEY,
      SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
      SPOTIFY_API_URL: spotify.apiUrl,
    },
    features: [spot.factory],
    log: createLogger('info', sink),
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await relay.close();
  await spotify.close();
});

async function connect(): Promise<TestClient> {
  const client = await relay.connect();
  clients.push(client);
  return client;
}

/** leeloo_client.py's create_crew on a gadget that kept its id; its answer is the very next frame. */
async function secondGenInCrew(deviceId: string, name = "Nathan's LEELOO"): Promise<{ client: TestClient; crewCode: string }> {
  const client = await connect();
  client.send({ type: 'create_crew', device_id: deviceId, display_name: name });
  const answer = await client.next();
  expect(answer.type).toBe('crew_created');
  return { client, crewCode: answer.crew_code as string };
}

/** generate_auth_url() of spotify_auth_qr.py: parameters joined by hand, spaces as %20. */
function gadgetAuthorizeUrl(deviceId: string): string {
  const params: [string, string][] = [
    ['client_id', CLIENT_ID],
    ['response_type', 'code'],
    ['redirect_uri', `${PUBLIC_URL}/spotify/callback`],
    ['scope', 'user-read-currently-playing user-read-playback-state'],
    ['state', deviceId],
    ['show_dialog', 'true'],
  ];
  return `${spotify.accountsUrl}/authorize?${params.map(([k, v]) => `${k}=${v.replace(/ /g, '%20')}`).join('&')}`;
}

/** The phone approves at (fake) Spotify, which redirects to PUBLIC_URL/spotify/callback?code&state. */
async function approve(deviceId: string): Promise<string> {
  const back = await fetch(gadgetAuthorizeUrl(deviceId), { redirect: 'manual' });
  expect(back.status).toBe(302);
  const location = back.headers.get('location')!;
  expect(location.startsWith(`${PUBLIC_URL}/spotify/callback?`)).toBe(true);
  return location;
}

async function openCallback(callbackUrl: string): Promise<{ status: number; html: string }> {
  const page = await fetch(callbackUrl.replace(PUBLIC_URL, relay.httpUrl), { redirect: 'manual' });
  return { status: page.status, html: await page.text() };
}

function expectTokens(frame: Frame): { access_token: string; refresh_token: string; expires_in: number } {
  expect(frame.type).toBe('spotify_auth_complete');
  const tokens = frame.tokens as Record<string, unknown>;
  expect(typeof tokens.access_token).toBe('string');
  expect(typeof tokens.refresh_token).toBe('string');
  expect(Number.isInteger(tokens.expires_in)).toBe(true);
  expect(tokens.expires_in as number).toBeGreaterThan(0);
  return tokens as { access_token: string; refresh_token: string; expires_in: number };
}

const db = () => (relay.store as unknown as { db: Database.Database }).db;

describe('legacy Spotify hand-off (state = device id, no PKCE)', () => {
  it('exchanges the code once with the app secret and sends the online gadget its tokens, refresh token included', async () => {
    const { client } = await secondGenInCrew('leeloo_4f2a9c1be0d3');
    const callback = await approve('leeloo_4f2a9c1be0d3');
    const page = await openCallback(callback);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Spotify is connected');
    expect(page.html).toContain('has its sign-in now');

    const tokens = expectTokens(await client.next(isType('spotify_auth_complete')));
    expect(spotify.accessTokensOf('nathan')).toContain(tokens.access_token);
    expect(spotify.refreshTokensOf('nathan')).toContain(tokens.refresh_token);
    // The tokens work as the gadget uses them: the Web API takes the access token.
    const me = await fetch(`${spotify.apiUrl}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(me.status).toBe(200);
    expect(spotify.calls('token')).toBe(1);
    // The secret went to the token endpoint only: not in the page, the gadget's frame or the log.
    expect(page.html).not.toContain(CLIENT_SECRET);
    expect(JSON.stringify(client.received)).not.toContain(CLIENT_SECRET);
    const log = logLines.join('');
    expect(log).not.toContain(CLIENT_SECRET);
    expect(log).not.toContain(tokens.access_token);
    expect(log).toMatch(/"deviceId":"leeloo_4f2a9c1be0d3","outcome":"delivered"/);
  });

  it('answers a replay of the same callback with "already used", without asking Spotify again', async () => {
    const { client } = await secondGenInCrew('leeloo_replay0001');
    const callback = await approve('leeloo_replay0001');
    expect((await openCallback(callback)).status).toBe(200);
    expectTokens(await client.next(isType('spotify_auth_complete')));

    const again = await openCallback(callback);
    expect(again.status).toBe(410);
    expect(again.html).toContain('already used');
    expect(spotify.calls('token')).toBe(1);
    await client.expectQuiet();
  });

  it('shows a page and sends nothing when Spotify refuses the code (invalid_grant)', async () => {
    const { client } = await secondGenInCrew('leeloo_badgrant01');
    const callback = await approve('leeloo_badgrant01');
    spotify.invalidGrantNext();
    const page = await openCallback(callback);
    expect(page.status).toBe(400);
    expect(page.html).toContain('Spotify did not accept this sign-in');
    expect(page.html).toContain('Start the Spotify setup on the gadget again');
    await client.expectQuiet();
    expect(await db().prepare('SELECT COUNT(*) FROM spotify_legacy_held').pluck().get()).toBe(0);
  });

  it('shows "Spotify is not answering" on a 5xx and sends nothing', async () => {
    const { client } = await secondGenInCrew('leeloo_down00001');
    const callback = await approve('leeloo_down00001');
    spotify.serverError('token', 5, 503);
    const page = await openCallback(callback);
    expect(page.status).toBe(502);
    expect(page.html).toContain('Spotify is not answering');
    await client.expectQuiet();
  });

  it('treats a state that is no known legacy device as an invalid link, without an exchange', async () => {
    const unknown = await openCallback(await approve('leeloo_neverseen'));
    expect(unknown.status).toBe(404);
    expect(unknown.html).toContain('not valid');

    // A current-protocol gadget (it holds a secret) signs in through /s/… only, never by its id.
    const modern = await connect();
    const welcome = await modern.request({ type: 'hello', protocol_version: 3, device_name: 'New one' }, isType('welcome'));
    const page = await openCallback(await approve(welcome.device_id as string));
    expect(page.status).toBe(404);
    expect(spotify.calls('token')).toBe(0);
    await modern.expectQuiet();

    const noState = await fetch(`${relay.httpUrl}/spotify/callback?code=abc`);
    expect(noState.status).toBe(404);
  });

  it('shows "not connected" when the person declines on Spotify', async () => {
    await secondGenInCrew('leeloo_declines1');
    spotify.denyNext();
    const page = await openCallback(await approve('leeloo_declines1'));
    expect(page.status).toBe(200);
    expect(page.html).toContain('Spotify was not connected');
    expect(spotify.calls('token')).toBe(0);
  });

  it('holds the tokens encrypted for an offline gadget and delivers them right after the answer to its next join_crew', async () => {
    const { client, crewCode } = await secondGenInCrew('leeloo_offline001');
    await client.close();
    await waitOffline('leeloo_offline001');

    const page = await openCallback(await approve('leeloo_offline001'));
    expect(page.status).toBe(200);
    expect(page.html).toContain('gets its sign-in when it next connects');
    const issued = spotify.accessTokensOf('nathan')[0]!;
    const row = db().prepare('SELECT tokens_enc, expires_at FROM spotify_legacy_held WHERE device_id = ?').get('leeloo_offline001') as {
      tokens_enc: string;
      expires_at: number;
    };
    expect(row.tokens_enc.startsWith('v1.')).toBe(true);
    expect(row.tokens_enc).not.toContain(issued);
    expect(row.expires_at).toBe(clock + HOUR);

    clock += 20 * 60_000;
    // leeloo_client.py rejoin_crew(): join_crew with the saved code and id; the answer is the next frame.
    const back = await connect();
    back.send({ type: 'join_crew', crew_code: crewCode, device_id: 'leeloo_offline001', display_name: "Nathan's LEELOO" });
    expect((await back.next()).type).toBe('crew_joined');
    const tokens = expectTokens(await back.next());
    expect(tokens.access_token).toBe(issued);
    // 20 minutes of the access token's hour are gone.
    expect(tokens.expires_in).toBe(3600 - 20 * 60);
    expect(await db().prepare('SELECT COUNT(*) FROM spotify_legacy_held').pluck().get()).toBe(0);

    // Delivered once: the next entry carries no tokens.
    const third = await connect();
    await back.close();
    third.send({ type: 'join_crew', crew_code: crewCode, device_id: 'leeloo_offline001', display_name: "Nathan's LEELOO" });
    expect((await third.next()).type).toBe('crew_joined');
    await third.expectQuiet((f) => f.type === 'member_joined' || f.type === 'member_offline');
  });

  it('delivers held tokens after a first-generation register too', async () => {
    const first = await connect();
    first.send({ type: 'register', device_id: 'leeloo_gen1aa01', crew_code: 'LEELOO-GEN2', device_name: 'LEELOO' });
    expect((await first.next()).type).toBe('registered');
    await first.close();
    await waitOffline('leeloo_gen1aa01');
    expect((await openCallback(await approve('leeloo_gen1aa01'))).status).toBe(200);

    const again = await connect();
    again.send({ type: 'register', device_id: 'leeloo_gen1aa01', crew_code: 'LEELOO-GEN2', device_name: 'LEELOO' });
    expect((await again.next()).type).toBe('registered');
    expectTokens(await again.next());
  });

  it('drops held tokens after one hour', async () => {
    const { client, crewCode } = await secondGenInCrew('leeloo_late00001');
    await client.close();
    await waitOffline('leeloo_late00001');
    expect((await openCallback(await approve('leeloo_late00001'))).status).toBe(200);

    clock += HOUR + 1;
    const back = await connect();
    back.send({ type: 'join_crew', crew_code: crewCode, device_id: 'leeloo_late00001', display_name: "Nathan's LEELOO" });
    expect((await back.next()).type).toBe('crew_joined');
    await back.expectQuiet((f) => f.type === 'member_joined');
    expect(await db().prepare('SELECT COUNT(*) FROM spotify_legacy_held').pluck().get()).toBe(0);
  });

  it('rate-limits callbacks per device and logs each one', async () => {
    await secondGenInCrew('leeloo_flooded01');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const page = await fetch(`${relay.httpUrl}/spotify/callback?error=access_denied&state=leeloo_flooded01`);
      statuses.push(page.status);
      if (i === 5) expect(await page.text()).toContain('Too many sign-in attempts');
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    // Another gadget is not affected.
    await secondGenInCrew('leeloo_neighbour');
    expect((await fetch(`${relay.httpUrl}/spotify/callback?error=access_denied&state=leeloo_neighbour`)).status).toBe(200);
    // Two minutes later the flooded gadget may try again.
    clock += 120_000;
    expect((await fetch(`${relay.httpUrl}/spotify/callback?error=access_denied&state=leeloo_flooded01`)).status).toBe(200);
    expect(logLines.filter((l) => l.includes('"deviceId":"leeloo_flooded01"') && l.includes('legacy spotify callback'))).toHaveLength(7);
  });
});

async function waitOffline(deviceId: string): Promise<void> {
  await waitUntil(() => !relay.relay.context.isOnline(deviceId), `${deviceId} offline`);
}
