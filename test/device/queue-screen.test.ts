import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import QRCode from 'qrcode';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NowPlayingView, QueueItemView, QueueSnapshot } from '../../protocol/queue.js';
import { copyOf } from '../../device/crew-clock.js';
import { PlayAlong } from '../../device/features/queue/play-along.js';
import { CrewLinkScreen } from '../../device/screens/crew-link.js';
import { QUEUE_LAYOUT, QueueScreen } from '../../device/screens/queue.js';
import { ScreenRenderer } from '../../device/screens/renderer.js';
import type { Screen, ScreenHost } from '../../device/screens/screen.js';
import { COLORS, STATUS_BAR_HEIGHT } from '../../device/screens/theme.js';
import { SpotifyError } from '../../spotify/spotify-http.js';
import { initialState, type DeviceState } from '../../device/state.js';
import { throughPng } from '../helpers/png-round-trip.js';

const ME = 'dev_me_000000000001';
const T0 = 1_700_000_000_000;
const state: DeviceState = { ...initialState('Kitchen', 'ws://relay'), deviceId: ME };

function item(n: number, over: Partial<QueueItemView> = {}): QueueItemView {
  return {
    item_id: `q_item${String(n).padStart(8, '0')}`,
    spotify_uri: `spotify:track:${'T'.repeat(21)}${n}`,
    track: `Track ${n}`,
    artist: `Artist ${n}`,
    album: '',
    album_art_url: '',
    duration_ms: 200_000,
    added_by: 'dev_ben_000000000001',
    added_by_name: 'Ben',
    added_at: T0 - 100_000 + n,
    round: 1,
    score: 0,
    voted_up: [],
    voted_down: [],
    jammed_by: [],
    throwback: false,
    ...over,
  };
}

function playing(over: Partial<NowPlayingView> = {}): NowPlayingView {
  return { ...item(0), started_at: T0 - 60_000, clock_duration_ms: 200_000, paused_at: null, position_ms: 60_000, skip_votes: [], ...over };
}

function snapshot(over: Partial<QueueSnapshot> = {}): QueueSnapshot {
  return {
    now_playing: playing(),
    up_next: [
      item(1, { score: 2, voted_up: [ME, 'dev_ben_000000000001'] }),
      item(2, { jammed_by: [ME] }),
      item(3, { throwback: true, added_by: null, added_by_name: '' }),
    ],
    throwback: true,
    version: 7,
    server_time: T0,
    ...over,
  };
}

/** Renders a screen, encodes it as PNG and decodes it again; returns a pixel reader. */
async function shot(screen: Screen, now: number) {
  return (await throughPng(new ScreenRenderer().render({ screen, state, now, overlay: null }))).at;
}

const close = (a: number[], hex: string) => [1, 3, 5].every((i, k) => Math.abs(parseInt(hex.slice(i, i + 2), 16) - a[k]!) < 8);

const L = QUEUE_LAYOUT;
const top = STATUS_BAR_HEIGHT;
const rowMid = (i: number) => top + L.rowsTop + i * (L.rowHeight + L.rowGap) + Math.floor(L.rowHeight / 2);
const nowMid = top + L.nowTop + Math.floor(L.nowHeight / 2);

function recordingHost(): ScreenHost & { invalidated: number } {
  return {
    state,
    invalidated: 0,
    show: () => undefined,
    invalidate() {
      this.invalidated++;
    },
    react: () => undefined,
    markRead: () => undefined,
  };
}

