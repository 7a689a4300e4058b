import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../cloud/config.js';
import { createLogger } from '../../../cloud/log.js';
import { createRelay } from '../../../cloud/server.js';
import { spotifyFeatureFactory, type SpotifyFeature } from '../../../cloud/spotify/spotify-feature.js';
import { TokenCipher } from '../../../cloud/spotify/token-cipher.js';
import { openStore } from '../../../cloud/store/open-store.js';
import { tokenFingerprint } from '../../../protocol/index.js';
import { SPOTIFY_SCOPES } from '../../../cloud/spotify/accounts.js';
import { startFakeSpotify, type FakeSpotify } from '../../fakes/fake-spotify.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { TestClient, isType, type Frame } from '../../helpers/ws-client.js';

// Phones reach the relay through a proxy at PUBLIC_URL; the test maps it to the real port.
const PUBLIC_URL = 'https://leeloo.example';
const KEY = Buffer.alloc(32, 7).toString('base64');

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

async function device(name: string): Promise<{ client: TestClient; welcome: Frame }> {
  const client = await relay.connect();
  clients.push(client);
  const welcome = await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  return { client, welcome };
}

async function deviceInCrew(name: string): Promise<{ client: TestClient; welcome: Frame; crew: Frame }> {
  const d = await device(name);
  const crew = await d.client.request({ type: 'create_crew', display_name: name, crew_name: 'Night owls' }, isType('crew_created'));
  return { ...d, crew };
}

/** The phone: landing page → Continue → Spotify authorize → back to the callback, one hop at a time. */
async function phoneSignsIn(linkUrl: string, base = relay.httpUrl): Promise<{ callbackUrl: string; page: Response; html: string }> {
  const local = (url: string) => url.replace(PUBLIC_URL, base);
  const landing = await fetch(local(linkUrl), { redirect: 'manual' });
  expect(landing.status).toBe(200);
  const action = /<form method="post" action="([^"]+)"/.exec(await landing.text())![1]!;
  const toSpotify = await fetch(base + action, { method: 'POST', redirect: 'manual' });
  expect(toSpotify.status).toBe(303);
  const authorize = toSpotify.headers.get('location')!;
  expect(authorize.startsWith(`${spotify.accountsUrl}/authorize?`)).toBe(true);
  const back = await fetch(authorize, { redirect: 'manual' });
  expect(back.status).toBe(302);
  const callbackUrl = back.headers.get('location')!;
  expect(callbackUrl.startsWith(`${PUBLIC_URL}/spotify/callback?`)).toBe(true);
  const page = await fetch(local(callbackUrl), { redirect: 'manual' });
  return { callbackUrl, page, html: await page.text() };
}

