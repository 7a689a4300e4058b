import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../cloud/config.js';
import { createLogger } from '../../../cloud/log.js';
import { createRelay, type Relay } from '../../../cloud/server.js';
import { spotifyFeatureFactory } from '../../../cloud/spotify/spotify-feature.js';
import { openStore } from '../../../cloud/store/open-store.js';
import type { Store } from '../../../cloud/store/store.js';
import type { Controller } from '../../../device/controller.js';
import type { ButtonEvent, Buttons } from '../../../device/hardware.js';
import { POLL_INTERVALS } from '../../../device/features/spotify/now-playing-poller.js';
import { ManualClock } from '../../fakes/manual-clock.js';
import { RecordingDisplay } from '../../fakes/recording-display.js';
import { fakeTrack, startFakeSpotify, type FakeSpotify } from '../../fakes/fake-spotify.js';
import { signInOnPhone } from '../../helpers/phone-sign-in.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { startSimGadget } from '../../helpers/sim-gadget.js';
import { waitUntil } from '../../helpers/wait-until.js';
import { expectOnePollPerInterval } from './slow-polls.js';
import { TestClient, isType } from '../../helpers/ws-client.js';

const PUBLIC_URL = 'https://leeloo.example';

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
    spotify.setCurrentlyPlaying('anna', {
      track: fakeTrack('TRACK1', { name: 'Joga', artists: ['Björk'], album: 'Homogenic' }),
      progress_ms: 30_000,
      is_playing: true,
    });
    relay = await startInProcessRelay({
      env: {
        PUBLIC_URL,
        SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
        LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
        SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
        SPOTIFY_API_URL: spotify.apiUrl,
      },
      features: [spotifyFeatureFactory().factory],
    });
    mate = await relay.connect();
    await mate.request({ type: 'hello', protocol_version: 3, device_name: 'Ben' }, isType('welcome'));
    const crew = await mate.request({ type: 'create_crew', display_name: 'Ben' }, isType('crew_created'));

    root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-spotify-gadget-'));
    ({ controller } = await startSimGadget({ relayUrl: relay.wsUrl, name: 'Kitchen', crewCode: crew.crew_code as string, root }));
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
    const done = await signInOnPhone(session.url, PUBLIC_URL, relay.httpUrl);
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
      spotify_uri: 'spotify:track:TRACK1',
      track: 'Joga',
      artist: 'Björk',
      album: 'Homogenic',
      album_art_url: `${spotify.origin}/images/TRACK1.jpg`,
    });
    expect(share.from_name).toBe('Kitchen');
    await waitUntil(() => controller.spotify.nowPlaying.notice?.text === 'Shared with your crew ✓', 'the confirmation');
  });

  it("puts the mate's shared track into the owner's Spotify, with the real errors", async () => {
    mate.send({
      type: 'message',
      msg_type: 'song_push',
      client_msg_id: 'push-1',
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

  it("moves the owner's playback to another Spotify Connect device from the menu ('Play on…')", async () => {
    const link = controller.spotify;
    const host = {
      state: controller.state,
      show: (id: string) => controller.show(id),
      invalidate: () => undefined,
      react: () => undefined,
      markRead: () => undefined,
    };
    const press = (button: 'prev' | 'next' | 'primary') => link.devices.onButton({ kind: 'press', button, at: Date.now() }, host);
    const entry = controller.screens.menu().find((e) => e.id === 'spotify_devices')!;
    expect(entry.visible?.(controller.state)).toBe(true);

    // No device on: the screen says how to make one appear, and OK looks again.
    spotify.setDevices('anna', []);
    entry.run!(host);
    expect(controller.currentScreen).toBe('spotify_devices');
    await waitUntil(() => link.devices.devices !== null, 'the device list');
    expect(link.devices.devices).toEqual([]);
    spotify.setDevices('anna', [
      { id: 'phone-1', name: "Anna's phone", type: 'Smartphone', is_active: true },
      { id: 'tv-1', name: 'Living room TV', type: 'TV' },
      { id: 'desk-1', name: 'Desk speaker', type: 'Speaker' },
    ]);
    expect(press('primary')).toBe(true);
    await waitUntil(() => (link.devices.devices?.length ?? 0) === 3, 'the devices once on');
    // The cursor starts on the active device.
    expect(link.devices.selected?.name).toBe("Anna's phone");
    press('next');
    press('next');
    expect(link.devices.selected?.name).toBe('Desk speaker');
    press('primary');
    await waitUntil(() => controller.currentScreen === 'now_playing', 'back on now playing');
    expect(link.nowPlaying.notice?.text).toBe('Playing on Desk speaker');
    expect(
      (await (await fetch(`${spotify.apiUrl}/me/player`, { headers: { authorization: `Bearer ${spotify.accessTokensOf('anna').at(-1)}` } })).json()).device,
    ).toMatchObject({
      id: 'desk-1',
    });

    // A refusal stays on the picker with Spotify's reason.
    spotify.setPremium('anna', false);
    entry.run!(host);
    await waitUntil(() => (link.devices.devices?.length ?? 0) === 3, 'the devices again');
    expect(link.devices.selected?.name).toBe('Desk speaker');
    press('prev');
    press('primary');
    await waitUntil(() => link.devices.message !== null, 'the refusal');
    expect(link.devices.message).toMatch(/Premium/);
    expect(controller.currentScreen).toBe('spotify_devices');
    spotify.setPremium('anna', true);
    spotify.setDevices('anna', [{ id: 'phone-1', name: "Anna's phone", type: 'Smartphone', is_active: true }]);
  });

  it('shows the sign-in QR again when the grant is revoked (401 → one refresh → invalid_grant)', async () => {
    // Revoking kills the refresh token and the access token the gadget and the relay still hold as valid.
    spotify.revokeGrants('anna');
    const link = controller.spotify;
    const refreshes = spotify.calls('token');
    const result = await link.useSharedTrack('queue');
    expect(spotify.calls('token')).toBe(refreshes + 1);
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
    ({ controller } = await startSimGadget({ relayUrl: relay.wsUrl, name: 'Kitchen', root }));
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
      artist: 'Portishead',
      track: 'Roads',
      album: 'Dummy',
      spotify_uri: 'spotify:track:ROADS1',
      album_art_url: '',
      note: '',
    });
    // Without Spotify the shared track cannot go into the owner's player; the relay's own sentence says why.
    await waitUntil(() => controller.state.feed.some((f) => f.kind === 'share'), 'the own share in the feed');
    expect(await link.useSharedTrack('play')).toBe(false);
    expect(link.nowPlaying.notice?.text).toMatch(/no Spotify app configured/);
  });
});

