import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spotifyFeatureFactory } from '../../../cloud/spotify/spotify-feature.js';
import { parseConfig } from '../../../device/config.js';
import { Controller } from '../../../device/controller.js';
import { createButtons, createDisplay } from '../../../device/drivers.js';
import { fakeTrack, startFakeSpotify, type FakeSpotify } from '../../fakes/fake-spotify.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type TestClient } from '../../helpers/ws-client.js';

const log = pino({ level: 'silent' });
const PUBLIC_URL = 'https://leeloo.example';

/** Waits for a condition the gadget reaches by itself; fails the test after the timeout. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('Spotify on the gadget, against a real relay and the fake Spotify', () => {
  let spotify: FakeSpotify;
  let relay: InProcessRelay;
  let root: string;
  let mate: TestClient;
  let controller: Controller;

  beforeAll(async () => {
    spotify = await startFakeSpotify();
    spotify.registerApp('leeloo-relay-app');
    spotify.addUser({ id: 'anna', displayName: 'Anna' });
    spotify.setCurrentlyPlaying('anna', { track: fakeTrack('TRACK1', { name: 'Joga', artists: ['Björk'], album: 'Homogenic' }), progress_ms: 30_000, is_playing: true });
    relay = await startInProcessRelay({
      env: {
        PUBLIC_URL, SPOTIFY_CLIENT_ID: 'leeloo-relay-app', LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
        SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl, SPOTIFY_API_URL: spotify.apiUrl,
      },
      features: [spotifyFeatureFactory().factory],
    });
    mate = await relay.connect();
    await mate.request({ type: 'hello', protocol_version: 3, device_name: 'Ben' }, isType('welcome'));
    const crew = await mate.request({ type: 'create_crew', display_name: 'Ben' }, isType('crew_created'));

    root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-spotify-gadget-'));
    const config = parseConfig({
      relay: { url: relay.wsUrl },
      device: { name: 'Kitchen', crewCode: crew.crew_code },
      dataDir: path.join(root, 'kitchen'),
      sim: { mirror: { enabled: false, host: '127.0.0.1', port: 0 }, snapshotKeep: 0, keyboard: false },
    }, root);
    const display = createDisplay(config, log);
    controller = new Controller({ config, display, buttons: createButtons(config, log, { display }), log });
    await controller.start();
  });

  afterAll(async () => {
    await controller?.stop();
    await mate?.close();
    await relay?.close();
    await spotify?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('shows the sign-in QR, then now playing once the phone signed in', async () => {
    const link = controller.spotify;
    await waitUntil(() => controller.currentScreen === 'sign_in' && link.signIn.session !== null, 'the sign-in QR');
    const session = link.signIn.session!;
    expect(session.url).toMatch(new RegExp(`^${PUBLIC_URL}/s/[A-Z2-9]{8}$`));

    // The phone, step by step.
    const landing = await fetch(session.url.replace(PUBLIC_URL, relay.httpUrl));
    expect(await landing.text()).toContain('Kitchen');
    const toSpotify = await fetch(`${session.url.replace(PUBLIC_URL, relay.httpUrl)}/continue`, { method: 'POST', redirect: 'manual' });
    const back = await fetch(toSpotify.headers.get('location')!, { redirect: 'manual' });
    const done = await fetch(back.headers.get('location')!.replace(PUBLIC_URL, relay.httpUrl));
    expect(await done.text()).toContain('Spotify is connected');

    await waitUntil(() => link.nowPlaying.playing !== null, 'now playing');
    expect(controller.currentScreen).toBe('now_playing');
    expect(link.nowPlaying.playing).toMatchObject({ track: 'Joga', artist: 'Björk', album: 'Homogenic', uri: 'spotify:track:TRACK1' });
    expect(link.tokens.apiUrl).toBe(spotify.apiUrl);
    await waitUntil(() => spotify.calls('image') === 1, 'the album art download');
  });

  it('shares what is playing with one press; the crew mate receives it', async () => {
    const received = mate.next(isType('message', { msg_type: 'song_push' }));
    controller.spotify.nowPlaying.onButton({ kind: 'press', button: 'primary', at: Date.now() }, null as never);
    const share = await received;
    expect(share.payload).toMatchObject({
      spotify_uri: 'spotify:track:TRACK1', track: 'Joga', artist: 'Björk', album: 'Homogenic',
      album_art_url: `${spotify.origin}/images/TRACK1.jpg`,
    });
    expect(share.from_name).toBe('Kitchen');
    await waitUntil(() => controller.spotify.nowPlaying.notice?.text === 'Shared with your crew ✓', 'the confirmation');
  });

  it("puts the mate's shared track into the owner's Spotify, with the real errors", async () => {
    mate.send({
      type: 'message', msg_type: 'song_push', client_msg_id: 'push-1',
      payload: { artist: 'Portishead', track: 'Roads', album: 'Dummy', spotify_uri: 'spotify:track:ROADS1', album_art_url: '', note: 'rainy' },
    });
    await waitUntil(() => controller.state.feed.some((f) => f.kind === 'share' && f.share.spotify_uri === 'spotify:track:ROADS1'), 'the shared track');
    const link = controller.spotify;
    expect(await link.useSharedTrack('queue')).toBe(true);
    expect(spotify.queueOf('anna')).toEqual(['spotify:track:ROADS1']);

    spotify.setActiveDevice('anna', false);
    expect(await link.useSharedTrack('play')).toBe(false);
    expect(link.nowPlaying.notice?.text).toMatch(/no active player/);
    spotify.setActiveDevice('anna', true);
    spotify.setPremium('anna', false);
    expect(await link.useSharedTrack('play')).toBe(false);
    expect(link.nowPlaying.notice?.text).toMatch(/Premium/);
    spotify.setPremium('anna', true);
    expect(await link.useSharedTrack('play')).toBe(true);
    expect(spotify.playedOf('anna')).toEqual(['spotify:track:ROADS1']);
  });

  it('shows the sign-in QR again when the grant is revoked', async () => {
    spotify.revokeGrants('anna');
    const link = controller.spotify;
    link.tokens.clear();
    await relay.store.tokens.saveGrant({ ...(await relay.store.tokens.getGrant(controller.state.deviceId!))!, accessExpiresAt: 0 });
    const result = await link.useSharedTrack('queue');
    expect(result).toBe(false);
    await waitUntil(() => controller.currentScreen === 'sign_in' && link.signIn.session !== null, 'the sign-in QR again');
    expect(link.nowPlaying.link).toBe('signed_out');
  });
});

describe('Spotify on the gadget when the relay has no Spotify app', () => {
  let relay: InProcessRelay;
  let root: string;
  let controller: Controller;

  beforeAll(async () => {
    relay = await startInProcessRelay({ features: [spotifyFeatureFactory().factory] });
    root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-spotify-none-'));
    const config = parseConfig({
      relay: { url: relay.wsUrl },
      device: { name: 'Kitchen', crewCode: null },
      dataDir: path.join(root, 'kitchen'),
      sim: { mirror: { enabled: false, host: '127.0.0.1', port: 0 }, snapshotKeep: 0, keyboard: false },
    }, root);
    const display = createDisplay(config, log);
    controller = new Controller({ config, display, buttons: createButtons(config, log, { display }), log });
    await controller.start();
  });

  afterAll(async () => {
    await controller?.stop();
    await relay?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('says that Spotify is not set up here instead of offering a sign-in or blaming Spotify', async () => {
    const link = controller.spotify;
    await waitUntil(() => link.nowPlaying.link === 'not_configured', 'the relay saying it has no Spotify app');
    expect(link.nowPlaying.playing).toBeNull();

    await waitUntil(() => controller.state.crew !== null, 'the crew');
    await controller.shareTrack({
      artist: 'Portishead', track: 'Roads', album: 'Dummy', spotify_uri: 'spotify:track:ROADS1', album_art_url: '', note: '',
    });
    // Without Spotify the shared track cannot go into the owner's player; the relay's own sentence says why.
    await waitUntil(() => controller.state.feed.some((f) => f.kind === 'share'), 'the own share in the feed');
    expect(await link.useSharedTrack('play')).toBe(false);
    expect(link.nowPlaying.notice?.text).toMatch(/no Spotify app configured/);
  });
});
