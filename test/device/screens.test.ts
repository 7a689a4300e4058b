import { describe, expect, it } from 'vitest';
import type { OutboundMessage } from '../../protocol/index.js';
import { CrewScreen } from '../../device/screens/crew.js';
import { CREW_CODE_ENTRY, MenuScreen } from '../../device/screens/menu.js';
import { MessagesScreen } from '../../device/screens/messages.js';
import { ScreenRegistry } from '../../device/screens/registry.js';
import { ScreenRenderer } from '../../device/screens/renderer.js';
import type { Screen } from '../../device/screens/screen.js';
import { ShareScreen } from '../../device/screens/share.js';
import { SpotifyDevicesScreen } from '../../device/screens/spotify-devices.js';
import { StatusScreen } from '../../device/screens/status.js';
import { COLORS } from '../../device/screens/theme.js';
import { applyEvent, initialState, markRead, withConnection, withCrew, type DeviceState } from '../../device/state.js';
import { throughPng, type Rgb } from '../helpers/png-round-trip.js';

const NOW = 1_750_000_000_000;
const renderer = new ScreenRenderer();

/** Renders, encodes to PNG and decodes it again, as the mirror page would see it. */
async function png(screen: Screen, state: DeviceState, overlay?: { progress: number }): Promise<(x: number, y: number) => Rgb> {
  const frame = renderer.render({ screen, state, now: NOW, overlay: overlay && state.flash ? { flash: state.flash, progress: overlay.progress } : null });
  const image = await throughPng(frame);
  expect([image.width, image.height]).toEqual([480, 320]);
  return image.at;
}

function hex(color: string): Rgb {
  return [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16)) as Rgb;
}

/** How many pixels of a region differ between two renders. */
function differing(a: (x: number, y: number) => Rgb, b: (x: number, y: number) => Rgb, box: { x: number; y: number; w: number; h: number }): number {
  let count = 0;
  for (let y = box.y; y < box.y + box.h; y++) {
    for (let x = box.x; x < box.x + box.w; x++) {
      const p = a(x, y);
      const q = b(x, y);
      if (Math.abs(p[0] - q[0]) + Math.abs(p[1] - q[1]) + Math.abs(p[2] - q[2]) > 30) count++;
    }
  }
  return count;
}

function countColor(pixel: (x: number, y: number) => Rgb, color: Rgb, box: { x: number; y: number; w: number; h: number }): number {
  let count = 0;
  for (let y = box.y; y < box.y + box.h; y++) {
    for (let x = box.x; x < box.x + box.w; x++) {
      const p = pixel(x, y);
      if (Math.abs(p[0] - color[0]) + Math.abs(p[1] - color[1]) + Math.abs(p[2] - color[2]) < 24) count++;
    }
  }
  return count;
}

function message(seq: number, from: string, name: string, body: Record<string, unknown>): OutboundMessage {
  return { type: 'message', from_device: from, from_name: name, timestamp: NOW - 60_000, seq, crew_code: 'LEELOO-7KQ2', ...body } as OutboundMessage;
}

const share = (seq: number, track: string) =>
  message(seq, 'dev-b', 'Ana', {
    msg_type: 'song_push',
    payload: { artist: 'Daft Punk', track, album: 'Discovery', spotify_uri: 'spotify:track:5W3cjX2J3tjhG8zb6u0qHn', album_art_url: '', note: 'for the drive' },
  });