describe('sharing what plays while the relay is stopped', () => {
  let spotify: FakeSpotify;
  let dataDir: string;
  let root: string;
  let relay: Relay | null = null;
  let relayStore: Store;
  let controller: Controller;
  let env: Record<string, string>;

  /** The real relay on a fixed data dir (and, for the restart, the same port the gadget knows). */
  async function startRelay(port: number): Promise<number> {
    const config = loadConfig({ PORT: String(port), HOST: '127.0.0.1', LEELOO_DATA_DIR: dataDir, ...env });
    relayStore = await openStore(config);
    relay = createRelay({ config, store: relayStore, log: createLogger('silent'), features: [spotifyFeatureFactory().factory] });
    return (await relay.start()).port;
  }

  beforeAll(async () => {
    spotify = await startFakeSpotify();
    spotify.registerApp('leeloo-relay-app');
    spotify.addUser({ id: 'cara', displayName: 'Cara' });
    spotify.setCurrentlyPlaying('cara', {
      track: fakeTrack('OFFLINE1', { name: 'Teardrop', artists: ['Massive Attack'], album: 'Mezzanine' }),
      progress_ms: 1_000,
      is_playing: true,
    });
    env = {
      PUBLIC_URL,
      SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
      LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 4).toString('base64'),
      SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
      SPOTIFY_API_URL: spotify.apiUrl,
    };
    root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-spotify-offline-'));
    dataDir = path.join(root, 'relay');
    const port = await startRelay(0);
    ({ controller } = await startSimGadget({ relayUrl: `ws://127.0.0.1:${port}/ws`, name: 'Attic', root }));
  });

  afterAll(async () => {
    await controller?.stop();
    await relay?.stop();
    await spotify?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('queues the share in the outbox, confirms it on screen, and delivers it once the relay is back', async () => {
    const link = controller.spotify;
    await waitUntil(() => link.signIn.session !== null && controller.state.crew !== null, 'the sign-in QR and the crew');
    const httpUrl = `http://127.0.0.1:${new URL(controller.state.relayUrl).port}`;
    expect(await (await signInOnPhone(link.signIn.session!.url, PUBLIC_URL, httpUrl)).text()).toContain('Spotify is connected');
    await waitUntil(() => link.nowPlaying.playing?.uri === 'spotify:track:OFFLINE1', 'now playing');
    const crewCode = controller.state.crew!.code;

    const port = Number(new URL(controller.state.relayUrl).port);
    await relay!.stop();
    relay = null;
    await waitUntil(() => controller.state.connection.status !== 'online', 'the gadget noticing the relay is gone');

    controller.spotify.nowPlaying.onButton({ kind: 'press', button: 'primary', at: Date.now() }, null as never);
    await waitUntil(() => controller.relay.outbox.size === 1, 'the share in the outbox');
    await waitUntil(() => link.nowPlaying.notice?.text.startsWith('Shared — it goes out') === true, 'the offline confirmation');

    await startRelay(port);
    await waitUntil(() => controller.state.connection.status === 'online' && controller.relay.outbox.size === 0, 'the outbox drained', 20_000);

    // A crew mate joining afterwards finds the share in the crew's history, sent by the gadget
    // (the owner lets newcomers read the crew's past: by default they see it from their join on).
    expect(controller.relay.sendNow({ type: 'set_crew_settings', share_history: true, client_msg_id: 'share-history-on' })).toBe(true);
    await waitUntil(async () => (await relayStore.crews.getCrewByCode(crewCode))?.shareHistory === true, 'the setting stored');
    const mate = await TestClient.connect(`ws://127.0.0.1:${port}/ws`);
    try {
      await mate.request({ type: 'hello', protocol_version: 3, device_name: 'Dan' }, isType('welcome'));
      await mate.request({ type: 'join_crew', crew_code: crewCode, display_name: 'Dan' }, isType('crew_joined'));
      mate.send({ type: 'resume', crew_code: crewCode, after_seq: 0 });
      const share = await mate.next(isType('message', { msg_type: 'song_push' }));
      expect(share.payload).toMatchObject({ spotify_uri: 'spotify:track:OFFLINE1', track: 'Teardrop', artist: 'Massive Attack' });
      expect(share.from_name).toBe('Attic');
      await mate.next(isType('resumed'));
    } finally {
      await mate.close();
    }
  });
});

/**
 * A gadget on a manual clock with buttons the test presses and a display that records the
 * backlight, against a real relay and the fake Spotify; `signIn()` signs its owner in.
 */
function sleepyGadget(user: string, key: number, settings: { sleepAfterSeconds: number; sleepWithoutMusicSeconds?: number; pollWhileAsleepSeconds?: number }) {
  const rig = {
    spotify: null as unknown as FakeSpotify,
    relay: null as unknown as InProcessRelay,
    root: '',
    controller: null as unknown as Controller,
    clock: new ManualClock(Date.now()),
    display: new RecordingDisplay(),
    press: (_event: ButtonEvent): void => undefined,
    calls: () => rig.spotify.calls('currently-playing'),
    /** `count` polls made, the last one answered and the next one scheduled `delay` ms on. */
    answered: (count: number, delay: number) =>
      waitUntil(() => rig.calls() === count && rig.clock.pending().includes(delay), `poll ${count} answered, the next in ${delay} ms`),
    signIn: async () => {
      const link = rig.controller.spotify;
      await waitUntil(() => link.signIn.session !== null, 'the sign-in QR');
      await signInOnPhone(link.signIn.session!.url, PUBLIC_URL, rig.relay.httpUrl);
      await waitUntil(() => link.nowPlaying.link === 'signed_in', 'signed in');
    },
  };
  const buttons: Buttons = {
    start: async () => undefined,
    stop: async () => undefined,
    onEvent: (listener) => {
      rig.press = listener;
      return () => (rig.press = () => undefined);
    },
  };

  beforeAll(async () => {
    rig.spotify = await startFakeSpotify();
    rig.spotify.registerApp('leeloo-relay-app');
    rig.spotify.addUser({ id: user });
    rig.relay = await startInProcessRelay({
      env: {
        PUBLIC_URL,
        SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
        LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, key).toString('base64'),
        SPOTIFY_ACCOUNTS_URL: rig.spotify.accountsUrl,
        SPOTIFY_API_URL: rig.spotify.apiUrl,
      },
      features: [spotifyFeatureFactory().factory],
    });
    rig.root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-spotify-sleep-'));
    ({ controller: rig.controller } = await startSimGadget({
      relayUrl: rig.relay.wsUrl,
      name: 'Hall',
      root: rig.root,
      display: rig.display,
      buttons,
      clock: rig.clock,
      pingIntervalSeconds: 300,
      deadAfterSeconds: 900,
      ...settings,
    }));
  });

  afterAll(async () => {
    await rig.controller?.stop();
    await rig.relay?.close();
    await rig.spotify?.close();
    if (rig.root) await rm(rig.root, { recursive: true, force: true });
  });

  return rig;
}

