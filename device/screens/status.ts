import type { Screen, ScreenView } from './screen.js';
import type { SKRSContext2D } from '@napi-rs/canvas';
import { connectionColor, connectionLabel } from './status-bar.js';
import { COLORS, fitText, font, wrapText } from './theme.js';

/** Boot/status: who this gadget is, where it connects, and what is wrong if anything. */
export class StatusScreen implements Screen {
  readonly id = 'status';
  readonly title = 'LEELOO';
  readonly order = 10;

  draw(g: SKRSContext2D, { state, area, now }: ScreenView): void {
    const { x, y, w } = area;
    g.textBaseline = 'alphabetic';
    g.textAlign = 'center';
    g.fillStyle = COLORS.accent;
    g.font = font(44, 'bold');
    g.fillText('LEELOO', x + w / 2, y + 62);
    g.fillStyle = COLORS.muted;
    g.font = font(15);
    g.fillText('music with your crew', x + w / 2, y + 86);

    const color = connectionColor(state.connection);
    g.fillStyle = color;
    g.font = font(20, 'bold');
    g.fillText(connectionLabel(state.connection, now), x + w / 2, y + 130);
    g.fillStyle = COLORS.text;
    g.font = font(14);
    const detail = wrapText(g, state.connection.detail, w - 60, 2);
    detail.forEach((line, i) => g.fillText(line, x + w / 2, y + 156 + i * 18));

    g.textAlign = 'left';
    const rows: [string, string][] = [
      ['Device', state.deviceName],
      ['Crew', state.crew ? `${state.crew.code}  ·  ${state.crew.members.length} members` : 'not in a crew yet'],
      ['Relay', state.relayUrl],
      ['Unsent', state.outboxPending === 0 ? 'nothing waiting' : `${state.outboxPending} waiting for the relay`],
    ];
    rows.forEach(([label, value], i) => this.row(g, x + 40, y + 206 + i * 20, w - 80, label, value));
  }

  private row(g: SKRSContext2D, x: number, y: number, w: number, label: string, value: string): void {
    g.font = font(13);
    g.fillStyle = COLORS.muted;
    g.fillText(label, x, y);
    g.fillStyle = COLORS.text;
    g.fillText(fitText(g, value, w - 80), x + 80, y);
  }
}
