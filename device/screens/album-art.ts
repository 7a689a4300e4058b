import type { Image, SKRSContext2D } from '@napi-rs/canvas';
import { COLORS, colorFor, font, initials, roundRect } from './theme.js';

/**
 * Draws album art in a rounded box: the image when one is at hand, otherwise a
 * placeholder coloured and lettered from the track, so every share looks distinct.
 */
export function drawAlbumArt(
  g: SKRSContext2D,
  box: { x: number; y: number; size: number },
  track: { track: string; artist: string },
  image: Image | null,
): void {
  const { x, y, size } = box;
  g.save();
  roundRect(g, x, y, size, size, 12);
  g.clip();
  if (image) {
    g.drawImage(image, x, y, size, size);
  } else {
    const base = colorFor(`${track.artist}/${track.track}`);
    const gradient = g.createLinearGradient(x, y, x + size, y + size);
    gradient.addColorStop(0, base);
    gradient.addColorStop(1, COLORS.panel);
    g.fillStyle = gradient;
    g.fillRect(x, y, size, size);
    g.fillStyle = 'rgba(255,255,255,0.9)';
    g.font = font(Math.round(size * 0.36), 'bold');
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText(initials(track.track), x + size / 2, y + size / 2);
    g.textAlign = 'left';
  }
  g.restore();
}