describe('the screen follows the music: slow polls while asleep, the owner starting music wakes it', () => {
  const ASLEEP_MS = 40_000;
  const rig = sleepyGadget('eve', 5, { sleepAfterSeconds: 60, pollWhileAsleepSeconds: ASLEEP_MS / 1000 });
  const track = (id: string, is_playing = true) => rig.spotify.setCurrentlyPlaying('eve', { track: fakeTrack(id), progress_ms: 1_000, is_playing });

  it('polls once per slow interval while asleep, keeps sleeping through a track change or a pause, and wakes on now playing when playing starts', async () => {
    const { controller, clock, display, calls, answered } = rig;
    const link = controller.spotify;
    track('SLEEP1');
    await rig.signIn();
    await waitUntil(() => link.nowPlaying.playing?.uri === 'spotify:track:SLEEP1', 'now playing');
    await answered(1, POLL_INTERVALS.playing);
    // Away from now playing, so that waking on it shows.
    rig.press({ kind: 'press', button: 'next', at: clock.now() });
    expect(controller.currentScreen).not.toBe('now_playing');

    clock.advance(60_000);
    await waitUntil(() => !display.backlight, 'the screen asleep');
    // The poll that fired on the way (at +5 s) is answered; the next one is a slow one.
    await answered(2, ASLEEP_MS);
    await expectOnePollPerInterval(clock, calls, answered, ASLEEP_MS, 5);
    expect(display.backlight).toBe(false);

    // The next track of the album, then a pause: no reason to wake.
    track('SLEEP2');
    clock.advance(ASLEEP_MS);
    await answered(8, ASLEEP_MS);
    await waitUntil(() => link.nowPlaying.playing?.uri === 'spotify:track:SLEEP2', 'the next track seen');
    track('SLEEP2', false);
    clock.advance(ASLEEP_MS);
    await answered(9, ASLEEP_MS);
    await waitUntil(() => link.nowPlaying.playing?.isPlaying === false, 'the pause seen');
    expect(display.backlight).toBe(false);

    // The owner starts music on their phone.
    track('SLEEP3');
    const frames = display.frames.length;
    clock.advance(ASLEEP_MS);
    await waitUntil(() => display.backlight && controller.currentScreen === 'now_playing', 'the screen awake on now playing');
    expect(link.nowPlaying.playing?.uri).toBe('spotify:track:SLEEP3');
    await display.waitForFrames(frames + 1);
    // Awake, the poller is back at its normal pace.
    await answered(10, POLL_INTERVALS.playing);
  });

  it('sleeps again a minute later (starting music was activity) and a press wakes it and polls at once', async () => {
    const { clock, display, calls, answered } = rig;
    clock.advance(60_000);
    await waitUntil(() => !display.backlight, 'the screen asleep again');
    // The one poll on the way (at +5 s), then the slow one scheduled.
    await answered(11, ASLEEP_MS);
    rig.press({ kind: 'press', button: 'next', at: clock.now() });
    await waitUntil(() => display.backlight && calls() === 12, 'a poll on waking');
  });
});

