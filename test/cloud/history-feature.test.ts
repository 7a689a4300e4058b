import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../cloud/config.js';
import { historyFeatureFactory } from '../../cloud/history/history-feature.js';
import { playInput } from '../../cloud/store/areas/history.js';
import { composeFeatures } from '../../cloud/compose.js';
import { fakeTrack, startFakeSpotify } from '../fakes/fake-spotify.js';
import { signInOnPhone } from '../helpers/phone-sign-in.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { waitUntil } from '../helpers/wait-until.js';
import { isType } from '../helpers/ws-client.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
let relay: InProcessRelay | null = null;

afterEach(async () => {
  await relay?.close();
  relay = null;
});

describe('the history feature in the relay', () => {
  it('serves the admin history API and keeps the member API for the crew pages', async () => {
    const history = historyFeatureFactory({ signedInMembers: async () => [], accessToken: async () => 'unused', refreshedToken: async () => 'unused' });
    relay = await startInProcessRelay({ env: { ADMIN_TOKEN }, features: [history] });
    await relay.store.crews.saveDevice({ deviceId: 'ana', displayName: 'Ana' });
    await relay.store.history.addPlays([
      playInput({ memberId: 'ana', source: 'import_extended', endMs: Date.UTC(2023, 0, 1), track: 'T', artist: 'A', msPlayed: 90_000 }),
    ]);
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const top = await fetch(`${relay.httpUrl}/admin/history/members/ana/history/top?kind=artists`, { headers: auth });
    expect(top.status).toBe(200);
    expect((await top.json()).items).toEqual([{ artist: 'A', plays: 1, ms_played: 90_000 }]);
    const csv = await (await fetch(`${relay.httpUrl}/admin/history/members/ana/history/export.csv`, { headers: auth })).text();
    expect(csv.split('\r\n')[1]).toMatch(/^2023-01-01T00:00:00.000Z,import_extended,T,A,/);
    expect((await fetch(`${relay.httpUrl}/admin/history/members/ana/history`)).status).toBe(401);
  });

  it("collects a member's recently-played once the member signs in on the phone, as cloud/main.ts wires it", async () => {
    const spotify = await startFakeSpotify();
    try {
      spotify.registerApp('leeloo-relay-app');
      spotify.addUser({ id: 'anna' });
      const start = Date.now();
      const ended = (minutesAgo: number) => new Date(start - minutesAgo * 60_000).toISOString();
      spotify.setRecentlyPlayed('anna', [
        { track: fakeTrack('PLAY1', { name: 'Joga', artists: ['Björk'] }), played_at: ended(30) },
        { track: fakeTrack('PLAY2', { name: 'Roads', artists: ['Portishead'] }), played_at: ended(20) },
      ]);
      const publicUrl = 'https://leeloo.example';
      relay = await startInProcessRelay({
        env: {
          PUBLIC_URL: publicUrl,
          SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
          LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 4).toString('base64'),
          SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
          SPOTIFY_API_URL: spotify.apiUrl,
        },
        features: [(context) => composeFeatures(context, { history: { collectIntervalMs: 200, collectorTickMs: 20 } })],
      });
      const gadget = await relay.connect();
      try {
        const welcome = await gadget.request({ type: 'hello', protocol_version: 3, device_name: 'Anna' }, isType('welcome'));
        await gadget.request({ type: 'create_crew', display_name: 'Anna' }, isType('crew_created'));
        const deviceId = String(welcome.device_id);
        expect(await relay.store.history.countPlays(deviceId)).toBe(0);

        const session = await gadget.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
        await signInOnPhone(String(session.url), publicUrl, relay.httpUrl);
        await gadget.next(isType('spotify_auth_complete'));
        const store = relay.store;
        await waitUntil(async () => (await store.history.countPlays(deviceId)) === 2, 'the collected plays');
        expect(spotify.calls('recently-played', 'anna')).toBeGreaterThan(0);

        // Spotify stops accepting the cached token: the collector refreshes on the 401 and goes on.
        spotify.expireAccessTokens('anna');
        const refreshes = spotify.calls('token');
        spotify.setRecentlyPlayed('anna', [
          { track: fakeTrack('PLAY1', { name: 'Joga', artists: ['Björk'] }), played_at: ended(30) },
          { track: fakeTrack('PLAY2', { name: 'Roads', artists: ['Portishead'] }), played_at: ended(20) },
          { track: fakeTrack('PLAY3', { name: 'Teardrop', artists: ['Massive Attack'] }), played_at: ended(10) },
        ]);
        await waitUntil(async () => (await store.history.countPlays(deviceId)) === 3, 'the play collected after a refresh');
        expect(spotify.calls('token')).toBe(refreshes + 1);
        expect(spotify.log.some((e) => e.endpoint === 'recently-played' && e.status === 401)).toBe(true);

        // Revoked at Spotify: the refresh gets invalid_grant, the grant dies at once and the
        // member drops out of the collection (no hour of failing calls).
        spotify.revokeGrants('anna');
        await gadget.next(isType('spotify_signin_required', { reason: 'revoked' }));
        expect((await store.tokens.getGrant(deviceId))?.status).toBe('dead');
        expect(await store.tokens.listLiveGrants()).toEqual([]);
      } finally {
        await gadget.close();
      }
    } finally {
      await spotify.close();
    }
  });

  it('refuses a too-short ADMIN_TOKEN at configuration time', async () => {
    expect(() => loadConfig({ ADMIN_TOKEN: 'short' })).toThrow(/ADMIN_TOKEN must be at least 24 characters/);
    expect(loadConfig({ ADMIN_TOKEN: '' }).adminToken).toBeUndefined();
    expect(loadConfig({ HISTORY_MAX_UPLOAD_MB: '8' }).history?.maxUploadBytes).toBe(8 * 1024 ** 2);
  });
});
