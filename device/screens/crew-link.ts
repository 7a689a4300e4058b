import type { SKRSContext2D } from '@napi-rs/canvas';
import type { ButtonEvent } from '../hardware.js';
import { drawQrWaiting, drawQrWithHeading } from './qr-code.js';
import type { Screen, ScreenHost, ScreenView } from './screen.js';
import { COLORS, fitText, font, wrapText } from './theme.js';

export interface CrewLink {
  readonly url: string;
  readonly expiresAt: number;
}

/** What the QR opens: the crew page, or (for the crew owner) its "Spotify app for this crew" section. */
export type CrewLinkPurpose = 'crew_page' | 'spotify_app';

const PURPOSES: Record<CrewLinkPurpose, { heading: string; text: string; fragment: string }> = {
  crew_page: {
    heading: 'Scan to open your crew page',
    text: 'Queue, votes, stats and history import, on your phone. The link is yours: do not share it.',
    fragment: '',
  },
  spotify_app: {
    heading: "Scan to set up the crew's Spotify app",
    text: 'A Spotify app signs in five people. Give the crew its own: steps, redirect URI and who is signed in, on your phone.',
    fragment: '#spotify-app',
  },
};

/**
 * "Crew page on your phone": the signed member link the relay issued, as a QR code,
 * with how long it stays valid. The main button asks for a fresh link.
 */
export class CrewLinkScreen implements Screen {
  readonly id = 'crew_link';
  readonly title = 'Crew page';
  link: CrewLink | null = null;
  purpose: CrewLinkPurpose = 'crew_page';
  /** Why there is no link to show (waiting for the relay, or its error). */
  message = 'Asking the relay for a link to your crew page…';

  constructor(private readonly renew: () => void) {}

  draw(g: SKRSContext2D, { area, now }: ScreenView): void {
    g.textAlign = 'left';
    g.textBaseline = 'alphabetic';
    const link = this.link;
    if (!link || link.expiresAt <= now) {
      drawQrWaiting(g, area, link ? 'This link has expired. Press the main button for a new one.' : this.message);
      return;
    }
    const purpose = PURPOSES[this.purpose];
    const { x: tx, width: tw } = drawQrWithHeading(g, area, this.qrUrl()!, purpose.heading);
    g.fillStyle = COLORS.muted;
    g.font = font(13);
    wrapText(g, purpose.text, tw, 5).forEach((line, i) => g.fillText(line, tx, area.y + 104 + i * 17));
    g.fillStyle = COLORS.accent;
    g.font = font(15, 'bold');
    g.fillText(fitText(g, `Valid ${validFor(link.expiresAt - now)}`, tw), tx, area.y + 222);
  }

  /** What the QR code holds: the signed link, at the purpose's section of the page. */
  qrUrl(): string | null {
    return this.link ? this.link.url + PURPOSES[this.purpose].fragment : null;
  }

  onButton(event: ButtonEvent, _host: ScreenHost): boolean {
    if (event.kind !== 'press' || event.button !== 'primary') return false;
    this.renew();
    return true;
  }
}

/** "for 6 more days", "for 5 more hours", "for 12 more minutes". */
export function validFor(ms: number): string {
  const minutes = Math.max(1, Math.floor(ms / 60_000));
  if (minutes >= 48 * 60) return `for ${Math.floor(minutes / 1440)} more days`;
  if (minutes >= 120) return `for ${Math.floor(minutes / 60)} more hours`;
  return `for ${minutes} more minute${minutes === 1 ? '' : 's'}`;
}