describe('the screen sleeps after a while without music (display.sleepWithoutMusicSeconds)', () => {
  const rig = sleepyGadget('finn', 7, { sleepAfterSeconds: 0, sleepWithoutMusicSeconds: 120 });

  it('stays on while music plays, sleeps two minutes after it stops, and wakes when it starts again', async () => {
    const { controller, clock, display, calls, answered } = rig;
    const link = controller.spotify;
    rig.spotify.setCurrentlyPlaying('finn', { track: fakeTrack('LONG1', { duration_ms: 3_600_000 }), progress_ms: 0, is_playing: true });
    await rig.signIn();
    await waitUntil(() => link.nowPlaying.playing?.isPlaying === true, 'now playing');
    await answered(1, POLL_INTERVALS.playing);

    // Ten minutes of music without a press: the screen stays on.
    for (let step = 0; step < 20; step++) {
      const polls = calls();
      clock.advance(30_000);
      await answered(polls + 1, POLL_INTERVALS.playing);
    }
    expect(display.backlight).toBe(true);

    rig.spotify.setCurrentlyPlaying('finn', null);
    const polls = calls();
    clock.advance(POLL_INTERVALS.playing);
    await answered(polls + 1, POLL_INTERVALS.idle);
    expect(link.nowPlaying.playing).toBeNull();
    for (let step = 1; step <= 3; step++) {
      clock.advance(POLL_INTERVALS.idle);
      await answered(polls + 1 + step, POLL_INTERVALS.idle);
    }
    clock.advance(29_999);
    expect(display.backlight).toBe(true);
    clock.advance(1);
    await waitUntil(() => !display.backlight, 'the screen asleep two minutes after the music stopped');

    rig.spotify.setCurrentlyPlaying('finn', { track: fakeTrack('LONG2', { duration_ms: 3_600_000 }), progress_ms: 0, is_playing: true });
    clock.advance(POLL_INTERVALS.asleep);
    await waitUntil(() => display.backlight && controller.currentScreen === 'now_playing', 'the screen awake on now playing');
  });
});

