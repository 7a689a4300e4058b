import type { SKRSContext2D } from '@napi-rs/canvas';
import type { ButtonEvent } from '../hardware.js';
import type { Screen, ScreenHost, ScreenView } from './screen.js';
import { COLORS, drawNotice, fitText, font, roundRect, wrapText, type Notice } from './theme.js';

/** A Spotify Connect device of the owner, as the picker lists it. */
export interface PickableDevice {
  /** Null: Spotify lists it but cannot address it (it is shown, not offered). */
  readonly id: string | null;
  readonly name: string;
  readonly type: string;
  readonly isActive: boolean;
}

export interface DevicePickerActions {
  /** Asks Spotify for the owner's devices again. */
  refresh(): void;
  /** Makes the device the owner's active player, playing there. */
  pick(device: PickableDevice): void;
}

const ROW = { top: 44, height: 40, gap: 4, visible: 5 } as const;
const HINT = '◀ ▶ select · OK play here · hold: menu';

/**
 * "Play on…": the owner's Spotify Connect devices (phones, computers, speakers signed in to
 * the account), the active one marked; prev/next move the cursor, the main button moves the
 * owner's playback there. With none listed, it says how to make one appear and the main
 * button looks again.
 */
export class SpotifyDevicesScreen implements Screen {
  readonly id = 'spotify_devices';
  readonly title = 'Play on…';
  /** Null while asking Spotify. */
  devices: readonly PickableDevice[] | null = null;
  /** Why the list is empty or stale (Spotify's refusal), or null. */
  message: string | null = null;
  notice: Notice | null = null;
  private cursor = 0;

  constructor(private readonly actions: DevicePickerActions) {}

  /** The devices the cursor moves over: the ones Spotify can address. */
  private choices(): readonly PickableDevice[] {
    return (this.devices ?? []).filter((d) => d.id !== null);
  }

  /** A fresh list: the cursor starts on the active device. */
  show(devices: readonly PickableDevice[]): void {
    this.devices = devices;
    this.message = null;
    this.cursor = Math.max(
      0,
      this.choices().findIndex((d) => d.isActive),
    );
  }

  get selected(): PickableDevice | null {
    return this.choices()[this.cursor] ?? null;
  }

  draw(g: SKRSContext2D, { area, now }: ScreenView): void {
    g.textAlign = 'left';
    g.textBaseline = 'alphabetic';
    g.fillStyle = COLORS.text;
    g.font = font(18, 'bold');
    g.fillText('Play your Spotify on…', area.x + 16, area.y + 28);
    const choices = this.choices();
    if (this.devices === null || choices.length === 0) {
      const text =
        this.message ??
        (this.devices === null
          ? 'Asking Spotify for your devices…'
          : 'No Spotify device is on. Open Spotify on your phone, computer or speaker, then press OK to look again.');
      g.fillStyle = COLORS.muted;
      g.font = font(15);
      wrapText(g, text, area.w - 32, 6).forEach((line, i) => g.fillText(line, area.x + 16, area.y + 64 + i * 21));
    } else {
      const first = Math.max(0, Math.min(this.cursor - ROW.visible + 1, choices.length - ROW.visible));
      choices.slice(first, first + ROW.visible).forEach((device, i) => {
        const y = area.y + ROW.top + i * (ROW.height + ROW.gap);
        const selected = first + i === this.cursor;
        g.fillStyle = selected ? COLORS.panelLight : COLORS.panel;
        g.beginPath();
        roundRect(g, area.x + 12, y, area.w - 24, ROW.height, 8);
        g.fill();
        if (selected) {
          g.strokeStyle = COLORS.accent;
          g.lineWidth = 2;
          g.stroke();
        }
        g.fillStyle = COLORS.text;
        g.font = font(16, selected ? 'bold' : 'normal');
        g.fillText(fitText(g, device.name, area.w - 190), area.x + 24, y + 26);
        g.fillStyle = device.isActive ? COLORS.online : COLORS.muted;
        g.font = font(13);
        g.textAlign = 'right';
        g.fillText(device.isActive ? '▶ playing here' : device.type, area.x + area.w - 24, y + 26);
        g.textAlign = 'left';
      });
      if (this.message) {
        g.fillStyle = COLORS.error;
        g.font = font(13);
        g.fillText(fitText(g, this.message, area.w - 32), area.x + 16, area.y + area.h - 30);
      }
    }
    g.fillStyle = COLORS.muted;
    g.font = font(12);
    g.fillText(HINT, area.x + 16, area.y + area.h - 10);
    if (this.notice && this.notice.until > now) drawNotice(g, area, this.notice, { bottom: 24, size: 14 });
  }

  onButton(event: ButtonEvent, host: ScreenHost): boolean {
    if (event.kind !== 'press') return false;
    const choices = this.choices();
    if (event.button === 'next' || event.button === 'prev') {
      if (choices.length === 0) return false;
      this.cursor = (this.cursor + (event.button === 'next' ? 1 : choices.length - 1)) % choices.length;
      host.invalidate();
      return true;
    }
    if (event.button !== 'primary') return false;
    const device = this.selected;
    if (device) this.actions.pick(device);
    else this.actions.refresh();
    return true;
  }
}
