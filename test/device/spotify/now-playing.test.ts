import fs from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createCanvas } from '@napi-rs/canvas';
import QRCode from 'qrcode';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtCache } from '../../../device/features/spotify/art-cache.js';
import { NowPlayingPoller, nextPollDelay, POLL_INTERVALS, startedPlaying } from '../../../device/features/spotify/now-playing-poller.js';
import type { NowPlaying } from '../../../device/screens/now-playing.js';
import { SpotifyHttp } from '../../../spotify/spotify-http.js';
import { SpotifyWebApi } from '../../../spotify/web-api.js';
import { ART_BOX, NowPlayingScreen } from '../../../device/screens/now-playing.js';
import { ScreenRenderer } from '../../../device/screens/renderer.js';
import { SignInScreen } from '../../../device/screens/sign-in.js';
import { COLORS } from '../../../device/screens/theme.js';
import { initialState } from '../../../device/state.js';
import { fakeTrack, startFakeSpotify, type FakeSpotify } from '../../fakes/fake-spotify.js';
import { ManualClock } from '../../fakes/manual-clock.js';
import { throughPng } from '../../helpers/png-round-trip.js';
import { waitUntil } from '../../helpers/wait-until.js';
import { expectOnePollPerInterval } from './slow-polls.js';

let spotify: FakeSpotify;
let dir: string;

