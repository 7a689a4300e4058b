import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueWithCrewPages } from '../helpers/queue-features.js';
import { spotifyFeatureFactory } from '../../cloud/spotify/spotify-feature.js';
import type { Controller } from '../../device/controller.js';
import { crewPositionAt } from '../../device/crew-clock.js';
import type { Frame } from '../../device/hardware.js';
import type { QueueSnapshot } from '../../protocol/queue.js';
import { STATUS_BAR_HEIGHT } from '../../device/screens/theme.js';
import { startFakeSpotify, type FakeSpotify } from '../fakes/fake-spotify.js';
import { signInOnPhone } from '../helpers/phone-sign-in.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { startSimGadget } from '../helpers/sim-gadget.js';
import { waitUntil } from '../helpers/wait-until.js';
import { isType, type TestClient } from '../helpers/ws-client.js';

/* The queue on a real gadget (Controller) against a real relay (in process) and the fake Spotify. */

const PUBLIC_URL = 'https://leeloo.example';
const track = (i: number) => ({ spotify_uri: `spotify:track:${String(i).padStart(22, 'Q')}`, track: `Song ${i}`, artist: 'Band', duration_ms: 240_000 });

describe('the crew queue on the gadget', () => {
  let spotify: FakeSpotify;
  let relay: InProcessRelay;
  let root: string;
  let owner: TestClient;
  let controller: Controller;
  let presented: Frame | null = null;

  beforeAll(async () => {
    spotify = await startFakeSpotify();
    spotify.registerApp('leeloo-relay-app');
    spotify.addUser({ id: 'anna', displayName: 'Anna' });
    relay = await startInProcessRelay({
      env: {
        PUBLIC_URL,
        SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
        LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
        SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
        SPOTIFY_API_URL: spotify.apiUrl,
      },
      features: [spotifyFeatureFactory().factory, queueWithCrewPages()],
    });
    owner = await relay.connect();
    await owner.request({ type: 'hello', protocol_version: 3, device_name: 'Olga' }, isType('welcome'));
    const crew = await owner.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'));

    root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-queue-gadget-'));
    ({ controller } = await startSimGadget({
      relayUrl: relay.wsUrl,
      name: 'Kitchen',
      crewCode: crew.crew_code as string,
      root,
      onPresent: (frame) => (presented = frame),
    }));
    await signIn();
  });

  afterAll(async () => {
    await controller?.stop();
    await owner?.close();
    await relay?.close();
    await spotify?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** The phone's part of the Spotify sign-in, as the owner of the gadget does it. */
  async function signIn(): Promise<void> {
    const link = controller.spotify;
    await waitUntil(() => link.signIn.session !== null, 'the sign-in QR');
    await signInOnPhone(link.signIn.session!.url, PUBLIC_URL, relay.httpUrl);
    await waitUntil(() => link.nowPlaying.link === 'signed_in', 'the Spotify sign-in');
  }

  const press = (button: 'prev' | 'next' | 'primary' | 'secondary') =>
    controller.queue.screen.onButton({ kind: 'press', button, at: Date.now() }, { ...hostOf(controller) });

  it('asks for the queue after connecting and keeps the newest snapshot', async () => {
    await waitUntil(() => controller.queue.queue !== null, 'the first queue snapshot');
    expect(controller.queue.queue).toMatchObject({ now_playing: null, up_next: [] });
    await owner.request({ type: 'queue_add', ...track(1), client_msg_id: 'add-1' }, isType('ack'));
    await owner.request({ type: 'queue_add', ...track(2), client_msg_id: 'add-2' }, isType('ack'));
    await waitUntil(() => controller.queue.queue?.up_next.length === 1, 'both tracks');
    expect(controller.queue.queue?.now_playing?.spotify_uri).toBe(track(1).spotify_uri);
    const version = controller.queue.queue!.version;
    expect(
      controller.screens
        .rotation()
        .map((s) => s.id)
        .slice(0, 2),
    ).toEqual(['now_playing', 'queue']);
    // A stale snapshot (lower version) does not replace the newer one.
    controller.relay['emit']({
      kind: 'event',
      message: { type: 'queue_state', change: { kind: 'snapshot', by: null }, queue: { ...controller.queue.queue!, up_next: [], version: version - 1 } },
    });
    expect(controller.queue.queue?.up_next).toHaveLength(1);
  });

  it('votes and jams from the buttons: the relay applies them for this member', async () => {
    const me = controller.state.deviceId!;
    controller.show('queue');
    expect(press('next')).toBe(true);
    expect(press('primary')).toBe(true);
    const voted = await owner.next(isType('queue_state'));
    expect(voted.change).toEqual({ kind: 'voted', item_id: controller.queue.queue!.up_next[0]!.item_id, by: me });
    expect(press('secondary')).toBe(true);
    const jammed = await owner.next(isType('queue_state'));
    expect((jammed.change as { kind: string }).kind).toBe('jammed');
    await waitUntil(() => controller.queue.queue?.up_next[0]?.jammed_by.includes(me) === true, 'the jam in the snapshot');
    expect(controller.queue.queue?.up_next[0]?.voted_up).toEqual([me]);
    // Pressed again: both are taken back.
    press('primary');
    press('secondary');
    await waitUntil(() => controller.queue.queue?.up_next[0]?.jammed_by.length === 0, 'the jam taken back');
    expect(controller.queue.queue?.up_next[0]?.voted_up).toEqual([]);
  });

  it("plays along: the crew's track goes into the owner's Spotify at the clock's position, pause pauses", async () => {
    const along = controller.queue.playAlong;
    await controller.queue.togglePlayAlong();
    expect(along.enabled).toBe(true);
    expect(JSON.parse(await readFile(path.join(root, 'kitchen', 'play-along.json'), 'utf8'))).toEqual({ enabled: true });
    await waitUntil(() => spotify.playRequestsOf('anna').length === 1, 'the first play');
    const first = spotify.playRequestsOf('anna')[0]!;
    expect(first.uris).toEqual([track(1).spotify_uri]);
    const expected = crewPositionAt(controller.queue.queue!.now_playing!, Date.now());
    expect(Math.abs(first.position_ms! - expected)).toBeLessThan(2_000);

    // The owner skips: the next crew track plays from (about) its start.
    await owner.request({ type: 'queue_skip', client_msg_id: 'skip-1' }, isType('ack'));
    await waitUntil(() => spotify.playRequestsOf('anna').length === 2, 'the next track');
    expect(spotify.playRequestsOf('anna')[1]!.uris).toEqual([track(2).spotify_uri]);
    expect(spotify.playRequestsOf('anna')[1]!.position_ms).toBeLessThan(2_000);

    await owner.request({ type: 'queue_pause', client_msg_id: 'pause-1' }, isType('ack'));
    await waitUntil(() => spotify.calls('pause', 'anna') === 1, 'the pause');
    await waitUntil(() => along.status?.text === 'Paused along with the crew', 'the pause confirmation');

    // No active player: the resume fails with Spotify's reason, shown on the queue screen.
    spotify.setActiveDevice('anna', false);
    await owner.request({ type: 'queue_resume', client_msg_id: 'resume-1' }, isType('ack'));
    await waitUntil(() => along.status?.tone === 'error', 'the error');
    expect(along.status?.text).toMatch(/no active player/);
    spotify.setActiveDevice('anna', true);
    spotify.setPremium('anna', false);
    await owner.request({ type: 'queue_add', ...track(3), client_msg_id: 'add-3' }, isType('ack'));
    await owner.request({ type: 'queue_skip', client_msg_id: 'skip-2' }, isType('ack'));
    await waitUntil(() => /Premium/.test(along.status?.text ?? ''), 'the Premium error');
    spotify.setPremium('anna', true);
    // Nothing the gadget did caused more plays than the crew's changes (no loop through its own playback).
    expect(spotify.playRequestsOf('anna')).toHaveLength(2);

    await controller.queue.togglePlayAlong();
    expect(along.enabled).toBe(false);
    await owner.request({ type: 'queue_add', ...track(4), client_msg_id: 'add-4' }, isType('ack'));
    await owner.request({ type: 'queue_skip', client_msg_id: 'skip-3' }, isType('ack'));
    await waitUntil(() => controller.queue.queue?.now_playing?.spotify_uri === track(4).spotify_uri, 'the crew moving on');
    expect(spotify.playRequestsOf('anna')).toHaveLength(2);
  });

  it("adds what the owner's Spotify plays to the crew queue from the menu, as this member", async () => {
    const own = { id: 'OWNTUNEOWNTUNEOWNTUNE1', name: 'Own tune', artists: ['Me'], album: 'Mine', duration_ms: 123_000 };
    spotify.setCurrentlyPlaying('anna', { track: own, progress_ms: 5_000, is_playing: true });
    await controller.spotify['poller'].pollNow();
    const entry = controller.screens.menu().find((e) => e.id === 'crew_queue_playing')!;
    await waitUntil(() => entry.label(controller.state) === 'Crew queue: add "Own tune"', 'the label naming the track');
    entry.run!(hostOf(controller));
    const added = await owner.next((f) => f.type === 'queue_state' && (f.change as { kind: string }).kind === 'added');
    const uri = `spotify:track:${own.id}`;
    const item = [(added.queue as QueueSnapshot).now_playing, ...(added.queue as QueueSnapshot).up_next].find((i) => i?.spotify_uri === uri)!;
    expect(item).toMatchObject({ track: 'Own tune', artist: 'Me', album: 'Mine', duration_ms: 123_000, added_by: controller.state.deviceId });
    await waitUntil(() => controller.queue.screen.notice?.text === 'Added "Own tune" to the crew queue', 'the confirmation');
    expect(controller.currentScreen).toBe('queue');
  });

  it('votes to skip the crew track from the menu, and takes the vote back', async () => {
    await owner.request({ type: 'queue_add', ...track(7), client_msg_id: 'add-7' }, isType('ack'));
    await waitUntil(() => controller.queue.queue?.now_playing !== null, 'a crew track playing');
    const playing = controller.queue.queue!.now_playing!;
    const entry = controller.screens.menu().find((e) => e.id === 'crew_skip_vote')!;
    expect(entry.visible?.(controller.state)).toBe(true);
    expect(entry.label(controller.state)).toBe(`Vote to skip "${playing.track}"`);
    entry.run!(hostOf(controller));
    const voted = await owner.next((f) => f.type === 'queue_state' && (f.change as { kind: string }).kind === 'skip_voted');
    // Olga and the gadget are online: one vote is not a majority.
    expect((voted.queue as QueueSnapshot).now_playing).toMatchObject({ item_id: playing.item_id, skip_votes: [controller.state.deviceId] });
    await waitUntil(() => entry.label(controller.state) === 'Take back my vote to skip', 'the vote in the snapshot');
    entry.run!(hostOf(controller));
    const back = await owner.next((f) => f.type === 'queue_state' && (f.change as { kind: string }).kind === 'skip_voted');
    expect((back.queue as QueueSnapshot).now_playing?.skip_votes).toEqual([]);
  });

  it('shows the airhorn animation when a crew mate sounds it, then returns', async () => {
    controller.show('queue');
    await owner.request({ type: 'airhorn', client_msg_id: 'horn-1' }, isType('ack'));
    await waitUntil(() => controller.currentScreen === 'airhorn', 'the airhorn');
    expect(controller.queue.airhorn.blast?.fromName).toBe('Olga');
    await waitUntil(() => controller.currentScreen === 'queue', 'the return to the queue', 10_000);
  });

  it('sounds the airhorn from the gadget; a refusal is shown', async () => {
    const heard = owner.next(isType('airhorn'));
    expect(controller.queue.soundAirhorn()).toBe(true);
    expect((await heard).from_name).toBe('Kitchen');
    // Right again: the per-member gap refuses it.
    expect(controller.queue.soundAirhorn()).toBe(true);
    await waitUntil(() => controller.queue.screen.notice?.tone === 'error', 'the refusal');
    expect(controller.queue.screen.notice?.text).toMatch(/airhorn/);
  });

  it('shows the crew page link as a QR code from the menu', async () => {
    const entry = controller.screens.menu().find((e) => e.id === 'crew_page')!;
    expect(entry.label(controller.state)).toBe('Crew page on your phone');
    entry.run!(hostOf(controller));
    expect(controller.currentScreen).toBe('crew_link');
    await waitUntil(() => controller.queue.crewLink.link !== null, 'the crew link');
    const link = controller.queue.crewLink.link!;
    expect(link.url).toMatch(new RegExp(`^${PUBLIC_URL}/c/v1\\.`));
    expect(link.expiresAt).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    // The link works on the relay (the phone would open it).
    const opened = await fetch(link.url.replace(PUBLIC_URL, relay.httpUrl), { redirect: 'manual' });
    expect(opened.status).toBe(303);

    controller.invalidate();
    await controller.settled();
    expect(wrongQrModules(presented!, link.url)).toBe(0);
  });

  it("offers the crew owner only a QR to the crew's Spotify app section", async () => {
    const listed = (c: Controller) => c.screens.menu(c.state).map((e) => e.id);
    expect(listed(controller)).not.toContain('crew_spotify_app');
    // A gadget that made its own crew owns it.
    const ownRoot = await mkdtemp(path.join(os.tmpdir(), 'leeloo-queue-owner-'));
    let shown: Frame | null = null;
    const { controller: own } = await startSimGadget({ relayUrl: relay.wsUrl, name: 'Studio', crewCode: null, root: ownRoot, onPresent: (f) => (shown = f) });
    try {
      await waitUntil(() => own.state.connection.status === 'online' && own.state.crew !== null, 'the new crew, online');
      expect(own.state.crew!.ownerDeviceId).toBe(own.state.deviceId);
      // Not signed in to Spotify, it shows its sign-in QR first; the owner then opens the menu.
      await waitUntil(() => own.spotify.signIn.session !== null, 'the sign-in QR');
      expect(listed(own)).toContain('crew_spotify_app');
      const entry = own.screens.menu(own.state).find((e) => e.id === 'crew_spotify_app')!;
      expect(entry.label(own.state)).toBe('Spotify app for this crew');
      entry.run!(hostOf(own));
      expect(own.currentScreen).toBe('crew_link');
      await waitUntil(() => own.queue.crewLink.link !== null, 'the crew link');
      const url = own.queue.crewLink.qrUrl()!;
      expect(url).toMatch(new RegExp(`^${PUBLIC_URL}/c/v1\\.[^#]+#spotify-app$`));
      own.invalidate();
      await own.settled();
      expect(own.currentScreen).toBe('crew_link');
      expect(wrongQrModules(shown!, url)).toBe(0);
      // The page it opens has the owner's section.
      const opened = await fetch(url.replace(PUBLIC_URL, relay.httpUrl).replace(/#.*$/, ''), { redirect: 'manual' });
      const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
      expect(await (await fetch(`${relay.httpUrl}/crew`, { headers: { cookie } })).text()).toContain('id="spotify-app"');
    } finally {
      await own.stop();
      await rm(ownRoot, { recursive: true, force: true });
    }
  });
});

/** How many modules of the QR code of `text` the frame's QR area shows wrong. */
function wrongQrModules(frame: Frame, text: string): number {
  const { size, data } = QRCode.create(text, { errorCorrectionLevel: 'M' }).modules;
  const scale = Math.floor((320 - STATUS_BAR_HEIGHT - 24) / (size + 4));
  let wrong = 0;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const x = 14 + (c + 2) * scale + Math.floor(scale / 2);
      const y = STATUS_BAR_HEIGHT + 12 + (r + 2) * scale + Math.floor(scale / 2);
      if (frame.data[(y * frame.width + x) * 4]! < 128 !== Boolean(data[r * size + c])) wrong++;
    }
  }
  return wrong;
}

function hostOf(controller: Controller) {
  return {
    get state() {
      return controller.state;
    },
    show: (id: string) => controller.show(id),
    invalidate: () => controller.invalidate(),
    react: () => undefined,
    markRead: () => undefined,
  };
}
