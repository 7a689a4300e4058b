import type { SKRSContext2D } from '@napi-rs/canvas';
import type { ButtonEvent } from '../hardware.js';
import { drawQrWaiting, drawQrWithHeading } from './qr-code.js';
import type { Screen, ScreenHost, ScreenView } from './screen.js';
import { COLORS, fitText, font } from './theme.js';

export interface SigninSession {
  readonly url: string;
  readonly code: string;
  readonly expiresAt: number;
}

/** The sign-in hand-off on the gadget: a QR code of the short link, the code, the time left. */
export class SignInScreen implements Screen {
  readonly id = 'sign_in';
  readonly title = 'Spotify sign-in';
  session: SigninSession | null = null;
  /** Why there is no code to show (waiting for the relay, or its error). */
  message = 'Asking the relay for a sign-in code…';

  /** `restart` asks the relay for a new session (after expiry, or from the button). */
  constructor(private readonly restart: () => void) {}

  draw(g: SKRSContext2D, { area, now }: ScreenView): void {
    g.textAlign = 'left';
    g.textBaseline = 'alphabetic';
    const session = this.session;
    if (!session || session.expiresAt <= now) {
      drawQrWaiting(g, area, session ? 'The code expired. Press the main button for a new one.' : this.message);
      return;
    }
    const { x: tx, width: tw } = drawQrWithHeading(g, area, session.url, 'Scan with your phone to connect Spotify');
    g.fillStyle = COLORS.muted;
    g.font = font(13);
    g.fillText('or open the link and enter', tx, area.y + 132);
    g.fillText(fitText(g, session.url.replace(/^https?:\/\//, '').replace(/\/s\/.*$/, '/s'), tw), tx, area.y + 150);
    g.fillStyle = COLORS.accent;
    g.font = font(28, 'bold');
    g.fillText(session.code, tx, area.y + 190);
    g.fillStyle = COLORS.muted;
    g.font = font(14);
    g.fillText(`Expires in ${timeLeft(session.expiresAt - now)}`, tx, area.y + 222);
  }

  onButton(event: ButtonEvent, _host: ScreenHost): boolean {
    if (event.kind !== 'press' || event.button !== 'primary') return false;
    this.restart();
    return true;
  }
}

export function timeLeft(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