function baseState(): DeviceState {
  let s: DeviceState = { ...initialState('Kitchen', 'ws://relay/ws'), deviceId: 'dev-a' };
  s = withConnection(s, { status: 'online', detail: 'Connected.', retryAt: null });
  return withCrew(s, {
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
}

const BODY = { x: 0, y: 34, w: 480, h: 280 };
const STRIPE = { x: 0, y: 27, w: 480, h: 3 };

describe('screens', () => {
  it('colours the status bar by connection state on every screen', async () => {
    const expected = { online: COLORS.online, offline: COLORS.offline, connecting: COLORS.connecting, error: COLORS.error } as const;
    for (const screen of [new StatusScreen(), new CrewScreen(), new ShareScreen(), new MessagesScreen()]) {
      for (const [status, color] of Object.entries(expected)) {
        const state = withConnection(baseState(), { status: status as keyof typeof expected, detail: '', retryAt: null });
        const pixel = await png(screen, state);
        expect(countColor(pixel, hex(color), STRIPE), `${screen.id} ${status}`).toBeGreaterThan(1400);
      }
    }
  });

  it('shows an incoming share with its art box, and a different share looks different', async () => {
    const screen = new ShareScreen();
    const empty = await png(screen, baseState());
    const first = await png(screen, applyEvent(baseState(), share(1, 'Harder, Better, Faster, Stronger')));
    const second = await png(screen, applyEvent(baseState(), share(1, 'One More Time')));
    const art = { x: 20, y: 50, w: 150, h: 150 };
    expect(differing(empty, first, art)).toBeGreaterThan(10_000);
    expect(differing(first, second, art)).toBeGreaterThan(1000);
    // The reaction bar shows counts: a reaction changes it.
    const reacted = applyEvent(
      applyEvent(baseState(), share(1, 'One More Time')),
      message(2, 'dev-c', 'Marco', { msg_type: 'reaction', payload: { reaction: 'fire', to_device: 'dev-b' } }),
    );
    expect(differing(second, await png(screen, reacted), { x: 20, y: 264, w: 440, h: 36 })).toBeGreaterThan(50);
  });

  it("lists the owner's Spotify devices with the cursor and the active one, and says what to do with none", async () => {
    const screen = new SpotifyDevicesScreen({ refresh: () => undefined, pick: () => undefined });
    const host = { state: baseState(), show: () => undefined, invalidate: () => undefined, react: () => undefined, markRead: () => undefined };
    const asking = await png(screen, baseState());
    screen.show([]);
    const none = await png(screen, baseState());
    const text = { x: 0, y: 90, w: 480, h: 60 };
    expect(differing(asking, none, text)).toBeGreaterThan(200);
    screen.show([
      { id: 'a', name: 'Phone', type: 'Smartphone', isActive: true },
      { id: 'b', name: 'Speaker', type: 'Speaker', isActive: false },
    ]);
    const listed = await png(screen, baseState());
    // Each row with its outline (2 px wide), and nothing of the next row's: rows are 40 px with 4 px between.
    const firstRow = { x: 10, y: 30 + 44 - 2, w: 460, h: 44 };
    const secondRow = { x: 10, y: 30 + 88 - 2, w: 460, h: 44 };
    // The cursor (accent outline) is on the active device, which is marked as playing in green.
    expect(countColor(listed, hex(COLORS.accent), firstRow)).toBeGreaterThan(100);
    expect(countColor(listed, hex(COLORS.online), firstRow)).toBeGreaterThan(20);
    expect(countColor(listed, hex(COLORS.accent), secondRow)).toBe(0);
    screen.onButton({ kind: 'press', button: 'next', at: NOW }, host);
    const moved = await png(screen, baseState());
    expect(countColor(moved, hex(COLORS.accent), secondRow)).toBeGreaterThan(100);
    expect(countColor(moved, hex(COLORS.accent), firstRow)).toBe(0);
  });

  it('shows unread badges on the crew screen until the items are read', async () => {
    const screen = new CrewScreen();
    const withText = applyEvent(baseState(), message(1, 'dev-b', 'Ana', { msg_type: 'text', payload: { text: 'hi' } }));
    const unread = await png(screen, withText);
    const read = await png(screen, markRead(withText, ['text']));
    expect(countColor(unread, hex(COLORS.accent), BODY)).toBeGreaterThan(200);
    expect(countColor(read, hex(COLORS.accent), BODY)).toBe(0);
    // Reading the text clears the badge, so the region changes too.
    expect(differing(unread, read, BODY)).toBeGreaterThan(100);
  });

  it('draws texts, nudges and hang proposals as separate cards', async () => {
    const screen = new MessagesScreen();
    let state = baseState();
    const empty = await png(screen, state);
    state = applyEvent(state, message(1, 'dev-b', 'Ana', { msg_type: 'text', payload: { text: 'records at mine tonight?' } }));
    const one = await png(screen, state);
    state = applyEvent(state, message(2, 'dev-c', 'Marco', { msg_type: 'nudge', payload: {} }));
    state = applyEvent(
      state,
      message(3, 'dev-b', 'Ana', { msg_type: 'hang_propose', payload: { datetime: '2025-06-06T19:30:00+02:00', description: 'Pizza' } }),
    );
    const three = await png(screen, state);
    expect(differing(empty, one, BODY)).toBeGreaterThan(2000);
    // The newest card is on top; the first message moved down to the third slot.
    expect(differing(one, three, { x: 0, y: 180, w: 480, h: 60 })).toBeGreaterThan(2000);
  });

  it('animates an incoming reaction over several distinct frames that fade out', async () => {
    const state = applyEvent(
      applyEvent(baseState(), share(1, 'Track')),
      message(2, 'dev-c', 'Marco', { msg_type: 'reaction', payload: { reaction: 'love', to_device: 'dev-b' } }),
    );
    expect(state.flash).toMatchObject({ reaction: 'love', fromName: 'Marco' });
    const screen = new ShareScreen();
    const plain = await png(screen, state);
    const early = await png(screen, state, { progress: 0.1 });
    const middle = await png(screen, state, { progress: 0.5 });
    const done = await png(screen, state, { progress: 1 });
    expect(countColor(middle, hex(COLORS.love), BODY)).toBeGreaterThan(countColor(plain, hex(COLORS.love), BODY) + 2000);
    expect(differing(early, middle, BODY)).toBeGreaterThan(1000);
    expect(differing(plain, done, BODY)).toBe(0);
  });

  it('shows the crew code in the menu, plus entries other parts register', async () => {
    const registry = new ScreenRegistry().addMenuEntry(CREW_CODE_ENTRY);
    const menu = new MenuScreen(registry);
    const before = await png(menu, baseState());
    registry.addMenuEntry({ id: 'spotify', order: 20, label: () => 'Re-pair Spotify' });
    const after = await png(menu, baseState());
    expect(countColor(before, hex(COLORS.accent), { x: 0, y: 40, w: 480, h: 60 })).toBeGreaterThan(100);
    expect(differing(before, after, { x: 0, y: 100, w: 480, h: 60 })).toBeGreaterThan(500);
    expect(() => registry.addMenuEntry(CREW_CODE_ENTRY)).toThrow(/already registered/);
  });

  it('keeps the daemon drawing when a screen throws', async () => {
    const broken: Screen = {
      id: 'broken',
      title: 'Broken',
      draw: () => {
        throw new Error('boom');
      },
    };
    const pixel = await png(broken, baseState());
    expect(countColor(pixel, hex(COLORS.error), BODY)).toBeGreaterThan(10);
    expect(countColor(pixel, hex(COLORS.online), STRIPE)).toBeGreaterThan(1400);
  });
});
