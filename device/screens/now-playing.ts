import type { SKRSContext2D } from '@napi-rs/canvas';
import type { ButtonEvent } from '../hardware.js';
import { drawAlbumArt } from './album-art.js';
import type { Screen, ScreenHost, ScreenView } from './screen.js';
import type { ArtLookup } from './share.js';
import { COLORS, drawNotice, fitText, font, roundRect, wrapText, type Notice } from './theme.js';

/** What the now-playing screen shows; progress is interpolated from `fetchedAt`. */
export interface NowPlaying {
  readonly uri: string;
  readonly track: string;
  readonly artist: string;
  readonly album: string;
  readonly artUrl: string | null;
  readonly durationMs: number;
  readonly progressMs: number;
  readonly isPlaying: boolean;
  /** Clock time the progress was read at. */
  readonly fetchedAt: number;
}

/** Where the progress bar is now, without a request. */
export function progressAt(playing: NowPlaying, now: number): number {
  if (!playing.isPlaying) return playing.progressMs;
  return Math.min(playing.durationMs, playing.progressMs + Math.max(0, now - playing.fetchedAt));
}

/** not_configured: the relay has no Spotify app for this crew, so nobody can sign in yet. */
export type SpotifyLinkState = 'unknown' | 'signed_out' | 'signed_in' | 'not_configured';

export type { Notice };

export interface NowPlayingActions {
  /** Primary press: share what is playing with the crew. */
  share(): void;
  /** Primary press while signed out: start the sign-in. */
  signIn(): void;
}

export const ART_BOX = 160;

/** What the owner is playing: art, track, artist, album and a progress bar that moves between polls. */
export class NowPlayingScreen implements Screen {
  readonly id = 'now_playing';
  readonly title = 'Now playing';
  readonly order = 5;
  playing: NowPlaying | null = null;
  link: SpotifyLinkState = 'unknown';
  notice: Notice | null = null;

  constructor(
    private readonly actions: NowPlayingActions,
    private readonly art: ArtLookup = () => null,
  ) {}

  draw(g: SKRSContext2D, { area, now }: ScreenView): void {
    g.textAlign = 'left';
    g.textBaseline = 'alphabetic';
    if (this.link === 'signed_out') this.drawCentered(g, area, 'Spotify is not connected', 'Press the main button to sign in with your phone.');
    else if (this.link === 'not_configured') {
      this.drawCentered(
        g,
        area,
        'Spotify is not set up on this relay',
        "Its operator sets SPOTIFY_CLIENT_ID, or the crew owner registers the crew's own Spotify app.",
      );
    } else if (!this.playing) this.drawCentered(g, area, 'Nothing playing', 'Play something on Spotify; it shows up here.');
    else this.drawTrack(g, area, this.playing, now);
    if (this.notice && this.notice.until > now) drawNotice(g, area, this.notice, { bottom: 8, size: 15 });
  }

  onButton(event: ButtonEvent, _host: ScreenHost): boolean {
    if (event.kind !== 'press' || event.button !== 'primary') return false;
    // Asking again is how a gadget learns that the crew owner has since registered an app.
    if (this.link === 'signed_out' || this.link === 'not_configured') this.actions.signIn();
    else this.actions.share();
    return true;
  }

  private drawTrack(g: SKRSContext2D, area: ScreenView['area'], playing: NowPlaying, now: number): void {
    const x = area.x + 20;
    const y = area.y + 18;
    drawAlbumArt(g, { x, y, size: ART_BOX }, { track: playing.track, artist: playing.artist }, playing.artUrl ? this.art(playing.artUrl) : null);
    const tx = x + ART_BOX + 20;
    const tw = area.x + area.w - tx - 20;
    g.fillStyle = COLORS.text;
    g.font = font(22, 'bold');
    wrapText(g, playing.track, tw, 2).forEach((line, i) => g.fillText(line, tx, y + 26 + i * 28));
    g.fillStyle = COLORS.text;
    g.font = font(17);
    g.fillText(fitText(g, playing.artist, tw), tx, y + 96);
    g.fillStyle = COLORS.muted;
    g.font = font(15);
    g.fillText(fitText(g, playing.album, tw), tx, y + 122);
    g.fillText(playing.isPlaying ? '▶ playing' : '❚❚ paused', tx, y + 150);
    this.drawProgress(g, { x, y: y + ART_BOX + 26, w: area.w - 40 }, playing, now);
  }

  private drawProgress(g: SKRSContext2D, bar: { x: number; y: number; w: number }, playing: NowPlaying, now: number): void {
    const progress = progressAt(playing, now);
    const fraction = playing.durationMs > 0 ? progress / playing.durationMs : 0;
    g.fillStyle = COLORS.panelLight;
    roundRect(g, bar.x, bar.y, bar.w, 8, 4);
    g.fill();
    g.fillStyle = COLORS.accent;
    roundRect(g, bar.x, bar.y, Math.max(8, bar.w * fraction), 8, 4);
    g.fill();
    g.fillStyle = COLORS.muted;
    g.font = font(13);
    g.fillText(clock(progress), bar.x, bar.y + 26);
    g.textAlign = 'right';
    g.fillText(clock(playing.durationMs), bar.x + bar.w, bar.y + 26);
    g.textAlign = 'left';
  }

  private drawCentered(g: SKRSContext2D, area: ScreenView['area'], title: string, detail: string): void {
    g.textAlign = 'center';
    g.fillStyle = COLORS.text;
    g.font = font(22, 'bold');
    g.fillText(title, area.x + area.w / 2, area.y + area.h / 2 - 12);
    g.fillStyle = COLORS.muted;
    g.font = font(15);
    wrapText(g, detail, area.w - 60, 2).forEach((line, i) => g.fillText(line, area.x + area.w / 2, area.y + area.h / 2 + 18 + i * 20));
    g.textAlign = 'left';
  }
}

function clock(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
