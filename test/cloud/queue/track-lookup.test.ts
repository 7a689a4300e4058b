import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeFeatures } from '../../../cloud/compose.js';
import type { QueueSnapshot } from '../../../protocol/queue.js';
import { fakeTrack, startFakeSpotify, type FakeSpotify } from '../../fakes/fake-spotify.js';
import { signInOnPhone } from '../../helpers/phone-sign-in.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type TestClient } from '../../helpers/ws-client.js';

/* lookupTrack as cloud/main.ts connects it (the composition root, cloud/compose.ts): a real relay (in process), the fake Spotify. */

const PUBLIC_URL = 'https://leeloo.example';
const DEFAULT_MS = 180_000;
const id = (n: number) => String(n).padStart(22, 'L');
const uri = (n: number) => `spotify:track:${id(n)}`;

describe('track lookup for tracks queued without a duration', () => {
  let spotify: FakeSpotify;
  let relay: InProcessRelay;
  let owner: TestClient;
  let mate: TestClient;

  async function member(name: string): Promise<TestClient> {
    const client = await relay.connect();
    await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
    return client;
  }

  /** The owner's phone completes the Spotify sign-in the owner's gadget started. */
  async function signIn(client: TestClient): Promise<void> {
    const session = await client.request({ type: 'spotify_signin_start', client_msg_id: 'signin-1' }, isType('spotify_signin_session'));
    await signInOnPhone(String(session.url), PUBLIC_URL, relay.httpUrl);
    await client.next(isType('spotify_auth_complete'));
  }

  async function queueOf(client: TestClient): Promise<QueueSnapshot> {
    const answer = await client.request({ type: 'queue_get' }, (f) => f.type === 'queue_state' && (f.change as { kind: string }).kind === 'snapshot');
    return answer.queue as QueueSnapshot;
  }

  beforeAll(async () => {
    spotify = await startFakeSpotify();
    spotify.registerApp('leeloo-relay-app');
    spotify.addUser({ id: 'olga' });
    for (const n of [1, 2, 5])
      spotify.addCatalogTrack(fakeTrack(id(n), { name: `Found ${n}`, artists: ['Lookup', 'Band'], album: `Album ${n}`, duration_ms: 100_000 + n * 1000 }));
    relay = await startInProcessRelay({
      env: {
        PUBLIC_URL,
        SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
        LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
        SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
        SPOTIFY_API_URL: spotify.apiUrl,
        LEELOO_QUEUE_DEFAULT_DURATION_MS: String(DEFAULT_MS),
      },
      // As cloud/main.ts wires it: the queue's TrackLookup asks Spotify with members' tokens.
      features: [composeFeatures],
    });
    owner = await member('Olga');
    const crew = await owner.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'));
    await signIn(owner);
    mate = await member('Ben');
    await mate.request({ type: 'join_crew', crew_code: crew.crew_code, display_name: 'Ben' }, isType('crew_joined'));
  });

  afterAll(async () => {
    await owner?.close();
    await mate?.close();
    await relay?.close();
    await spotify?.close();
  });

  it("fills the duration and album from Spotify with the adder's token", async () => {
    await owner.request({ type: 'queue_add', spotify_uri: uri(1), track: 'Typed title', artist: 'Typed artist', client_msg_id: 'a1' }, isType('ack'));
    const playing = (await queueOf(owner)).now_playing!;
    expect(playing).toMatchObject({ spotify_uri: uri(1), duration_ms: 101_000, clock_duration_ms: 101_000, album: 'Album 1' });
    // What the member typed is kept; Spotify only fills what is missing.
    expect(playing).toMatchObject({ track: 'Typed title', artist: 'Typed artist' });
    expect(playing.album_art_url).toBe(`${spotify.origin}/images/${id(1)}.jpg`);
    expect(spotify.calls('track', 'olga')).toBe(1);
  });

  it("uses the crew owner's token when the adder has no Spotify sign-in, and shares are looked up too", async () => {
    await mate.request({ type: 'queue_add', spotify_uri: uri(2), track: 'Two', artist: 'B', client_msg_id: 'b1' }, isType('ack'));
    mate.send({
      type: 'message',
      msg_type: 'song_push',
      client_msg_id: 'share-5',
      payload: { artist: 'Lookup', track: 'Found 5', album: '', spotify_uri: uri(5), album_art_url: '', note: '' },
    });
    await owner.next(
      (f) =>
        f.type === 'queue_state' && (f.change as { kind: string }).kind === 'added' && (f.queue as QueueSnapshot).up_next.some((i) => i.spotify_uri === uri(5)),
    );
    const queue = await queueOf(owner);
    expect(queue.up_next.find((i) => i.spotify_uri === uri(2))?.duration_ms).toBe(102_000);
    expect(queue.up_next.find((i) => i.spotify_uri === uri(5))).toMatchObject({ duration_ms: 105_000, album: 'Album 5' });
    expect(spotify.calls('track', 'olga')).toBe(3);
  });

  it('falls back to the default duration without blocking the add when Spotify fails or does not know the track', async () => {
    await owner.request({ type: 'queue_add', spotify_uri: uri(9), track: 'Unknown', artist: 'X', client_msg_id: 'c1' }, isType('ack'));
    spotify.serverError('track', 4);
    await owner.request({ type: 'queue_add', spotify_uri: uri(7), track: 'Down', artist: 'Y', client_msg_id: 'c2' }, isType('ack'));
    const queue = await queueOf(owner);
    expect(queue.up_next.find((i) => i.track === 'Unknown')?.duration_ms).toBeNull();
    expect(queue.up_next.find((i) => i.track === 'Down')?.duration_ms).toBeNull();

    // With nothing else left, the unknown track plays on the relay's default duration.
    await owner.request({ type: 'queue_clear', client_msg_id: 'c3' }, isType('ack'));
    await owner.request({ type: 'queue_add', spotify_uri: uri(8), track: 'Eight', artist: 'Z', client_msg_id: 'c4' }, isType('ack'));
    await owner.request({ type: 'queue_skip', client_msg_id: 'c5' }, isType('ack'));
    const after = await queueOf(owner);
    expect(after.now_playing).toMatchObject({ spotify_uri: uri(8), duration_ms: null, clock_duration_ms: DEFAULT_MS });
  });

  it('does not ask Spotify when the gadget sent the duration, title and artist', async () => {
    const before = spotify.calls('track');
    await owner.request({ type: 'queue_add', spotify_uri: uri(6), track: 'Six', artist: 'S', duration_ms: 99_000, client_msg_id: 'd1' }, isType('ack'));
    expect(spotify.calls('track')).toBe(before);
  });

  it('lets a phone add a track by its link alone, naming it from Spotify, and asks for the title when Spotify cannot', async () => {
    spotify.addCatalogTrack(fakeTrack(id(11), { name: 'Linked', artists: ['Pasted'], album: 'From a link', duration_ms: 111_000 }));
    const link = await owner.request({ type: 'crew_link' }, isType('crew_link_issued'));
    const open = await fetch(String(link.url).replace(PUBLIC_URL, relay.httpUrl), { redirect: 'manual' });
    const cookie = open.headers.get('set-cookie')!.split(';')[0]!;
    const add = (body: object) =>
      fetch(`${relay.httpUrl}/crew/api/queue`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    const added = await add({ link: `https://open.spotify.com/track/${id(11)}?si=abc` });
    expect(added.status).toBe(200);
    const queue = await queueOf(owner);
    expect([queue.now_playing, ...queue.up_next].find((i) => i?.spotify_uri === uri(11))).toMatchObject({
      track: 'Linked',
      artist: 'Pasted',
      album: 'From a link',
      duration_ms: 111_000,
    });

    const unknown = await add({ link: `spotify:track:${id(12)}` });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ code: 'invalid_message', message: expect.stringMatching(/add the title and artist/) });
  });
});
