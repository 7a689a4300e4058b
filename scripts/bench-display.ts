/**
 * Display benchmark at 480×320 on the Waveshare ILI9486 (16-bit register bus):
 * how long each real screen takes to render, to convert to RGB565 and to turn into
 * the SPI transfer list, and how many bytes a full frame and the typical updates put
 * on the wire, with the frame rates those bytes allow at 16, 32 and 62.5 MHz.
 *
 * Then the bytes each display path puts on the SPI bus for the same updates: fbtft
 * (its deferred io repaints the whole panel on every write, mkdirty(info, -1, 0)), DRM
 * (panel-mipi-dbi / piscreen,drm: fbdev emulation damages the full-width rows between
 * the first and last dirty line) and the spi driver (only the changed rectangles).
 *
 *   npx tsx scripts/bench-display.ts [--runs N]
 */
import { performance } from 'node:perf_hooks';
import type { OutboundMessage } from '../protocol/index.js';
import type { Frame } from '../device/hardware.js';
import { ILI9486 } from '../device/panels/ili9486.js';
import { convertFrame } from '../device/rgb565.js';
import { changedRowSpans, type Image } from '../device/dirty-rects.js';
import { planUpdate } from '../device/spi-display.js';
import { totalBytes } from '../device/spi-transfers.js';
import { ScreenRenderer } from '../device/screens/renderer.js';
import type { Screen } from '../device/screens/screen.js';
import { StatusScreen } from '../device/screens/status.js';
import { NowPlayingScreen } from '../device/screens/now-playing.js';
import { ShareScreen } from '../device/screens/share.js';
import { CrewScreen } from '../device/screens/crew.js';
import { MessagesScreen } from '../device/screens/messages.js';
import { MenuScreen } from '../device/screens/menu.js';
import { ScreenRegistry } from '../device/screens/registry.js';
import { QueueScreen } from '../device/screens/queue.js';
import { SignInScreen } from '../device/screens/sign-in.js';
import { copyOf } from '../device/crew-clock.js';
import type { QueueItemView } from '../protocol/queue.js';
import { applyEvent, initialState, withConnection, withCrew, type DeviceState } from '../device/state.js';

const SPEEDS_HZ = [16_000_000, 32_000_000, 62_500_000];
const BUS = { regWidth: ILI9486.defaultRegWidth, speedHz: ILI9486.defaultSpeedHz, bufsiz: 4096 };
const NOW = Date.UTC(2025, 5, 6, 18, 0, 0);
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 10;

const renderer = new ScreenRenderer();
const nowPlaying = new NowPlayingScreen({ share: () => undefined, signIn: () => undefined });
nowPlaying.link = 'signed_in';
nowPlaying.playing = {
  uri: 'spotify:track:67Hna13dNDkZvBpTXRIaOJ',
  track: 'Teardrop',
  artist: 'Massive Attack',
  album: 'Mezzanine',
  artUrl: null,
  durationMs: 330_000,
  progressMs: 95_000,
  isPlaying: true,
  fetchedAt: NOW,
};

function message(seq: number, from: string, name: string, body: Record<string, unknown>): OutboundMessage {
  return { type: 'message', from_device: from, from_name: name, timestamp: NOW - 60_000, seq, crew_code: 'LEELOO-7KQ2', ...body } as OutboundMessage;
}

function share(seq: number, track: string, artist: string, note: string): OutboundMessage {
  const payload = { artist, track, album: 'Discovery', spotify_uri: 'spotify:track:5W3cjX2J3tjhG8zb6u0qHn', album_art_url: '', note };
  return message(seq, 'dev-b', 'Ana', { msg_type: 'song_push', payload });
}

function crewState(): DeviceState {
  let s: DeviceState = { ...initialState('Kitchen', 'wss://relay.example/ws'), deviceId: 'dev-a' };
  s = withConnection(s, { status: 'online', detail: 'Connected.', retryAt: null });
  s = withCrew(s, {
    crew_code: 'LEELOO-7KQ2',
    crew_name: 'Friday',
    owner_device_id: 'dev-a',
    latest_seq: 0,
    members: [
      { device_id: 'dev-a', display_name: 'Kitchen', online: true, is_owner: true },
      { device_id: 'dev-b', display_name: 'Ana', online: true, is_owner: false },
      { device_id: 'dev-c', display_name: 'Marco', online: false, is_owner: false },
    ],
  });
  s = applyEvent(s, share(1, 'Digital Love', 'Daft Punk', 'for the drive'));
  return applyEvent(s, message(2, 'dev-c', 'Marco', { msg_type: 'text', payload: { text: 'records at mine tonight?' } }));
}

