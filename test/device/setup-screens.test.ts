import { describe, expect, it } from 'vitest';
import { wifiQrText } from '../../device/hotspot.js';
import { ScreenRenderer } from '../../device/screens/renderer.js';
import { SetupScreen, type SetupStep } from '../../device/screens/setup.js';
import { COLORS } from '../../device/screens/theme.js';
import { initialState } from '../../device/state.js';
import { readFrameQr } from '../helpers/frame-qr.js';

const NOW = 1_750_000_000_000;
const renderer = new ScreenRenderer();
const state = initialState('LEELOO', 'wss://relay.example.com/ws');

function render(step: SetupStep) {
  const screen = new SetupScreen();
  screen.step = step;
  const frame = renderer.render({ screen, state, now: NOW });
  return { frame, text: (frame.text ?? []).join(' | '), title: screen.title };
}

/** Pixels near a colour in the body (below the status bar). */
function pixelsOf(frame: ReturnType<typeof render>['frame'], color: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16)) as [number, number, number];
  let count = 0;
  for (let i = 480 * 30 * 4; i < frame.data.length; i += 4) {
    if (Math.abs((frame.data[i] as number) - r) + Math.abs((frame.data[i + 1] as number) - g) + Math.abs((frame.data[i + 2] as number) - b) < 40) count++;
  }
  return count;
}

const HOTSPOT = { ssid: 'LEELOO-7KQ2', password: 'HXRT4MNP9Q' };

describe('the Wi-Fi QR text', () => {
  it('escapes \\ ; , : and " in the name and the password', () => {
    expect(wifiQrText({ ssid: 'a\\b;c,d:e"f', password: 'p;w:"' })).toBe('WIFI:T:WPA;S:a\\\\b\\;c\\,d\\:e\\"f;P:p\\;w\\:\\";;');
    expect(wifiQrText(HOTSPOT)).toBe('WIFI:T:WPA;S:LEELOO-7KQ2;P:HXRT4MNP9Q;;');
  });
});

describe('the setup screens', () => {
  it('the access point step: a QR a phone reads as the Wi-Fi, its name, password and the setup address', () => {
    const { frame, text } = render({ kind: 'hotspot', hotspot: HOTSPOT, url: 'http://10.42.0.1/', error: null });
    expect(readFrameQr(frame)).toBe('WIFI:T:WPA;S:LEELOO-7KQ2;P:HXRT4MNP9Q;;');
    expect(text).toContain('LEELOO-7KQ2');
    expect(text).toContain('HXRT4MNP9Q');
    expect(text).toContain('10.42.0.1');
    expect(pixelsOf(frame, COLORS.error)).toBe(0);
  });

  it('a failed home network: the same QR plus the reason in red', () => {
    const { frame, text } = render({ kind: 'hotspot', hotspot: HOTSPOT, url: 'http://10.42.0.1/', error: '"Home" refused the password; type it again.' });
    expect(readFrameQr(frame)).toBe('WIFI:T:WPA;S:LEELOO-7KQ2;P:HXRT4MNP9Q;;');
    expect(text).toContain('refused the');
    expect(pixelsOf(frame, COLORS.error)).toBeGreaterThan(100);
  });

  it('scanning, joining with a moving bar, connected, reset, unavailable, boot hold', () => {
    expect(render({ kind: 'scanning' }).text).toContain('Looking for Wi-Fi networks');
    const early = render({ kind: 'connecting', ssid: 'Home', startedAt: NOW - 100 });
    const later = render({ kind: 'connecting', ssid: 'Home', startedAt: NOW - 1100 });
    expect(early.text).toContain('Joining “Home”…');
    let moved = 0;
    for (let i = 0; i < early.frame.data.length; i++) if (early.frame.data[i] !== later.frame.data[i]) moved++;
    expect(moved).toBeGreaterThan(100);
    const connected = render({ kind: 'connected', ssid: 'Home' });
    expect(connected.text).toContain('Connected to “Home”');
    expect(pixelsOf(connected.frame, COLORS.online)).toBeGreaterThan(2000);
    const reset = render({ kind: 'reset', done: true });
    expect(reset.title).toBe('Factory reset');
    expect(reset.text).toContain('Factory reset done');
    expect(render({ kind: 'unavailable', reason: 'nmcli is not installed.' }).text).toContain('nmcli is not installed.');
    expect(render({ kind: 'boot_hold', heldMs: 1000, setupAtMs: 3000, resetAtMs: 10_000 }).text).toContain('Keep holding ◀ and ▶');
    expect(render({ kind: 'boot_hold', heldMs: 4000, setupAtMs: 3000, resetAtMs: 10_000 }).text).toContain('6 s more to erase everything');
  });
});
