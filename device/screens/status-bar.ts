import type { SKRSContext2D } from '@napi-rs/canvas';
import type { ConnectionState, DeviceState } from '../state.js';
import { COLORS, STATUS_BAR_HEIGHT, fitText, font } from './theme.js';

/** The colour that stands for a connection state (the bar's stripe and dot). */
export function connectionColor(connection: ConnectionState): string {
  switch (connection.status) {
    case 'online':
      return COLORS.online;
    case 'connecting':
      return COLORS.connecting;
    case 'error':
      return COLORS.error;
    default:
      return COLORS.offline;
  }
}

export function connectionLabel(connection: ConnectionState, now: number): string {
  switch (connection.status) {
    case 'online':
      return 'Online';
    case 'connecting':
      return 'Connecting…';
    case 'error':
      return 'Error';
    default: {
      if (connection.retryAt === null) return 'Offline';
      const seconds = Math.max(0, Math.ceil((connection.retryAt - now) / 1000));
      return `Offline · retry ${seconds}s`;
    }
  }
}

/** Drawn on every frame: connection state, screen title, crew code and unsent messages. */
export function drawStatusBar(g: SKRSContext2D, width: number, state: DeviceState, title: string, now: number): void {
  const color = connectionColor(state.connection);
  const h = STATUS_BAR_HEIGHT;
  g.fillStyle = COLORS.panel;
  g.fillRect(0, 0, width, h);
  g.fillStyle = color;
  g.fillRect(0, h - 3, width, 3);

  g.beginPath();
  g.arc(14, (h - 3) / 2, 5, 0, Math.PI * 2);
  g.fill();

  g.textBaseline = 'middle';
  g.font = font(13, 'bold');
  g.fillStyle = COLORS.text;
  g.textAlign = 'left';
  g.fillText(connectionLabel(state.connection, now), 26, (h - 3) / 2);

  g.textAlign = 'center';
  g.font = font(14, 'bold');
  g.fillText(fitText(g, title, 160), width / 2, (h - 3) / 2);

  g.textAlign = 'right';
  g.font = font(13);
  g.fillStyle = COLORS.muted;
  const pending = state.outboxPending > 0 ? `↑${state.outboxPending}  ` : '';
  g.fillText(`${pending}${state.crew?.code ?? 'no crew'}`, width - 10, (h - 3) / 2);
  g.textAlign = 'left';
}