function queueItem(n: number, track: string, artist: string, by: string, over: Partial<QueueItemView> = {}): QueueItemView {
  return {
    item_id: `q_bench${String(n).padStart(8, '0')}`,
    spotify_uri: `spotify:track:${'B'.repeat(21)}${n}`,
    track,
    artist,
    album: '',
    album_art_url: '',
    duration_ms: 240_000,
    added_by: `dev-${by}`,
    added_by_name: by,
    added_at: NOW - 600_000 + n,
    round: 1,
    score: 0,
    voted_up: [],
    voted_down: [],
    jammed_by: [],
    throwback: false,
    ...over,
  };
}

const queue = new QueueScreen({ vote: () => undefined, jam: () => undefined });
queue.queue = copyOf(
  {
    now_playing: {
      ...queueItem(0, 'Teardrop', 'Massive Attack', 'Ana'),
      started_at: NOW - 95_000,
      clock_duration_ms: 330_000,
      paused_at: null,
      position_ms: 95_000,
      skip_votes: [],
    },
    up_next: [
      queueItem(1, 'Digital Love', 'Daft Punk', 'Marco', { score: 2, voted_up: ['dev-a', 'dev-b'] }),
      queueItem(2, 'Hyperballad', 'Björk', 'Kitchen', { jammed_by: ['dev-b'] }),
      queueItem(3, 'Windowlicker', 'Aphex Twin', '', { throwback: true, added_by: null }),
    ],
    throwback: true,
    version: 12,
    server_time: NOW,
  },
  NOW,
);

const signIn = new SignInScreen(() => undefined);
signIn.session = { url: 'https://leeloo.example.org/s/K7QD2M', code: 'K7QD2M', expiresAt: NOW + 540_000 };

const state = crewState();
const screens: Record<string, Screen> = {
  status: new StatusScreen(),
  now_playing: nowPlaying,
  share: new ShareScreen(),
  crew: new CrewScreen(),
  messages: new MessagesScreen(),
  menu: new MenuScreen(new ScreenRegistry()),
  queue,
  sign_in: signIn,
};

function render(screen: Screen, s: DeviceState = state, now = NOW, overlay: number | null = null): Frame {
  const flash = s.flash;
  return renderer.render({ screen, state: s, now, overlay: overlay !== null && flash ? { flash, progress: overlay } : null });
}

function toImage(frame: Frame): Image {
  return { width: frame.width, height: frame.height, bytesPerPixel: 2, data: convertFrame(frame, 'rgb565be') };
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  let value = fn();
  const start = performance.now();
  for (let i = 0; i < runs; i++) value = fn();
  return { value, ms: (performance.now() - start) / runs };
}

const fmt = (n: number, digits = 1) => n.toFixed(digits).padStart(7);
const fps = (bytes: number) => SPEEDS_HZ.map((hz) => (bytes === 0 ? '      ∞' : fmt(hz / (bytes * 8)))).join(' ');

function benchScreens(): number {
  console.log(`Per screen (mean of ${runs}): render, RGB565 conversion, transfer list of a full frame`);
  console.log('screen         render ms  convert ms  transfers ms  bytes');
  let fullBytes = 0;
  for (const [name, screen] of Object.entries(screens)) {
    const frame = timed(() => render(screen));
    const image = timed(() => toImage(frame.value));
    const plan = timed(() => planUpdate(null, image.value, BUS));
    fullBytes = totalBytes(plan.value.transfers);
    console.log(`${name.padEnd(14)}${fmt(frame.ms, 2)}    ${fmt(image.ms, 2)}     ${fmt(plan.ms, 2)}     ${fullBytes}`);
  }
  return fullBytes;
}

interface Update {
  name: string;
  before: Frame;
  after: Frame;
}