describe('queue screen', () => {
  let actions: { kind: string; item: string; value: unknown }[];
  let screen: QueueScreen;

  beforeEach(() => {
    actions = [];
    screen = new QueueScreen({
      vote: (i, vote) => actions.push({ kind: 'vote', item: i.item_id, value: vote }),
      jam: (i, on) => actions.push({ kind: 'jam', item: i.item_id, value: on }),
    });
  });

  it('draws the crew now-playing and one panel per queued track, the cursor highlighted', async () => {
    screen.queue = copyOf(snapshot(), T0);
    const px = await shot(screen, T0);
    // Three rows of panels, nothing where a fourth would be.
    for (let i = 0; i < 3; i++) expect(close(px(16, rowMid(i)), COLORS.panel)).toBe(true);
    expect(close(px(16, rowMid(3)), COLORS.background)).toBe(true);
    // The cursor starts on the playing track: its panel is outlined in the accent colour, the rows are not.
    expect(close(px(10, nowMid), COLORS.accent)).toBe(true);
    expect(close(px(10, rowMid(0)), COLORS.accent)).toBe(false);

    const host = recordingHost();
    expect(screen.onButton({ kind: 'press', button: 'next', at: 0 }, host)).toBe(true);
    expect(host.invalidated).toBe(1);
    const moved = await shot(screen, T0);
    expect(close(moved(10, nowMid), COLORS.accent)).toBe(false);
    expect(close(moved(10, rowMid(0)), COLORS.accent)).toBe(true);
    expect(close(moved(16, rowMid(0)), COLORS.panelLight)).toBe(true);
  });

  it("moves the clock between snapshots in the relay's time, and stops it while paused", async () => {
    const barY = top + L.barTop + 3;
    const barW = 480 - 2 * L.barLeft;
    const at = (fraction: number) => L.barLeft + Math.round(barW * fraction);
    // The gadget's clock is 5 minutes behind the relay: positions follow server_time, not the local clock.
    const local = T0 - 300_000;
    screen.queue = copyOf(snapshot(), local);
    const first = await shot(screen, local);
    expect(close(first(at(0.25), barY), COLORS.accent)).toBe(true);
    expect(close(first(at(0.35), barY), COLORS.panelLight)).toBe(true);
    const later = await shot(screen, local + 60_000);
    expect(close(later(at(0.55), barY), COLORS.accent)).toBe(true);
    expect(close(later(at(0.65), barY), COLORS.panelLight)).toBe(true);

    screen.queue = copyOf(snapshot({ now_playing: playing({ paused_at: T0 }) }), local);
    const paused = await shot(screen, local + 120_000);
    expect(close(paused(at(0.25), barY), COLORS.accent)).toBe(true);
    expect(close(paused(at(0.35), barY), COLORS.panelLight)).toBe(true);
  });

  it('primary toggles my up-vote, secondary my jam, on the selected track', () => {
    screen.queue = copyOf(snapshot(), T0);
    const host = recordingHost();
    const press = (button: 'prev' | 'next' | 'primary' | 'secondary') => screen.onButton({ kind: 'press', button, at: 0 }, host);
    expect(press('primary')).toBe(true);
    expect(press('secondary')).toBe(true);
    press('next');
    press('primary');
    press('next');
    press('secondary');
    expect(actions).toEqual([
      { kind: 'vote', item: 'q_item00000000', value: 'up' },
      { kind: 'jam', item: 'q_item00000000', value: true },
      { kind: 'vote', item: 'q_item00000001', value: 'none' },
      { kind: 'jam', item: 'q_item00000002', value: false },
    ]);
  });

  it('lets prev/next leave the screen past either end, and ignores other events', () => {
    const host = recordingHost();
    const press = (button: 'prev' | 'next') => screen.onButton({ kind: 'press', button, at: 0 }, host);
    // No queue yet: nothing to select, every press is the controller's.
    expect(press('next')).toBe(false);
    expect(screen.onButton({ kind: 'press', button: 'primary', at: 0 }, host)).toBe(false);
    screen.queue = copyOf(snapshot(), T0);
    expect(press('prev')).toBe(false);
    expect(press('next') && press('next') && press('next')).toBe(true);
    expect(press('next')).toBe(false);
    expect(screen.onButton({ kind: 'rotate', delta: -1, at: 0 }, host)).toBe(true);
    expect(screen.selected()?.item_id).toBe('q_item00000002');
    expect(screen.onButton({ kind: 'long_press', button: 'primary', at: 0 }, host)).toBe(false);
    // A new snapshot that reorders keeps the cursor on the same track.
    screen.queue = copyOf(snapshot({ up_next: [item(2), item(1), item(3)], version: 8 }), T0);
    expect(screen.selected()?.item_id).toBe('q_item00000002');
    screen.onShow();
    expect(screen.selected()?.item_id).toBe('q_item00000000');
    expect(actions).toEqual([]);
  });

  it('says so when the queue is empty or not known yet', async () => {
    const waiting = await shot(screen, T0);
    expect(close(waiting(16, rowMid(0)), COLORS.panel)).toBe(false);
    screen.queue = copyOf(snapshot({ now_playing: null, up_next: [] }), T0);
    const empty = await shot(screen, T0);
    expect(close(empty(10, nowMid), COLORS.accent)).toBe(false);
    expect(screen.selected()).toBeNull();
  });
});