describe('Spotify sign-in hand-off', () => {
  it('runs end to end: session, landing, PKCE authorize, callback, auth complete on the device, token on request', async () => {
    const { client } = await deviceInCrew('Anna');
    const session = await client.request({ type: 'spotify_signin_start', client_msg_id: 's1' }, isType('spotify_signin_session'));
    expect(session.code).toMatch(/^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
    expect(session.url).toBe(`${PUBLIC_URL}/s/${String(session.code).replace('-', '')}`);
    expect(session.expires_at).toBe(clock + 10 * 60_000);

    const landing = await (await fetch(local(String(session.url)))).text();
    expect(landing).toContain('Anna');
    expect(landing).toContain('Night owls');

    const { page, html, callbackUrl } = await phoneSignsIn(String(session.url));
    expect(page.status).toBe(200);
    expect(html).toContain('Spotify is connected');
    expect(html).toContain('Anna K');
    const authorize = spotify.lastAuthorize!;
    // Exactly what the features need, no more.
    expect(authorize.get('scope')!.split(' ').sort()).toEqual([
      'playlist-modify-private',
      'user-modify-playback-state',
      'user-read-currently-playing',
      'user-read-playback-state',
      'user-read-recently-played',
    ]);
    expect(authorize.get('scope')).toBe(SPOTIFY_SCOPES);
    expect(authorize.get('code_challenge_method')).toBe('S256');
    expect(authorize.get('redirect_uri')).toBe(`${PUBLIC_URL}/spotify/callback`);

    const complete = await client.next(isType('spotify_auth_complete'));
    const tokens = complete.tokens as Record<string, unknown>;
    expect(spotify.accessTokensOf('anna')).toContain(tokens.access_token);
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.expires_in).toBe(3600);

    // The same callback again: single use.
    const again = await fetch(local(callbackUrl));
    expect(again.status).toBe(410);
    expect(await again.text()).toContain('already used');
    expect(spotify.calls('token')).toBe(1);

    const token = await client.request({ type: 'spotify_token_request' }, isType('spotify_token'));
    expect(token.access_token).toBe(tokens.access_token);
    expect(token.api_url).toBe(spotify.apiUrl);
  });

  it('keeps no plaintext token in the SQLite file, its WAL or its shared memory, also after rotations', async () => {
    const { client, welcome } = await deviceInCrew('Anna');
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    await phoneSignsIn(String(session.url));
    await client.next(isType('spotify_auth_complete'));
    spotify.setRotateRefreshTokens(true);
    const secrets = new Set([...spotify.refreshTokensOf('anna'), ...spotify.verifiers]);
    for (let round = 0; round < 2; round++) {
      clock += 2 * 3600_000;
      await feature.broker!.accessToken(String(welcome.device_id));
      for (const token of spotify.refreshTokensOf('anna')) secrets.add(token);
    }
    for (const token of spotify.accessTokensOf('anna')) secrets.add(token);
    expect(secrets.size).toBe(1 + 1 + 2 + 3); // first refresh token, verifier, two rotated ones, three access tokens
    const files = (await fs.readdir(relay.dataDir)).filter((f) => f.startsWith('leeloo.db'));
    expect(files).toEqual(expect.arrayContaining(['leeloo.db', 'leeloo.db-wal']));
    const bytes = Buffer.concat(await Promise.all(files.map((f) => fs.readFile(path.join(relay.dataDir, f)))));
    expect(bytes.includes(Buffer.from('spotify_grants'))).toBe(true);
    for (const secret of secrets) expect(bytes.includes(Buffer.from(secret)), secret).toBe(false);
  });

  it('rotates the encryption key end to end: a grant sealed with the old key refreshes and is sealed with the new one', async () => {
    const { client, welcome } = await deviceInCrew('Anna');
    const deviceId = String(welcome.device_id);
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    await phoneSignsIn(String(session.url));
    const first = (await client.next(isType('spotify_auth_complete'))).tokens as { access_token: string };
    const oldId = new TokenCipher(Buffer.from(KEY, 'base64')).currentKeyId;
    expect((await relay.store.tokens.getGrant(deviceId))!.refreshTokenEnc.split('.')[1]).toBe(oldId);
    await client.close();
    await relay.relay.stop();

    // The operator moves the key to _PREVIOUS and sets a new one; the relay restarts on the same data.
    const newKey = Buffer.alloc(32, 8);
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LEELOO_DATA_DIR: relay.dataDir,
      PUBLIC_URL,
      SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
      LEELOO_ENCRYPTION_KEY: newKey.toString('base64'),
      LEELOO_ENCRYPTION_KEY_PREVIOUS: KEY,
      SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
      SPOTIFY_API_URL: spotify.apiUrl,
    });
    const store = await openStore(config);
    const rotated = createRelay({ config, store, log: createLogger('silent'), features: [spotifyFeatureFactory({ now: () => clock }).factory] });
    const { port } = await rotated.start();
    try {
      const back = await TestClient.connect(`ws://127.0.0.1:${port}/ws`);
      clients.push(back);
      await back.request(
        { type: 'hello', protocol_version: 3, device_name: 'Anna', device_id: deviceId, device_secret: welcome.device_secret },
        isType('welcome'),
      );
      // The cached access token, sealed with the old key, still opens.
      expect((await back.request({ type: 'spotify_token_request' }, isType('spotify_token'))).access_token).toBe(first.access_token);
      spotify.setRotateRefreshTokens(true);
      clock += 2 * 3600_000;
      const fresh = await back.request({ type: 'spotify_token_request' }, isType('spotify_token'));
      expect(fresh.access_token).not.toBe(first.access_token);
      const newId = new TokenCipher(newKey).currentKeyId;
      const grant = (await store.tokens.getGrant(deviceId))!;
      expect([grant.refreshTokenEnc.split('.')[1], grant.accessTokenEnc!.split('.')[1]]).toEqual([newId, newId]);
      // Without the old key the row still opens: nothing of it depends on the old key any more.
      const onlyNew = new TokenCipher(newKey);
      expect(spotify.refreshTokensOf('anna')).toEqual([onlyNew.decrypt(grant.refreshTokenEnc, `refresh:${deviceId}`)]);
    } finally {
      await rotated.stop();
    }
  });

  it('says the sign-in cannot be read when its key is gone, keeps the grant, and a re-pair replaces it', async () => {
    const { client, welcome } = await deviceInCrew('Anna');
    const deviceId = String(welcome.device_id);
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    await phoneSignsIn(String(session.url));
    await client.next(isType('spotify_auth_complete'));
    await client.close();
    await relay.relay.stop();

    // The operator replaced the key and forgot to keep the old one.
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LEELOO_DATA_DIR: relay.dataDir,
      PUBLIC_URL,
      SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
      LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 5).toString('base64'),
      SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
      SPOTIFY_API_URL: spotify.apiUrl,
    });
    const store = await openStore(config);
    const rekeyed = createRelay({ config, store, log: createLogger('silent'), features: [spotifyFeatureFactory({ now: () => clock }).factory] });
    const { port } = await rekeyed.start();
    try {
      const back = await TestClient.connect(`ws://127.0.0.1:${port}/ws`);
      clients.push(back);
      await back.request(
        { type: 'hello', protocol_version: 3, device_name: 'Anna', device_id: deviceId, device_secret: welcome.device_secret },
        isType('welcome'),
      );
      const refused = await back.request({ type: 'spotify_token_request' }, isType('error'));
      expect(refused).toMatchObject({ code: 'spotify_unavailable', message: expect.stringMatching(/encryption key is not configured/) });
      expect(await store.tokens.getGrant(deviceId)).not.toBeNull();

      // Re-pairing from the gadget's menu replaces the unreadable grant.
      const again = await back.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
      const { html } = await phoneSignsIn(String(again.url), `http://127.0.0.1:${port}`);
      expect(html).toContain('Spotify is connected');
      const complete = await back.next(isType('spotify_auth_complete'));
      const token = await back.request({ type: 'spotify_token_request' }, isType('spotify_token'));
      expect(token.access_token).toBe((complete.tokens as { access_token: string }).access_token);
    } finally {
      await rekeyed.stop();
    }
  });

  it('refreshes when the gadget says Spotify refused its token (401), and only then', async () => {
    const { client } = await deviceInCrew('Anna');
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    await phoneSignsIn(String(session.url));
    const first = ((await client.next(isType('spotify_auth_complete'))).tokens as { access_token: string }).access_token;
    expect((await client.request({ type: 'spotify_token_request' }, isType('spotify_token'))).access_token).toBe(first);
    expect(spotify.calls('token')).toBe(1);
    const refused = tokenFingerprint(first);
    const fresh = await client.request({ type: 'spotify_token_request', refused }, isType('spotify_token'));
    expect(fresh.access_token).not.toBe(first);
    expect(spotify.calls('token')).toBe(2);
    // A late report about the old token does not refresh again.
    expect((await client.request({ type: 'spotify_token_request', refused }, isType('spotify_token'))).access_token).toBe(fresh.access_token);
    expect(spotify.calls('token')).toBe(2);
  });

  it('refuses an expired link and a link replaced by a newer one', async () => {
    const { client } = await deviceInCrew('Anna');
    const first = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    const second = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    const replaced = await fetch(local(String(first.url)));
    expect(replaced.status).toBe(410);
    expect(await replaced.text()).toContain('was replaced');
    clock += 10 * 60_000 + 1;
    const expired = await fetch(local(String(second.url)));
    expect(expired.status).toBe(410);
    const continued = await fetch(`${local(String(second.url))}/continue`, { method: 'POST', redirect: 'manual' });
    expect(continued.status).toBe(410);
    expect(spotify.calls('authorize')).toBe(0);
  });

  it('refuses a state whose session expired while the phone was at Spotify, without exchanging the code', async () => {
    const { client } = await deviceInCrew('Anna');
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    const toSpotify = await fetch(`${local(String(session.url))}/continue`, { method: 'POST', redirect: 'manual' });
    const back = await fetch(toSpotify.headers.get('location')!, { redirect: 'manual' });
    clock += 10 * 60_000 + 1;
    const page = await fetch(local(back.headers.get('location')!));
    expect(page.status).toBe(410);
    expect(await page.text()).toContain('has expired');
    expect(spotify.calls('token')).toBe(0);
    expect(await relay.store.tokens.listLiveGrants()).toEqual([]);
  });

  it('refuses a state that was never issued and a callback without state', async () => {
    const forged = await fetch(`${relay.httpUrl}/spotify/callback?code=x&state=forged-state`);
    expect(forged.status).toBe(404);
    expect(await forged.text()).toContain('not valid');
    expect((await fetch(`${relay.httpUrl}/spotify/callback?code=x`)).status).toBe(404);
    expect((await fetch(`${relay.httpUrl}/s/NOTACODE`)).status).toBe(404);
    expect(spotify.calls('token')).toBe(0);
  });

  it('shows a denied page when the person says no at Spotify, and the link still works after', async () => {
    const { client } = await deviceInCrew('Anna');
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    spotify.denyNext();
    const denied = await phoneSignsIn(String(session.url));
    expect(denied.html).toContain('Spotify was not connected');
    const ok = await phoneSignsIn(String(session.url));
    expect(ok.html).toContain('Spotify is connected');
  });

  it('shows "Spotify is not answering" when the token endpoint fails, then succeeds on retry', async () => {
    const { client } = await deviceInCrew('Anna');
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    spotify.serverError('token', 3);
    const down = await phoneSignsIn(String(session.url));
    expect(down.page.status).toBe(502);
    expect(down.html).toContain('Spotify is not answering');
    expect(spotify.calls('token')).toBe(3);
    expect(await relay.store.tokens.getGrant(String((await relay.store.tokens.listLiveGrants())[0] ?? 'none'))).toBeNull();
    const ok = await phoneSignsIn(String(session.url));
    expect(ok.html).toContain('Spotify is connected');
    await client.next(isType('spotify_auth_complete'));
  });

  it('shows "another crew" when the gadget changed crews after the link was made', async () => {
    const { client } = await deviceInCrew('Anna');
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    await client.request({ type: 'leave_crew', client_msg_id: 'l1' }, isType('ack'));
    const page = await fetch(local(String(session.url)));
    expect(page.status).toBe(409);
    expect(await page.text()).toContain('another crew');
  });

  it('delivers a sign-in completed while the gadget was offline when it comes back', async () => {
    const { client, welcome } = await deviceInCrew('Anna');
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    await client.close();
    const { html } = await phoneSignsIn(String(session.url));
    expect(html).toContain('Spotify is connected');

    const back = await relay.connect();
    clients.push(back);
    await back.request(
      { type: 'hello', protocol_version: 3, device_name: 'Anna', device_id: welcome.device_id, device_secret: welcome.device_secret },
      isType('welcome'),
    );
    back.send({ type: 'spotify_token_request' });
    const complete = await back.next(isType('spotify_auth_complete'));
    const token = await back.next(isType('spotify_token'));
    expect((complete.tokens as { access_token: string }).access_token).toBe(token.access_token);
    // Only once.
    back.send({ type: 'spotify_token_request' });
    await back.next(isType('spotify_token'));
    await back.expectQuiet();
  });

  it('stops announcing an offline sign-in after 15 minutes', async () => {
    const { client, welcome } = await deviceInCrew('Anna');
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    await client.close();
    await phoneSignsIn(String(session.url));
    clock += 15 * 60_000 + 1;
    const back = await relay.connect();
    clients.push(back);
    await back.request(
      { type: 'hello', protocol_version: 3, device_name: 'Anna', device_id: welcome.device_id, device_secret: welcome.device_secret },
      isType('welcome'),
    );
    const first = await back.request({ type: 'spotify_token_request' }, (f) => f.type === 'spotify_token' || f.type === 'spotify_auth_complete');
    expect(first.type).toBe('spotify_token');
  });

  it('tells the gadget to sign in again when Spotify answers invalid_grant', async () => {
    const { client } = await deviceInCrew('Anna');
    expect(await client.request({ type: 'spotify_token_request' }, isType('spotify_signin_required'))).toMatchObject({ reason: 'no_grant' });
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    await phoneSignsIn(String(session.url));
    await client.next(isType('spotify_auth_complete'));
    spotify.revokeGrants('anna');
    clock += 2 * 3600_000;
    const required = await client.request({ type: 'spotify_token_request' }, isType('spotify_signin_required'));
    expect(required.reason).toBe('revoked');
    await client.expectQuiet();
    expect(await relay.store.tokens.listLiveGrants()).toEqual([]);
    expect(await feature.access.signedInMembers()).toEqual([]);
  });

  it('refreshes once for many concurrent requests and stores rotated refresh tokens', async () => {
    const { client, welcome } = await deviceInCrew('Anna');
    const session = await client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    await phoneSignsIn(String(session.url));
    await client.next(isType('spotify_auth_complete'));
    spotify.setRotateRefreshTokens(true);
    const deviceId = String(welcome.device_id);
    const broker = feature.broker!;
    for (let round = 1; round <= 2; round++) {
      clock += 2 * 3600_000;
      const tokens = await Promise.all(Array.from({ length: 12 }, () => broker.accessToken(deviceId)));
      expect(new Set(tokens).size).toBe(1);
      expect(spotify.calls('token')).toBe(1 + round);
      expect(spotify.refreshTokensOf('anna')).toHaveLength(1);
    }
    expect(await feature.access.signedInMembers()).toEqual([deviceId]);
  });

  it('lets the crew owner register the crew app and nobody else', async () => {
    spotify.registerApp('crew-own-app-1');
    const owner = await deviceInCrew('Anna');
    const guest = await device('Ben');
    await guest.client.request({ type: 'join_crew', crew_code: owner.crew.crew_code, display_name: 'Ben' }, isType('crew_joined'));
    const refused = await guest.client.request({ type: 'spotify_app_register', client_id: 'crew-own-app-1' }, isType('error'));
    expect(refused.code).toBe('not_owner');
    const bad = await owner.client.request({ type: 'spotify_app_register', client_id: 'no spaces allowed' }, isType('error'));
    expect(bad.code).toBe('invalid_message');
    const app = await owner.client.request(
      { type: 'spotify_app_register', client_id: 'crew-own-app-1', client_secret: 'crew-secret-123' },
      isType('spotify_app'),
    );
    expect(app).toMatchObject({ client_id: 'crew-own-app-1', has_secret: true });
    const session = await guest.client.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    spotify.registerApp('crew-own-app-1', 'crew-secret-123');
    const { html } = await phoneSignsIn(String(session.url));
    expect(html).toContain('Spotify is connected');
    expect(spotify.lastAuthorize!.get('client_id')).toBe('crew-own-app-1');
    const files = (await fs.readdir(relay.dataDir)).filter((f) => f.startsWith('leeloo.db'));
    const bytes = Buffer.concat(await Promise.all(files.map((f) => fs.readFile(path.join(relay.dataDir, f)))));
    expect(bytes.includes(Buffer.from('crew-secret-123'))).toBe(false);
  });
});