function updates(): Update[] {
  const connecting = withConnection(state, { status: 'connecting', detail: 'Relay unreachable.', retryAt: NOW + 9_000 });
  const reacted = applyEvent(state, message(3, 'dev-b', 'Ana', { msg_type: 'reaction', payload: { reaction: 'fire', to_device: 'dev-a' } }));
  const incoming = applyEvent(state, share(4, 'Hyperballad', 'Björk', 'this one, loud'));
  return [
    { name: 'progress +1 s', before: render(nowPlaying), after: render(nowPlaying, state, NOW + 1_000) },
    { name: 'progress +5 s (poll)', before: render(nowPlaying), after: render(nowPlaying, state, NOW + 5_000) },
    { name: 'queue clock +1 s', before: render(queue), after: render(queue, state, NOW + 1_000) },
    { name: 'status countdown tick', before: render(nowPlaying, connecting), after: render(nowPlaying, connecting, NOW + 1_000) },
    { name: 'incoming share', before: render(screens.share!), after: render(screens.share!, incoming) },
    { name: 'reaction anim. frame', before: render(screens.share!, reacted, NOW, 0.5), after: render(screens.share!, reacted, NOW, 0.55) },
    { name: 'screen change', before: render(nowPlaying), after: render(screens.crew!) },
  ];
}

function benchUpdates(fullBytes: number): void {
  console.log(`\nBytes on the wire per update (ILI9486, ${BUS.regWidth}-bit registers, bufsiz ${BUS.bufsiz})`);
  console.log(`update                  rects  transfers    bytes   plan ms  wire ms@16MHz   fps@16MHz @32MHz @62.5MHz`);
  console.log(
    `${'full frame'.padEnd(24)}${'1'.padStart(5)}  ${'-'.padStart(9)}  ${String(fullBytes).padStart(7)}  ${'-'.padStart(8)}  ${fmt((fullBytes * 8) / 16_000, 2)}        ${fps(fullBytes)}`,
  );
  for (const u of updates()) {
    const [before, after] = [toImage(u.before), toImage(u.after)];
    const plan = timed(() => planUpdate(before, after, BUS));
    const bytes = totalBytes(plan.value.transfers);
    const row = `${u.name.padEnd(24)}${String(plan.value.rects.length).padStart(5)}  ${String(plan.value.transfers.length).padStart(9)}  ${String(bytes).padStart(7)}  ${fmt(plan.ms, 2)}  ${fmt((bytes * 8) / 16_000, 2)}        ${fps(bytes)}`;
    console.log(row);
  }
}

/** Bytes on the bus for one update on each display path; 0 when nothing changed. */
function pathBytes(before: Image, after: Image): { fbtft: number; drm: number; spi: number } {
  const spans = changedRowSpans(before, after);
  if (spans.length === 0) return { fbtft: 0, drm: 0, spi: 0 };
  const window = 11 * (BUS.regWidth / 8);
  const first = spans[0]!.y;
  const last = spans.at(-1)!.y + spans.at(-1)!.h;
  const rowBytes = after.width * 2;
  return {
    fbtft: window + after.height * rowBytes,
    drm: window + (last - first) * rowBytes,
    spi: totalBytes(planUpdate(before, after, BUS).transfers),
  };
}

function benchPaths(): { clock: { fbtft: number; drm: number; spi: number } } {
  console.log('\nBytes on the SPI bus per update, by display path');
  console.log('update                     fbtft (fb)    DRM (fb)   spi driver');
  let clock = { fbtft: 0, drm: 0, spi: 0 };
  for (const u of updates()) {
    const bytes = pathBytes(toImage(u.before), toImage(u.after));
    if (u.name === 'progress +1 s') clock = bytes;
    console.log(`${u.name.padEnd(24)}${String(bytes.fbtft).padStart(11)}${String(bytes.drm).padStart(12)}${String(bytes.spi).padStart(13)}`);
  }
  return { clock };
}

const started = performance.now();
const fullBytes = benchScreens();
benchUpdates(fullBytes);
const { clock } = benchPaths();
console.log(
  `\nbench-display: full frame ${fullBytes} bytes = ${fmt((fullBytes * 8) / 16_000, 1).trim()} ms at 16 MHz; a 1 Hz progress tick puts ${clock.fbtft} / ${clock.drm} / ${clock.spi} bytes a second on the bus (fbtft / DRM / spi driver); done in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