describe('crew link screen', () => {
  const url = 'https://leeloo.example/c/v1.eyJjIjoiY3Jld18xIn0.abcdefghijklmnop';

  it('draws a scannable QR code of the link with its validity, and asks for a new one when expired', async () => {
    let renewed = 0;
    const screen = new CrewLinkScreen(() => renewed++);
    screen.link = { url, expiresAt: T0 + 7 * 86_400_000 };
    const grid = (px: (x: number, y: number) => number[]) => {
      const { size, data } = QRCode.create(url, { errorCorrectionLevel: 'M' }).modules;
      const scale = Math.floor((320 - STATUS_BAR_HEIGHT - 24) / (size + 4));
      let wrong = 0;
      for (let r = 0; r < size; r++) {
        for (let c = 0; c < size; c++) {
          const p = px(14 + (c + 2) * scale + Math.floor(scale / 2), top + 12 + (r + 2) * scale + Math.floor(scale / 2));
          if (p[0]! < 128 !== Boolean(data[r * size + c])) wrong++;
        }
      }
      return wrong;
    };
    const px = await shot(screen, T0);
    expect(grid(px)).toBe(0);
    const accent = Array.from({ length: 150 }, (_, i) => px(300 + i, top + 217)).filter((p) => close(p, COLORS.accent)).length;
    expect(accent).toBeGreaterThan(5);
    expect(grid(await shot(screen, T0 + 8 * 86_400_000))).toBeGreaterThan(100);
    expect(screen.onButton({ kind: 'press', button: 'primary', at: 0 }, recordingHost())).toBe(true);
    expect(screen.onButton({ kind: 'press', button: 'next', at: 0 }, recordingHost())).toBe(false);
    expect(renewed).toBe(1);
  });
});

describe('play along', () => {
  let dir: string;
  let calls: { kind: 'play' | 'pause'; uris?: string[]; position?: number }[];
  let refuse: SpotifyError | null;
  let changes: number;

  const make = () =>
    new PlayAlong({
      player: {
        play: async (uris, position) => {
          if (refuse) throw refuse;
          calls.push({ kind: 'play', uris, position });
        },
        pause: async () => {
          if (refuse) throw refuse;
          calls.push({ kind: 'pause' });
        },
        seek: async () => {
          throw new Error('this PlayAlong is never told what the owner plays, so it never seeks');
        },
      },
      file: path.join(dir, 'play-along.json'),
      log: pino({ level: 'silent' }),
      onChange: () => changes++,
      notify: () => undefined,
      now: Date.now,
    });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leeloo-play-along-'));
    calls = [];
    refuse = null;
    changes = 0;
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('plays a new crew track at the clock position, pauses and resumes with the crew, and ignores other changes', async () => {
    const along = make();
    await along.load();
    expect(along.enabled).toBe(false);
    let now = T0;
    const clock = () => now;
    // Off: nothing happens.
    await along.follow(playing(), clock);
    expect(calls).toEqual([]);

    await along.setEnabled(true, playing(), clock);
    await along.settled();
    expect(calls).toEqual([{ kind: 'play', uris: [playing().spotify_uri], position: 60_000 }]);
    // A vote elsewhere in the queue (same track, still running) changes nothing in Spotify.
    await along.follow(playing({ score: 3 }), clock);
    now += 10_000;
    await along.follow(playing({ paused_at: now }), clock);
    await along.follow(playing({ paused_at: now }), clock);
    now += 50_000;
    await along.follow(playing({ started_at: T0 - 60_000 + 50_000 }), clock);
    const next = { ...playing(), ...item(1), started_at: now, position_ms: 0 };
    await along.follow(next, clock);
    expect(calls.slice(1)).toEqual([
      { kind: 'pause' },
      { kind: 'play', uris: [playing().spotify_uri], position: 70_000 },
      { kind: 'play', uris: [item(1).spotify_uri], position: 0 },
    ]);
    expect(along.status).toEqual({ text: 'Playing along: Track 1', tone: 'ok' });
    expect(changes).toBeGreaterThan(0);

    // Persisted: a new instance (a restart) reads it back on.
    const again = make();
    await again.load();
    expect(again.enabled).toBe(true);
  });

  it('shows the Spotify error and keeps following the crew', async () => {
    const along = make();
    await along.setEnabled(true, null, () => T0);
    refuse = new SpotifyError('no_active_device', { status: 404 });
    await along.follow(playing(), () => T0);
    expect(along.status?.tone).toBe('error');
    expect(along.status?.text).toMatch(/^Play along: Spotify has no active player/);
    refuse = null;
    await along.follow({ ...playing(), ...item(2), started_at: T0 }, () => T0 + 1000);
    expect(calls).toEqual([{ kind: 'play', uris: [item(2).spotify_uri], position: 1000 }]);
  });

  it('treats a damaged settings file as off', async () => {
    await fs.writeFile(path.join(dir, 'play-along.json'), '{not json');
    const along = make();
    await along.load();
    expect(along.enabled).toBe(false);
    expect(along.status).toBeNull();
  });
});
