import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HistoryFeature } from '../../../cloud/history/history-feature.js';
import { playInput } from '../../../cloud/store/areas/history.js';
import { MixtapeMaker } from '../../../cloud/history/mixtape-maker.js';
import { McpFeature } from '../../../cloud/mcp/mcp-feature.js';
import { memberSpotify } from '../../../cloud/spotify/member-spotify.js';
import { SpotifyFeature } from '../../../cloud/spotify/spotify-feature.js';
import { fakeTrack, startFakeSpotify, type FakeSpotify } from '../../fakes/fake-spotify.js';
import { bearer, crewGadget, mcpClient, resultOf, toolError, type CrewGadget } from '../../helpers/mcp-crew.js';
import { signInOnPhone } from '../../helpers/phone-sign-in.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, OpenClients } from '../../helpers/ws-client.js';

/*
 * The MCP tools that act in a member's own Spotify — search_spotify and create_weekly_mixtape —
 * on a relay wired as cloud/main.ts wires them (the Spotify feature's tokens, the history
 * queries), against the fake Spotify: a member signed in from the gadget as a phone does it,
 * Spotify's refusals (401 → refresh, 429 with Retry-After, 5xx, a sign-in without the playlist
 * scope) answered as readable tool errors, and the mixtape made once per member and week.
 */

const PUBLIC_URL = 'https://leeloo.example';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const DAY = 86_400_000;
const id = (n: number) => `mix${String(n).padStart(19, '0')}`;
const uri = (n: number) => `spotify:track:${id(n)}`;

/** Monday 00:00 UTC of the week holding `ms`. */
const mondayOf = (ms: number) => {
  const day = Math.floor(ms / DAY) * DAY;
  return day - ((new Date(day).getUTCDay() + 6) % 7) * DAY;
};

