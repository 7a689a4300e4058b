import type { SKRSContext2D } from '@napi-rs/canvas';
import type { Screen, ScreenHost, ScreenView } from './screen.js';
import { notes, type NoteItem } from '../state.js';
import { COLORS, colorFor, fitText, font, initials, roundRect, wrapText } from './theme.js';

const VISIBLE = 4;

/** Texts, nudges and hang proposals from the crew, newest at the top. */
export class MessagesScreen implements Screen {
  readonly id = 'messages';
  readonly title = 'Messages';
  readonly order = 40;

  draw(g: SKRSContext2D, { state, area }: ScreenView): void {
    const items = notes(state).slice(-VISIBLE).reverse();
    g.textBaseline = 'alphabetic';
    g.textAlign = 'left';
    if (items.length === 0) {
      g.fillStyle = COLORS.muted;
      g.font = font(18);
      g.textAlign = 'center';
      g.fillText('No messages yet', area.x + area.w / 2, area.y + area.h / 2);
      g.textAlign = 'left';
      return;
    }
    const cardH = (area.h - 16 - (VISIBLE - 1) * 8) / VISIBLE;
    items.forEach((item, i) => {
      drawNote(g, { x: area.x + 12, y: area.y + 8 + i * (cardH + 8), w: area.w - 24, h: cardH }, item);
    });
  }

  onShow(host: ScreenHost): void {
    host.markRead(['text', 'nudge', 'hang_propose', 'hang_confirm']);
  }
}

const KIND_LABEL: Record<NoteItem['kind'], string> = {
  text: '',
  nudge: 'NUDGE',
  hang_propose: 'LET’S HANG',
  hang_confirm: 'HANG ✓',
};

function drawNote(g: SKRSContext2D, box: { x: number; y: number; w: number; h: number }, item: NoteItem): void {
  g.fillStyle = item.kind === 'text' ? COLORS.panel : COLORS.panelLight;
  roundRect(g, box.x, box.y, box.w, box.h, 10);
  g.fill();
  if (!item.read) {
    g.fillStyle = COLORS.accent;
    g.fillRect(box.x, box.y + 8, 3, box.h - 16);
  }
  const r = 16;
  const ax = box.x + 12 + r;
  const ay = box.y + box.h / 2;
  g.fillStyle = colorFor(item.fromDevice);
  g.beginPath();
  g.arc(ax, ay, r, 0, Math.PI * 2);
  g.fill();
  g.fillStyle = COLORS.text;
  g.font = font(12, 'bold');
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText(initials(item.fromName), ax, ay + 1);
  g.textAlign = 'left';
  g.textBaseline = 'alphabetic';

  const tx = ax + r + 12;
  const tw = box.x + box.w - tx - 12;
  g.font = font(13, 'bold');
  g.fillStyle = COLORS.accent;
  const label = KIND_LABEL[item.kind];
  const header = item.mine ? 'You' : item.fromName;
  g.fillText(fitText(g, label ? `${header} · ${label}` : header, tw - 60), tx, box.y + 19);
  g.textAlign = 'right';
  g.fillStyle = COLORS.muted;
  g.font = font(11);
  g.fillText(clock(item.at), box.x + box.w - 12, box.y + 19);
  g.textAlign = 'left';
  g.fillStyle = COLORS.text;
  g.font = font(14);
  const body = item.kind === 'hang_propose' && item.datetime ? `${item.text} — ${when(item.datetime)}` : item.text;
  wrapText(g, body, tw, 2).forEach((line, i) => g.fillText(line, tx, box.y + 37 + i * 17));
}

function clock(at: number): string {
  const d = new Date(at);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

function when(datetime: string): string {
  const d = new Date(datetime);
  if (Number.isNaN(d.getTime())) return datetime;
  const day = d.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short' });
  return `${day} ${clock(d.getTime())}`;
}
