import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spotifyFeatureFactory, type SpotifyFeature } from '../../../cloud/spotify/spotify-feature.js';
import type { SqliteDatabase } from '../../../cloud/store/sqlite.js';
import { ERROR_CODES } from '../../../protocol/errors.js';
import { tokenFingerprint } from '../../../protocol/index.js';
import { startFakeSpotify, type FakeSpotify } from '../../fakes/fake-spotify.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { type TestClient, isType } from '../../helpers/ws-client.js';

/*
 * Sign-in failures a person can act on (issue 15, points 2 and 3): each has its own page,
 * and Spotify's waits are kept for the user they belong to.
 */

const PUBLIC_URL = 'https://leeloo.example';
const KEY = Buffer.alloc(32, 9).toString('base64');

let spotify: FakeSpotify;
let relay: InProcessRelay;
let feature: SpotifyFeature;
let clock: number;
const clients: TestClient[] = [];

beforeEach(async () => {
  clock = Date.now();
  spotify = await startFakeSpotify();
  spotify.registerApp('leeloo-relay-app');
  spotify.addUser({ id: 'anna', displayName: 'Anna K' });
  spotify.addUser({ id: 'ben', displayName: 'Ben' });
  // The relay's real HTTP client, with Spotify's waits kept on the test's clock.
  const spot = spotifyFeatureFactory({ now: () => clock, http: { backoffBaseMs: 1, maxRetryAfterWaitMs: 50 } });
  relay = await startInProcessRelay({
    env: {
      PUBLIC_URL,
      SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
      LEELOO_ENCRYPTION_KEY: KEY,
      SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
      SPOTIFY_API_URL: spotify.apiUrl,
    },
    features: [spot.factory],
  });
  feature = spot.feature()!;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await relay.close();
  await spotify.close();
});

const local = (url: string) => url.replace(PUBLIC_URL, relay.httpUrl);

async function gadget(name: string, crewCode?: string): Promise<{ client: TestClient; deviceId: string; crewId: string; crewCode: string }> {
  const client = await relay.connect();
  clients.push(client);
  const welcome = await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  const crew = crewCode
    ? await client.request({ type: 'join_crew', crew_code: crewCode, display_name: name }, isType('crew_joined'))
    : await client.request({ type: 'create_crew', display_name: name, crew_name: 'Night owls' }, isType('crew_created'));
  const deviceId = String(welcome.device_id);
  const membership = await relay.store.crews.getMembership(deviceId);
  return { client, deviceId, crewId: membership!.crewId, crewCode: String(crew.crew_code) };
}