describe('MCP tools in the member’s own Spotify', () => {
  let spotify: FakeSpotify;
  let relay: InProcessRelay;
  const clients = new OpenClients(() => relay.connect());
  const assistants: Client[] = [];
  let anna: CrewGadget;
  let bo: CrewGadget;

  async function assistantOf(gadget: CrewGadget): Promise<Client> {
    const res = await fetch(`${relay.httpUrl}/admin/devices/${gadget.deviceId}/mcp-token`, { method: 'POST', headers: bearer(ADMIN_TOKEN) });
    const { token } = (await res.json()) as { token: string };
    const client = await mcpClient(`${relay.httpUrl}/mcp`, bearer(token));
    assistants.push(client);
    return client;
  }

  beforeAll(async () => {
    spotify = await startFakeSpotify();
    spotify.registerApp('leeloo-relay-app');
    spotify.addUser({ id: 'anna', displayName: 'Anna' });
    for (const n of [1, 2, 3]) spotify.addCatalogTrack(fakeTrack(id(n), { name: `Harbour Lights ${n}`, artists: ['The Tides'], album: 'Coast' }));
    for (let n = 10; n < 22; n++) spotify.addCatalogTrack(fakeTrack(id(n), { name: `Lantern ${n}`, artists: ['Glow'], album: 'Night' }));
    relay = await startInProcessRelay({
      env: {
        PUBLIC_URL,
        ADMIN_TOKEN,
        SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
        LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
        SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
        SPOTIFY_API_URL: spotify.apiUrl,
      },
      // Spotify, history and MCP handed their ports as cloud/compose.ts hands them; no queue, so shares queue no lookups.
      features: [
        (context) => {
          const spot = new SpotifyFeature(context, { http: { backoffBaseMs: 1 } });
          const history = new HistoryFeature(context, spot.access);
          const assistantSpotify = memberSpotify({ access: spot.access, apiUrl: () => spot.apiUrl });
          const mixtapes = new MixtapeMaker({ store: context.store, spotify: assistantSpotify, plays: () => history.queries, now: Date.now });
          return [spot, history, new McpFeature(context, { history: history.queries, spotify: assistantSpotify, mixtapes })];
        },
      ],
    });
    anna = await crewGadget(() => clients.connect(), 'Anna');
    bo = await crewGadget(() => clients.connect(), 'Bo', anna.crewCode);
    // Anna's phone completes the Spotify sign-in her gadget started.
    const session = await anna.client.request({ type: 'spotify_signin_start', client_msg_id: 'signin-1' }, isType('spotify_signin_session'));
    await signInOnPhone(String(session.url), PUBLIC_URL, relay.httpUrl);
    await anna.client.next(isType('spotify_auth_complete'));
  });

  afterEach(async () => {
    await Promise.all(assistants.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await clients.closeAll();
    await relay?.close();
    await spotify?.close();
  });

  describe('search_spotify', () => {
    it('finds catalog tracks with the member’s token, in the fields queue_add takes, at most the limit', async () => {
      const client = await assistantOf(anna);
      const found = resultOf<Record<string, unknown>[]>(await client.callTool({ name: 'search_spotify', arguments: { query: 'harbour tides' } }));
      expect(found.map((t) => t.spotify_uri)).toEqual([uri(1), uri(2), uri(3)]);
      expect(found[0]).toEqual({
        spotify_uri: uri(1),
        track: 'Harbour Lights 1',
        artist: 'The Tides',
        album: 'Coast',
        duration_ms: 200_000,
        album_art_url: expect.stringContaining(spotify.origin),
      });
      const many = resultOf<unknown[]>(await client.callTool({ name: 'search_spotify', arguments: { query: 'lantern', limit: 10 } }));
      expect(many).toHaveLength(10);
      expect(spotify.log.filter((e) => e.endpoint === 'search').every((e) => e.userId === 'anna' && e.status === 200)).toBe(true);
    });

    it('refreshes an expired token once and answers', async () => {
      const client = await assistantOf(anna);
      const refreshes = spotify.calls('token');
      spotify.expireAccessTokens('anna');
      const found = resultOf<unknown[]>(await client.callTool({ name: 'search_spotify', arguments: { query: 'harbour 2' } }));
      expect(found).toHaveLength(1);
      expect(spotify.calls('token')).toBe(refreshes + 1);
    });

    it('tells a member without a Spotify sign-in to sign in from the gadget', async () => {
      const client = await assistantOf(bo);
      expect(toolError(await client.callTool({ name: 'search_spotify', arguments: { query: 'lantern' } }))).toMatch(/^spotify_signin_required: /);
    });
  });

  describe('create_weekly_mixtape', () => {
    const weekStart = mondayOf(Date.now());
    const at = (week: number, minute: number) => weekStart + week * 7 * DAY + minute * 60_000;
    const plays = (member: CrewGadget, n: number, count: number, week = 0) =>
      Array.from({ length: count }, (_, i) =>
        playInput({
          memberId: member.deviceId,
          source: 'import_extended',
          endMs: at(week, n * 10 + i),
          track: `Lantern ${n}`,
          artist: 'Glow',
          trackUri: uri(n),
          msPlayed: 90_000,
        }),
      );
    const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

    beforeAll(async () => {
      const share = (n: number | string, key: string) =>
        bo.client.request(
          {
            type: 'message',
            msg_type: 'song_push',
            client_msg_id: key,
            payload: { spotify_uri: typeof n === 'number' ? uri(n) : n, track: `Shared ${n}`, artist: 'The Tides', album: '', note: '' },
          },
          isType('ack'),
        );
      await share(3, 's1');
      await share('spotify:track:short1', 's2');
      await share(1, 's3');
      await share(3, 's4');
      await relay.store.history.addPlays([
        ...plays(anna, 10, 3),
        ...plays(bo, 11, 2),
        ...plays(bo, 1, 5),
        ...plays(bo, 12, 1),
        ...plays(anna, 13, 9, -1),
        ...plays(anna, 14, 1, -2),
        ...plays(anna, 15, 1, -3),
      ]);
    });

    it('makes a private playlist in the member’s account: the week’s shares in order, then its most played tracks', async () => {
      const client = await assistantOf(anna);
      const made = resultOf<Record<string, unknown>>(await client.callTool({ name: 'create_weekly_mixtape', arguments: {} }));
      const expected = [uri(3), uri(1), uri(10), uri(11), uri(12)];
      expect(made).toMatchObject({ created: true, track_count: 5, week_of: isoDay(weekStart) });
      expect(made.tracks).toEqual([
        { uri: uri(3), track: 'Shared 3', artist: 'The Tides', why: 'shared', shared_by: 'Bo' },
        { uri: uri(1), track: 'Shared 1', artist: 'The Tides', why: 'shared', shared_by: 'Bo' },
        { uri: uri(10), track: 'Lantern 10', artist: 'Glow', why: 'played', plays: 3 },
        { uri: uri(11), track: 'Lantern 11', artist: 'Glow', why: 'played', plays: 2 },
        { uri: uri(12), track: 'Lantern 12', artist: 'Glow', why: 'played', plays: 1 },
      ]);
      const [playlist, ...more] = spotify.playlistsOf('anna');
      expect(more).toEqual([]);
      expect(playlist).toMatchObject({ public: false, uris: expected, name: made.name });
      expect(made.playlist_uri).toBe(`spotify:playlist:${playlist!.id}`);
      expect(made.url).toBe(`https://open.spotify.com/playlist/${playlist!.id}`);
      expect(playlist!.name).toMatch(/^LEELOO crew mixtape · week of \d{1,2} \w{3} \d{4}$/);
      expect(spotify.playlistsOf('bo')).toEqual([]);

      // Asked again: the same playlist, nothing made or added at Spotify.
      const created = spotify.calls('create-playlist');
      const again = resultOf<Record<string, unknown>>(
        await client.callTool({ name: 'create_weekly_mixtape', arguments: { week_of: isoDay(weekStart + 3 * DAY) } }),
      );
      expect(again).toMatchObject({ created: false, playlist_uri: made.playlist_uri, track_count: 5 });
      expect(spotify.calls('create-playlist')).toBe(created);
      expect(spotify.playlistsOf('anna')[0]!.uris).toEqual(expected);
    });

    it('makes one playlist when asked twice at once', async () => {
      const client = await assistantOf(anna);
      const before = spotify.playlistsOf('anna').length;
      const lastWeek = { week_of: isoDay(weekStart - 7 * DAY) };
      const answers = await Promise.all([1, 2].map(() => client.callTool({ name: 'create_weekly_mixtape', arguments: lastWeek })));
      const [a, b] = answers.map((x) => resultOf<{ playlist_uri: string; track_count: number }>(x));
      expect(a!.playlist_uri).toBe(b!.playlist_uri);
      expect(spotify.playlistsOf('anna')).toHaveLength(before + 1);
      expect(spotify.playlistsOf('anna').at(-1)!.uris).toEqual([uri(13)]);
    });

    it('finishes the same playlist when Spotify failed while adding its tracks', async () => {
      const client = await assistantOf(anna);
      const before = spotify.playlistsOf('anna').length;
      const week = { week_of: isoDay(weekStart - 14 * DAY) };
      spotify.serverError('playlist-items', 1, 502);
      expect(toolError(await client.callTool({ name: 'create_weekly_mixtape', arguments: week }))).toMatch(/^spotify_unavailable: /);
      expect(spotify.playlistsOf('anna')).toHaveLength(before + 1);
      expect(spotify.playlistsOf('anna').at(-1)!.uris).toEqual([]);
      const finished = resultOf<{ created: boolean }>(await client.callTool({ name: 'create_weekly_mixtape', arguments: week }));
      expect(finished.created).toBe(false);
      expect(spotify.playlistsOf('anna')).toHaveLength(before + 1);
      expect(spotify.playlistsOf('anna').at(-1)!.uris).toEqual([uri(14)]);
    });

    it('says so when the week holds nothing, and when the member cannot make playlists', async () => {
      const client = await assistantOf(anna);
      expect(toolError(await client.callTool({ name: 'create_weekly_mixtape', arguments: { week_of: '2020-01-08' } }))).toBe(
        'not_found: Your crew shared and played no Spotify tracks in the week of 2020-01-06: there is nothing to put in a mixtape.',
      );
      expect(toolError(await (await assistantOf(bo)).callTool({ name: 'create_weekly_mixtape', arguments: {} }))).toMatch(/^spotify_signin_required: /);
      // A sign-in from before LEELOO asked for playlists: Spotify refuses, the member is told to sign in again.
      const before = spotify.playlistsOf('anna').length;
      spotify.narrowScopes('anna', 'user-read-currently-playing user-read-playback-state user-modify-playback-state user-read-recently-played');
      const week = { week_of: isoDay(weekStart - 21 * DAY) };
      expect(toolError(await client.callTool({ name: 'create_weekly_mixtape', arguments: week }))).toMatch(
        /^spotify_signin_required: This Spotify sign-in does not allow this .*sign in with Spotify again from the gadget/,
      );
      expect(spotify.playlistsOf('anna')).toHaveLength(before);
      expect(await relay.store.mcp.findMixtape(anna.deviceId, isoDay(weekStart - 21 * DAY))).toBeNull();
    });
  });

  describe('Spotify asking to slow down', () => {
    it('answers Spotify’s 429 with the wait it asked for, and its 5xx as unavailable; the endpoint goes on', async () => {
      const client = await assistantOf(anna);
      spotify.serverError('search', 1, 503);
      expect(toolError(await client.callTool({ name: 'search_spotify', arguments: { query: 'lantern' } }))).toMatch(/^spotify_unavailable: /);
      spotify.rateLimit('search', 120);
      expect(toolError(await client.callTool({ name: 'search_spotify', arguments: { query: 'lantern' } }))).toMatch(
        /^spotify_rate_limited: .*\(wait 1[12]\d s\)/,
      );
      // The Retry-After is kept for this member: the next search is refused without asking Spotify.
      const asked = spotify.calls('search');
      expect(toolError(await client.callTool({ name: 'search_spotify', arguments: { query: 'lantern' } }))).toMatch(/^spotify_rate_limited: /);
      expect(spotify.calls('search')).toBe(asked);
      expect(resultOf<unknown[]>(await client.callTool({ name: 'crew_shares', arguments: {} })).length).toBeGreaterThan(0);
    });
  });
});