describe('a signed-out gadget that reconnects', () => {
  let spotify: FakeSpotify;
  let relay: InProcessRelay;
  let root: string;
  let controller: Controller;

  beforeAll(async () => {
    spotify = await startFakeSpotify();
    spotify.registerApp('leeloo-relay-app');
    spotify.addUser({ id: 'perry' });
    relay = await startInProcessRelay({
      env: {
        PUBLIC_URL,
        SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
        LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 6).toString('base64'),
        SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
        SPOTIFY_API_URL: spotify.apiUrl,
      },
      features: [spotifyFeatureFactory().factory],
    });
    root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-spotify-reconnect-'));
    ({ controller } = await startSimGadget({ relayUrl: relay.wsUrl, name: 'Porch', root }));
  });

  afterAll(async () => {
    await controller?.stop();
    await relay?.close();
    await spotify?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('keeps the code on its screen, so a phone half-way through the sign-in is not cut off', async () => {
    const link = controller.spotify;
    await waitUntil(() => link.signIn.session !== null, 'the sign-in QR');
    const shown = link.signIn.session!;
    // The phone opens the link while the gadget's connection drops and comes back.
    const landing = await fetch(shown.url.replace(PUBLIC_URL, relay.httpUrl));
    expect(landing.status).toBe(200);
    const identity = JSON.parse(await readFile(path.join(root, 'porch', 'identity.json'), 'utf8')) as { device_id: string; device_secret: string };
    link.nowPlaying.link = 'unknown';
    // A second connection of the same device replaces the gadget's socket (close 4002): it reconnects.
    const intruder = await TestClient.connect(relay.wsUrl);
    await intruder.request({ type: 'hello', protocol_version: 3, device_name: 'Porch', ...identity }, isType('welcome'));
    await intruder.close();
    // Back online, the gadget asked for a token and learned it is still signed out.
    await waitUntil(() => link.nowPlaying.link === 'signed_out', 'the token check after the reconnect');
    expect(link.signIn.session).toEqual(shown);
    const page = await signInOnPhone(shown.url, PUBLIC_URL, relay.httpUrl);
    expect(await page.text()).toContain('Spotify is connected');
    await waitUntil(() => link.nowPlaying.link === 'signed_in', 'the gadget signed in');
  });
});