beforeEach(async () => {
  spotify = await startFakeSpotify();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leeloo-art-'));
});
afterEach(async () => {
  await spotify.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const playing = (over: Partial<NowPlaying> = {}): NowPlaying => ({
  uri: 'spotify:track:T1',
  track: 'Joga',
  artist: 'Björk',
  album: 'Homogenic',
  artUrl: null,
  durationMs: 200_000,
  progressMs: 50_000,
  isPlaying: true,
  fetchedAt: 1_000_000,
  ...over,
});

/** Renders a screen, encodes it as PNG and decodes it again, as the mirror page would see it. */
function snapshot(screen: NowPlayingScreen | SignInScreen, now: number) {
  return throughPng(new ScreenRenderer().render({ screen, state: initialState('Kitchen', 'ws://relay'), now, overlay: null }));
}

const close = (a: number[], hex: string) => [1, 3, 5].every((i, k) => Math.abs(parseInt(hex.slice(i, i + 2), 16) - a[k]!) < 40);

/** Anna signed in at the fake Spotify: her access token, as the relay would hand it to the gadget. */
async function annaToken(): Promise<string> {
  spotify.registerApp('app-1');
  spotify.addUser({ id: 'anna' });
  const authorize = await fetch(`${spotify.accountsUrl}/authorize?client_id=app-1&response_type=code&redirect_uri=http://127.0.0.1/cb`, {
    redirect: 'manual',
  });
  spotify.registerApp('app-1', 'secret-1');
  const code = new URL(authorize.headers.get('location')!).searchParams.get('code')!;
  const tokenAnswer = await fetch(`${spotify.accountsUrl}/api/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('app-1:secret-1').toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1/cb' }),
  });
  const { access_token } = (await tokenAnswer.json()) as { access_token: string };
  return access_token;
}

describe('adaptive polling', () => {
  it('polls fast near the track end, normally while playing, slowly when paused or idle', () => {
    expect(nextPollDelay(null, 0)).toBe(POLL_INTERVALS.idle);
    expect(nextPollDelay(playing({ isPlaying: false }), 1_000_000)).toBe(POLL_INTERVALS.paused);
    expect(nextPollDelay(playing(), 1_000_000)).toBe(POLL_INTERVALS.playing);
    // 3 s left: poll just after the end.
    expect(nextPollDelay(playing(), 1_000_000 + 147_000)).toBe(3_000 + POLL_INTERVALS.afterTrackEnd);
    expect(nextPollDelay(playing(), 1_000_000 + 200_000)).toBe(POLL_INTERVALS.minimum);
  });

  it('uses the ETag, stops when off and polls at once when awake', async () => {
    const access_token = await annaToken();
    spotify.setCurrentlyPlaying('anna', { track: fakeTrack('T1'), progress_ms: 10_000, is_playing: true });
    const clock = new ManualClock();
    const changes: (NowPlaying | null)[] = [];
    let done: () => void = () => undefined;
    const api = new SpotifyWebApi({
      http: new SpotifyHttp(),
      apiUrl: () => spotify.apiUrl,
      limiterKey: 'anna',
      tokens: { token: async () => access_token, refresh: async () => access_token },
    });
    const poller = new NowPlayingPoller(api, clock, {
      onChange: (p) => {
        changes.push(p);
        done();
      },
      onError: (e) => {
        throw e;
      },
    });
    const changed = () =>
      new Promise<void>((resolve) => {
        done = resolve;
      });

    let next = changed();
    poller.setPace('awake');
    await next;
    expect(changes[0]?.track).toBe('Track T1');
    await poller.pollNow();
    expect(spotify.log.filter((e) => e.endpoint === 'currently-playing').map((e) => e.status)).toEqual([200, 304]);
    expect(clock.pending()).toEqual([POLL_INTERVALS.playing]);

    poller.setPace('off');
    expect(clock.pending()).toEqual([]);
    clock.advance(60_000);
    expect(spotify.calls('currently-playing')).toBe(2);

    spotify.setCurrentlyPlaying('anna', null);
    next = changed();
    poller.setPace('awake');
    await next;
    expect(changes.at(-1)).toBeNull();
    expect(spotify.calls('currently-playing')).toBe(3);
  });
});

describe('polling while the screen sleeps', () => {
  const ASLEEP_MS = 40_000;

  /** A poller on Anna's account whose Spotify client (and its Retry-After) follows the manual clock. */
  async function asleepRig() {
    const token = await annaToken();
    const clock = new ManualClock();
    const errors: Error[] = [];
    const changes: (NowPlaying | null)[] = [];
    const api = new SpotifyWebApi({
      http: new SpotifyHttp({ now: () => clock.now() }),
      apiUrl: () => spotify.apiUrl,
      limiterKey: 'anna',
      tokens: { token: async () => token, refresh: async () => token },
    });
    const poller = new NowPlayingPoller(api, clock, { onChange: (p) => changes.push(p), onError: (e) => errors.push(e) }, { asleepMs: ASLEEP_MS });
    const calls = () => spotify.calls('currently-playing');
    /** The poll that fired has been answered and the next one is scheduled. */
    const settled = (count: number, delay: number) => waitUntil(() => calls() === count && clock.pending().includes(delay), `poll ${count} answered`);
    return { poller, clock, errors, changes, calls, settled };
  }

  it('polls once per slow interval while asleep, with the ETag, and at once on waking', async () => {
    const { poller, clock, changes, calls, settled } = await asleepRig();
    spotify.setCurrentlyPlaying('anna', { track: fakeTrack('T1'), progress_ms: 10_000, is_playing: true });
    poller.setPace('awake');
    await settled(1, POLL_INTERVALS.playing);

    // Falling asleep keeps the poll already scheduled; the ones after it are slow.
    poller.setPace('asleep');
    expect(clock.pending()).toEqual([POLL_INTERVALS.playing]);
    clock.advance(POLL_INTERVALS.playing);
    await settled(2, ASLEEP_MS);
    await expectOnePollPerInterval(clock, calls, settled, ASLEEP_MS, 10);
    // Ten minutes asleep: 12 calls in all (the awake pace would have made ~90), all but the first a 304.
    const statuses = spotify.log.filter((e) => e.endpoint === 'currently-playing').map((e) => e.status);
    expect(statuses).toEqual([200, ...Array(11).fill(304)]);
    expect(changes).toHaveLength(1);

    spotify.setCurrentlyPlaying('anna', { track: fakeTrack('T2'), progress_ms: 0, is_playing: true });
    clock.advance(ASLEEP_MS);
    await settled(13, ASLEEP_MS);
    expect(changes.at(-1)?.uri).toBe('spotify:track:T2');

    poller.setPace('awake');
    await settled(14, POLL_INTERVALS.playing);
    expect(clock.pending()).toEqual([POLL_INTERVALS.playing]);
    poller.setPace('off');
  });

  it('waits out a Retry-After longer than the slow interval, then polls slowly again', async () => {
    const { poller, clock, errors, calls, settled } = await asleepRig();
    poller.setPace('awake');
    await settled(1, POLL_INTERVALS.idle);
    poller.setPace('asleep');
    clock.advance(POLL_INTERVALS.idle);
    await settled(2, ASLEEP_MS);

    spotify.rateLimit('currently-playing', 120, { times: 1 });
    clock.advance(ASLEEP_MS);
    await settled(3, 120_000);
    expect(spotify.log.at(-1)?.status).toBe(429);
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['rate_limited']);
    expect(clock.pending()).toEqual([120_000]);
    clock.advance(119_999);
    expect(calls()).toBe(3);
    clock.advance(1);
    await settled(4, ASLEEP_MS);
    expect(spotify.log.at(-1)?.status).toBe(204);
    poller.setPace('off');
  });

  it('with a slow interval of 0, stops while asleep', async () => {
    const token = await annaToken();
    const clock = new ManualClock();
    const api = new SpotifyWebApi({
      http: new SpotifyHttp(),
      apiUrl: () => spotify.apiUrl,
      limiterKey: 'anna',
      tokens: { token: async () => token, refresh: async () => token },
    });
    const poller = new NowPlayingPoller(api, clock, { onChange: () => undefined, onError: () => undefined }, { asleepMs: 0 });
    poller.setPace('asleep');
    expect(clock.pending()).toEqual([]);
    clock.advance(3_600_000);
    expect(spotify.calls('currently-playing')).toBe(0);
  });

  it('counts as the owner starting music: playing now, nothing or paused before; not a track change while playing', () => {
    expect(startedPlaying(null, playing())).toBe(true);
    expect(startedPlaying(playing({ isPlaying: false }), playing())).toBe(true);
    expect(startedPlaying(playing({ isPlaying: false }), playing({ uri: 'spotify:track:T2' }))).toBe(true);
    expect(startedPlaying(playing(), playing({ uri: 'spotify:track:T2' }))).toBe(false);
    expect(startedPlaying(playing(), playing())).toBe(false);
    expect(startedPlaying(null, playing({ isPlaying: false }))).toBe(false);
    expect(startedPlaying(playing(), null)).toBe(false);
  });
});

describe('album art cache', () => {
  it('downloads once, resizes to the art box, keeps it on disk and evicts the oldest over the cap', async () => {
    const url = (id: string) => `${spotify.origin}/images/${id}.jpg`;
    const cache = new ArtCache({ dir, size: ART_BOX, maxBytes: 1_000_000 });
    const image = await cache.get(url('A1'));
    expect([image?.width, image?.height]).toEqual([ART_BOX, ART_BOX]);
    await cache.get(url('A1'));
    const again = await new ArtCache({ dir, size: ART_BOX, maxBytes: 1_000_000 }).get(url('A1'));
    expect(again?.width).toBe(ART_BOX);
    expect(spotify.calls('image')).toBe(1);

    const one = (await fs.stat(path.join(dir, (await fs.readdir(dir))[0]!))).size;
    const small = new ArtCache({ dir, size: ART_BOX, maxBytes: one * 2 + 10 });
    for (const id of ['B1', 'B2', 'B3']) await small.get(url(id));
    const left = await fs.readdir(dir);
    expect(left).toHaveLength(2);
    expect(await new ArtCache({ dir, size: ART_BOX, maxBytes: 1e9 }).get(url('A1'))).not.toBeNull();
    expect(spotify.calls('image')).toBe(5);
  });

  it('still gives the picture when the disk refuses to store it, and never rejects', async () => {
    // The cache directory's place is taken by a file: mkdir fails.
    const blocked = path.join(dir, 'not-a-dir');
    await fs.writeFile(blocked, 'x');
    const cache = new ArtCache({ dir: blocked, size: ART_BOX, maxBytes: 1_000_000 });
    const image = await cache.get(`${spotify.origin}/images/D1.jpg`);
    expect(image?.width).toBe(ART_BOX);
    expect(cache.lookup(`${spotify.origin}/images/D1.jpg`)).toBe(image);
  });

  it('refuses art whose header promises more pixels than the gadget decodes, and takes large art within it', async () => {
    // A small file (solid colour compresses well) that would decode to a huge bitmap.
    const png = (side: number) => {
      const canvas = createCanvas(side, side);
      const g = canvas.getContext('2d');
      g.fillStyle = '#336699';
      g.fillRect(0, 0, side, side);
      return canvas.toBuffer('image/png');
    };
    const files: Record<string, Buffer> = { '/over.png': png(2100), '/within.png': png(2000) };
    const server = createServer((req, res) => {
      const body = files[req.url ?? ''];
      res.writeHead(body ? 200 : 404, { 'content-type': 'image/png' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const cache = new ArtCache({ dir, size: ART_BOX, maxBytes: 1_000_000 });
      expect(files['/over.png']!.length).toBeLessThan(2_000_000);
      expect(await cache.get(`http://127.0.0.1:${port}/over.png`)).toBeNull();
      const within = await cache.get(`http://127.0.0.1:${port}/within.png`);
      expect([within?.width, within?.height]).toEqual([ART_BOX, ART_BOX]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('stops reading art that is larger than the limit, even without a content-length', async () => {
    // A crew mate's share may name any URL: this one streams without end.
    let sent = 0;
    const endless = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (!res.destroyed && sent < 500_000_000) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = endless.address() as AddressInfo;
      const cache = new ArtCache({ dir, size: ART_BOX, maxBytes: 1_000_000, maxDownloadBytes: 1_000_000, timeoutMs: 60_000 });
      expect(await cache.get(`http://127.0.0.1:${port}/huge.jpg`)).toBeNull();
      expect(sent).toBeLessThan(50_000_000);
    } finally {
      endless.closeAllConnections();
      await new Promise((resolve) => endless.close(resolve));
    }
  }, 15_000);

  it('gives null for unreachable or non-image art', async () => {
    const cache = new ArtCache({ dir, size: ART_BOX, maxBytes: 1_000_000, timeoutMs: 2000 });
    expect(await cache.get(`${spotify.origin}/nope.jpg`)).toBeNull();
    expect(await cache.get('http://127.0.0.1:1/x.jpg')).toBeNull();
  });
});

describe('Spotify screens (PNG snapshots compared structurally)', () => {
  it('now playing: art from the cache, text, and a progress bar that moves between polls', async () => {
    const cache = new ArtCache({ dir, size: ART_BOX, maxBytes: 1_000_000 });
    const artUrl = `${spotify.origin}/images/ART1.jpg`;
    await cache.get(artUrl);
    const screen = new NowPlayingScreen({ share: () => undefined, signIn: () => undefined }, (u) => cache.lookup(u));
    screen.link = 'signed_in';
    screen.playing = playing({ artUrl });
    const early = await snapshot(screen, 1_000_000);
    // The fake's art is a coloured square with a white centre; the renderer puts the body below the status bar.
    const artTop = 30 + 18;
    expect(close(early.at(20 + ART_BOX / 2, artTop + ART_BOX / 2), '#ffffff')).toBe(true);
    expect(close(early.at(24, artTop + 6), '#ffffff')).toBe(false);
    const barY = artTop + ART_BOX + 26 + 4;
    const filled = (s: typeof early) => Array.from({ length: 440 }, (_, i) => s.at(20 + i, barY)).filter((p) => close(p, COLORS.accent)).length;
    expect(filled(early)).toBeGreaterThan(440 * 0.2);
    expect(filled(early)).toBeLessThan(440 * 0.3);
    const later = await snapshot(screen, 1_000_000 + 100_000);
    expect(filled(later)).toBeGreaterThan(440 * 0.7);
    screen.playing = playing({ isPlaying: false });
    expect(filled(await snapshot(screen, 1_000_000 + 100_000))).toBeLessThan(440 * 0.3);
  });

  it('now playing: a share confirmation banner, and the primary button shares', async () => {
    let shared = 0;
    const screen = new NowPlayingScreen({ share: () => void shared++, signIn: () => undefined });
    screen.link = 'signed_in';
    screen.playing = playing();
    screen.notice = { text: 'Shared with your crew ✓', tone: 'ok', until: 1_000_000 + 4000 };
    const shot = await snapshot(screen, 1_000_000);
    expect(close(shot.at(240, 320 - 8 - 34), COLORS.online)).toBe(true);
    expect(close((await snapshot(screen, 1_000_000 + 5000)).at(240, 320 - 8 - 34), COLORS.online)).toBe(false);
    const host = { state: initialState('K', 'ws://r'), show: () => undefined, invalidate: () => undefined, react: () => undefined, markRead: () => undefined };
    expect(screen.onButton({ kind: 'press', button: 'primary', at: 0 }, host)).toBe(true);
    expect(screen.onButton({ kind: 'press', button: 'next', at: 0 }, host)).toBe(false);
    expect(shared).toBe(1);
  });

  it('sign-in: a scannable QR code of the link, the code and the time left', async () => {
    const screen = new SignInScreen(() => undefined);
    screen.session = { url: 'https://leeloo.example/s/ABCDEFGH', code: 'ABCD-EFGH', expiresAt: 1_000_000 + 9 * 60_000 };
    const shot = await snapshot(screen, 1_000_000);
    // Sample the drawn modules at their centres and compare with the QR of the link.
    const grid = (s: typeof shot) => {
      const { size, data } = QRCode.create('https://leeloo.example/s/ABCDEFGH', { errorCorrectionLevel: 'M' }).modules;
      const scale = Math.floor((320 - 30 - 24) / (size + 4));
      let wrong = 0;
      for (let r = 0; r < size; r++) {
        for (let c = 0; c < size; c++) {
          const p = s.at(14 + (c + 2) * scale + Math.floor(scale / 2), 30 + 12 + (r + 2) * scale + Math.floor(scale / 2));
          if (p[0]! < 128 !== Boolean(data[r * size + c])) wrong++;
        }
      }
      return wrong;
    };
    expect(grid(shot)).toBe(0);
    // The code in the accent colour to the right of the QR.
    const accent = Array.from({ length: 120 }, (_, i) => shot.at(300 + i, 30 + 180)).filter((p) => close(p, COLORS.accent)).length;
    expect(accent).toBeGreaterThan(5);
    const expired = await snapshot(screen, 1_000_000 + 10 * 60_000);
    expect(grid(expired)).toBeGreaterThan(100);
  });
});