async function signinLink(client: TestClient): Promise<string> {
  return String((await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'))).url);
}

/** The phone: Continue → Spotify (approves as `userId`) → back to the callback. */
async function phoneSignsIn(link: string, userId: string): Promise<{ status: number; html: string; callbackUrl: string }> {
  spotify.approveAs(userId);
  const toSpotify = await fetch(`${local(link)}/continue`, { method: 'POST', redirect: 'manual' });
  expect(toSpotify.status).toBe(303);
  const back = await fetch(toSpotify.headers.get('location')!, { redirect: 'manual' });
  const callbackUrl = back.headers.get('location')!;
  const page = await fetch(local(callbackUrl), { redirect: 'manual' });
  return { status: page.status, html: await page.text(), callbackUrl };
}

const headingOf = (html: string) => /<h1>([^<]*)<\/h1>/.exec(html)?.[1];

describe('sign-in errors people can act on', () => {
  it('sends a user outside the app allowlist to the crew owner, on the page and on the gadget', async () => {
    spotify.setAllowlist('leeloo-relay-app', ['anna']);
    const owner = await gadget('Anna');
    const { client: ben } = await gadget('Ben', owner.crewCode);
    const page = await phoneSignsIn(await signinLink(ben), 'ben');
    expect(page.status).toBe(403);
    expect(headingOf(page.html)).toBe('Ask your crew owner to add you');
    expect(page.html).toContain('add your Spotify e-mail');
    expect(page.html).not.toContain('not answering');
    const told = await ben.next(isType('error', { code: 'spotify_not_allowlisted' }));
    expect(told.message).toBe(ERROR_CODES.spotify_not_allowlisted);
    expect(await relay.store.tokens.listLiveGrants()).toEqual([]);

    // Once the owner has added Ben at Spotify, the same link signs him in.
    spotify.setAllowlist('leeloo-relay-app', ['anna', 'ben']);
    const again = await phoneSignsIn(await signinLink(ben), 'ben');
    expect(headingOf(again.html)).toBe('Spotify is connected');
  });

  it('calls an invalid_grant at the code exchange a stale link, not Spotify being down', async () => {
    const { client } = await gadget('Anna');
    const link = await signinLink(client);
    spotify.script('token', { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid authorization code' } });
    const page = await phoneSignsIn(link, 'anna');
    expect(page.status).toBe(410);
    expect(headingOf(page.html)).toBe('This sign-in link was used or is stale');
    expect(page.html).toContain('Start the sign-in again from the gadget');
    expect(page.html).not.toContain('not answering');
  });

  it("says a superseded session's callback was replaced by a newer sign-in", async () => {
    const { client } = await gadget('Anna');
    const first = await signinLink(client);
    const toSpotify = await fetch(`${local(first)}/continue`, { method: 'POST', redirect: 'manual' });
    const back = await fetch(toSpotify.headers.get('location')!, { redirect: 'manual' });
    await signinLink(client); // the gadget started over while the phone was at Spotify
    const page = await fetch(local(back.headers.get('location')!));
    expect(page.status).toBe(410);
    expect(headingOf(await page.text())).toBe('This sign-in was replaced');
    expect(spotify.calls('token')).toBe(0);
  });

  it('answers a short code that does not decode with a page, not JSON', async () => {
    for (const path of ['/s/%00%ff', '/s/%E0%A4%A', '/s/%ff/continue']) {
      const method = path.endsWith('/continue') ? 'POST' : 'GET';
      const res = await fetch(`${relay.httpUrl}${path}`, { method });
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(res.status, path).toBe(404);
      expect(await res.text()).toContain('This sign-in link is not valid');
    }
  });

  it("reads QUOTA_EXCEEDED from the 429 body, says what it means, and notes it for the owner's page", async () => {
    const { client, crewId } = await gadget('Anna');
    spotify.quotaExceeded('me');
    const page = await phoneSignsIn(await signinLink(client), 'anna');
    expect(page.status).toBe(503);
    expect(headingOf(page.html)).toBe('This Spotify app has used up its quota');
    expect(page.html).toContain('extended quota is only granted to businesses');
    // Not retried: waiting does not refill a quota.
    expect(spotify.calls('me')).toBe(1);
    expect((await feature.appStatus(crewId)).quota_exceeded_at).toBe(clock);
  });
});

describe('Spotify rate limits are per user', () => {
  it("keeps a 429 on one person's /me to that person: others sign in and refresh, the page says how long, the link works after", async () => {
    const { client: anna, crewCode } = await gadget('Anna');
    const annaLink = await signinLink(anna);
    spotify.rateLimit('me', 300, { userId: 'anna' });
    const limited = await phoneSignsIn(annaLink, 'anna');
    expect(limited.status).toBe(429);
    expect(headingOf(limited.html)).toBe('Spotify asked to wait');
    expect(limited.html).toContain('<b id="wait">5 minutes</b>');

    // Ben signs in meanwhile, and his token refreshes: neither waits for Anna's 300 s.
    const { client: ben } = await gadget('Ben', crewCode);
    const benPage = await phoneSignsIn(await signinLink(ben), 'ben');
    expect(headingOf(benPage.html)).toBe('Spotify is connected');
    const complete = await ben.next(isType('spotify_auth_complete'));
    const refused = (complete.tokens as { access_token: string }).access_token;
    const tokens = spotify.calls('token');
    ben.send({ type: 'spotify_token_request', refused: tokenFingerprint(refused) });
    const fresh = await ben.next(isType('spotify_token'));
    expect(fresh.access_token).not.toBe(refused);
    expect(spotify.calls('token')).toBe(tokens + 1);

    // After the wait, Anna's same link works.
    clock += 300_000;
    const ok = await phoneSignsIn(annaLink, 'anna');
    expect(headingOf(ok.html)).toBe('Spotify is connected');
  });

  it("keeps the token endpoint's own 429 to the app: every sign-in of that app waits", async () => {
    const { client: anna } = await gadget('Anna');
    spotify.rateLimit('token', 600);
    const first = await phoneSignsIn(await signinLink(anna), 'anna');
    expect(first.status).toBe(429);
    const { client: ben } = await gadget('Ben');
    const calls = spotify.calls('token');
    const second = await phoneSignsIn(await signinLink(ben), 'ben');
    expect(second.status).toBe(429);
    expect(spotify.calls('token')).toBe(calls);
  });
});

describe("Spotify's stable account id", () => {
  it('stores account_id from /me at sign-in, and reads it at the next refresh for a grant made before it', async () => {
    const { client, deviceId } = await gadget('Anna');
    const page = await phoneSignsIn(await signinLink(client), 'anna');
    expect(headingOf(page.html)).toBe('Spotify is connected');
    const complete = await client.next(isType('spotify_auth_complete'));
    const me = await (
      await fetch(`${spotify.apiUrl}/me`, { headers: { authorization: `Bearer ${(complete.tokens as { access_token: string }).access_token}` } })
    ).json();
    expect(me.account_id).toMatch(/^acct-/);
    expect(await relay.store.tokens.getGrant(deviceId)).toMatchObject({ spotifyUserId: 'anna', spotifyAccountId: me.account_id });

    // As a grant migrated from before account_id: the next refresh fills it in, once.
    (relay.store as unknown as { db: SqliteDatabase }).db.prepare('UPDATE spotify_grants SET spotify_account_id = NULL WHERE device_id = ?').run(deviceId);
    const meCalls = spotify.calls('me');
    client.send({ type: 'spotify_token_request', refused: tokenFingerprint((complete.tokens as { access_token: string }).access_token) });
    await client.next(isType('spotify_token'));
    expect((await relay.store.tokens.getGrant(deviceId))?.spotifyAccountId).toBe(me.account_id);
    expect(spotify.calls('me')).toBe(meCalls + 1);
  });
});
