import type { Image, SKRSContext2D } from '@napi-rs/canvas';
import type { ButtonEvent } from '../hardware.js';
import type { Screen, ScreenHost, ScreenView } from './screen.js';
import { latestShare, type ShareItem } from '../state.js';
import { drawAlbumArt } from './album-art.js';
import { COLORS, drawReactionIcon, fitText, font, roundRect, wrapText } from './theme.js';

/** Looks up a downloaded album-art image; the Spotify part supplies one, otherwise none. */
export type ArtLookup = (url: string) => Image | null;

/** The newest shared track: art, title, who pushed it, their note, and reactions on it. */
export class ShareScreen implements Screen {
  readonly id = 'share';
  readonly title = 'Shared';
  readonly order = 30;

  constructor(private readonly art: ArtLookup = () => null) {}

  draw(g: SKRSContext2D, { state, area }: ScreenView): void {
    const share = latestShare(state);
    g.textBaseline = 'alphabetic';
    g.textAlign = 'left';
    if (!share) {
      g.fillStyle = COLORS.muted;
      g.font = font(18);
      g.textAlign = 'center';
      g.fillText('Nothing shared yet', area.x + area.w / 2, area.y + area.h / 2 - 10);
      g.font = font(13);
      g.fillText('Tracks your crew shares show up here.', area.x + area.w / 2, area.y + area.h / 2 + 14);
      g.textAlign = 'left';
      return;
    }
    const artSize = 150;
    const artY = area.y + 20;
    drawAlbumArt(g, { x: area.x + 20, y: artY, size: artSize }, share.share, share.share.album_art_url ? this.art(share.share.album_art_url) : null);
    this.drawText(g, share, area.x + 20 + artSize + 20, artY, area.w - artSize - 60);
    this.drawReactions(g, share, area.x + 20, area.y + area.h - 46, area.w - 40);
  }

  private drawText(g: SKRSContext2D, share: ShareItem, x: number, y: number, w: number): void {
    g.fillStyle = COLORS.accent;
    g.font = font(13, 'bold');
    g.fillText(fitText(g, share.mine ? 'you shared' : `pushed by ${share.fromName}`, w), x, y + 14);
    g.fillStyle = COLORS.text;
    g.font = font(22, 'bold');
    wrapText(g, share.share.track, w, 2).forEach((line, i) => g.fillText(line, x, y + 44 + i * 26));
    g.font = font(16);
    g.fillStyle = COLORS.text;
    g.fillText(fitText(g, share.share.artist, w), x, y + 102);
    g.fillStyle = COLORS.muted;
    g.font = font(14);
    if (share.share.album) g.fillText(fitText(g, share.share.album, w), x, y + 122);
    if (share.share.note) {
      g.fillStyle = COLORS.text;
      g.font = `italic ${font(14)}`;
      wrapText(g, `“${share.share.note}”`, w, 2).forEach((line, i) => g.fillText(line, x, y + 146 + i * 18));
    }
  }

  private drawReactions(g: SKRSContext2D, share: ShareItem, x: number, y: number, w: number): void {
    g.fillStyle = COLORS.panel;
    roundRect(g, x, y, w, 36, 10);
    g.fill();
    const counts = { love: 0, fire: 0 };
    for (const r of share.reactions) counts[r.reaction]++;
    let cx = x + 22;
    for (const reaction of ['love', 'fire'] as const) {
      drawReactionIcon(g, reaction, cx, y + 18, 20);
      g.fillStyle = COLORS.text;
      g.font = font(15, 'bold');
      g.fillText(String(counts[reaction]), cx + 16, y + 24);
      cx += 62;
    }
    const names = [...new Set(share.reactions.map((r) => r.fromName))].join(', ');
    g.fillStyle = COLORS.muted;
    g.font = font(12);
    g.fillText(fitText(g, names || 'no reactions yet', w - 150 - 130), x + 145, y + 23);
    if (share.mine) return;
    g.textAlign = 'right';
    g.fillText('OK = love · 2nd = fire', x + w - 12, y + 23);
    g.textAlign = 'left';
  }

  onButton(event: ButtonEvent, host: ScreenHost): boolean {
    if (event.kind !== 'press') return false;
    if (event.button === 'primary') host.react('love');
    else if (event.button === 'secondary') host.react('fire');
    else return false;
    return true;
  }

  onShow(host: ScreenHost): void {
    host.markRead(['share']);
  }
}
