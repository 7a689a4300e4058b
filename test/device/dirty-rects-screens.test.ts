import { describe, expect, it } from 'vitest';
import type { OutboundMessage } from '../../protocol/index.js';
import { copyOf } from '../../device/crew-clock.js';
import { findDirtyRects, type Image } from '../../device/dirty-rects.js';
import type { Frame, Rect } from '../../device/hardware.js';
import { convertFrame } from '../../device/rgb565.js';
import { NowPlayingScreen } from '../../device/screens/now-playing.js';
import { QueueScreen } from '../../device/screens/queue.js';
import { ScreenRenderer } from '../../device/screens/renderer.js';
import type { Screen } from '../../device/screens/screen.js';
import { ShareScreen } from '../../device/screens/share.js';
import { CrewScreen } from '../../device/screens/crew.js';
import { applyEvent, initialState, withConnection, withCrew, type DeviceState } from '../../device/state.js';
import { expectCovers } from '../helpers/dirty-cover.js';

/* The dirty-rectangle logic on the gadget's own screens, drawn by the real renderer. */

const NOW = Date.UTC(2026, 10, 22, 18, 0, 0);
const OVERHEAD = 512;
const FULL = 480 * 320;
const renderer = new ScreenRenderer();

function message(seq: number, body: Record<string, unknown>): OutboundMessage {
  return { type: 'message', from_device: 'dev-b', from_name: 'Ana', timestamp: NOW - 60_000, seq, crew_code: 'LEELOO-7KQ2', ...body } as OutboundMessage;
}

function shareOf(seq: number, track: string, artist: string): OutboundMessage {
  return message(seq, {
    msg_type: 'song_push',
    payload: { artist, track, album: 'Album', spotify_uri: 'spotify:track:5W3cjX2J3tjhG8zb6u0qHn', album_art_url: '', note: 'listen' },
  });
}

function crewState(): DeviceState {
  let s: DeviceState = { ...initialState('Kitchen', 'ws://relay'), deviceId: 'dev-a' };
  s = withConnection(s, { status: 'online', detail: 'Connected.', retryAt: null });
  s = withCrew(s, {
    crew_code: 'LEELOO-7KQ2',
    crew_name: 'Friday',
    owner_device_id: 'dev-a',
    latest_seq: 0,
    members: [
      { device_id: 'dev-a', display_name: 'Kitchen', online: true, is_owner: true },
      { device_id: 'dev-b', display_name: 'Ana', online: true, is_owner: false },
    ],
  });
  return applyEvent(s, shareOf(1, 'Digital Love', 'Daft Punk'));
}

const state = crewState();

function image(screen: Screen, s: DeviceState = state, now = NOW, overlay: number | null = null): Image {
  const flash = s.flash;
  const frame: Frame = renderer.render({ screen, state: s, now, overlay: overlay !== null && flash ? { flash, progress: overlay } : null });
  return { width: frame.width, height: frame.height, bytesPerPixel: 2, data: convertFrame(frame, 'rgb565be') };
}

function update(prev: Image, next: Image): { rects: Rect[]; pixels: number } {
  const rects = findDirtyRects(prev, next, { windowOverheadBytes: OVERHEAD });
  expectCovers(prev, next, rects);
  return { rects, pixels: rects.reduce((sum, r) => sum + r.w * r.h, 0) };
}

describe('dirty rectangles on the real screens', () => {
  it('sends a sliver for a now-playing progress tick', () => {
    const screen = new NowPlayingScreen({ share: () => undefined, signIn: () => undefined });
    screen.link = 'signed_in';
    screen.playing = {
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
    const { pixels } = update(image(screen), image(screen, state, NOW + 1_000));
    expect(pixels).toBeGreaterThan(0);
    expect(pixels).toBeLessThan(FULL * 0.02);
  });

  it('sends a sliver for the crew queue clock', () => {
    const screen = new QueueScreen({ vote: () => undefined, jam: () => undefined });
    const item = {
      item_id: 'q_dirty00000001',
      spotify_uri: 'spotify:track:67Hna13dNDkZvBpTXRIaOJ',
      track: 'Teardrop',
      artist: 'Massive Attack',
      album: '',
      album_art_url: '',
      duration_ms: 330_000,
      added_by: 'dev-b',
      added_by_name: 'Ana',
      added_at: NOW - 100_000,
      round: 1,
      score: 0,
      voted_up: [],
      voted_down: [],
      jammed_by: [],
      throwback: false,
    };
    screen.queue = copyOf(
      {
        now_playing: { ...item, started_at: NOW - 95_000, clock_duration_ms: 330_000, paused_at: null, position_ms: 95_000, skip_votes: [] },
        up_next: [],
        throwback: false,
        version: 1,
        server_time: NOW,
      },
      NOW,
    );
    const { pixels } = update(image(screen), image(screen, state, NOW + 1_000));
    expect(pixels).toBeGreaterThan(0);
    expect(pixels).toBeLessThan(FULL * 0.02);
  });

  it('covers an incoming share and the frames of its reaction animation exactly, with less than the whole screen', () => {
    const screen = new ShareScreen();
    const incoming = applyEvent(state, shareOf(2, 'Hyperballad', 'Björk'));
    const share = update(image(screen), image(screen, incoming));
    expect(share.pixels).toBeLessThan(FULL * 0.6);

    const reacted = applyEvent(incoming, message(3, { msg_type: 'reaction', payload: { reaction: 'fire', to_device: 'dev-a' } }));
    const frame = update(image(screen, reacted, NOW, 0.5), image(screen, reacted, NOW, 0.55));
    expect(frame.pixels).toBeGreaterThan(0);
    expect(frame.pixels).toBeLessThan(FULL * 0.25);
  });

  it('still covers a change of screen exactly, however much changed', () => {
    update(image(new ShareScreen()), image(new CrewScreen()));
  });

  it('sends nothing when a screen is redrawn unchanged', () => {
    expect(findDirtyRects(image(new CrewScreen()), image(new CrewScreen()), { windowOverheadBytes: OVERHEAD })).toEqual([]);
  });
});
