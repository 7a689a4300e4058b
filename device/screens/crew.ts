import type { SKRSContext2D } from '@napi-rs/canvas';
import type { Screen, ScreenHost, ScreenView } from './screen.js';
import { unreadCounts, type MemberView } from '../state.js';
import { COLORS, colorFor, fitText, font, initials, roundRect } from './theme.js';

const COLUMNS = 2;
const ROWS = 4;

/** The crew: every member with presence and unread count, two columns of four. */
export class CrewScreen implements Screen {
  readonly id = 'crew';
  readonly title = 'Crew';
  readonly order = 20;

  draw(g: SKRSContext2D, { state, area }: ScreenView): void {
    const { x, y, w } = area;
    g.textBaseline = 'alphabetic';
    g.textAlign = 'left';
    if (!state.crew) {
      g.fillStyle = COLORS.muted;
      g.font = font(18);
      g.textAlign = 'center';
      g.fillText('Not in a crew yet', x + w / 2, y + area.h / 2);
      g.textAlign = 'left';
      return;
    }
    g.fillStyle = COLORS.text;
    g.font = font(20, 'bold');
    g.fillText(fitText(g, state.crew.name || 'Your crew', w - 200), x + 16, y + 32);
    const online = state.crew.members.filter((m) => m.online).length;
    g.fillStyle = COLORS.muted;
    g.font = font(14);
    g.textAlign = 'right';
    g.fillText(`${online} of ${state.crew.members.length} online`, x + w - 16, y + 32);
    g.textAlign = 'left';

    const unread = unreadCounts(state);
    const cellW = (w - 16 * 2 - 10) / COLUMNS;
    const cellH = 56;
    const members = sortMembers(state.crew.members, state.deviceId);
    members.slice(0, COLUMNS * ROWS).forEach((member, i) => {
      const cx = x + 16 + (i % COLUMNS) * (cellW + 10);
      const cy = y + 48 + Math.floor(i / COLUMNS) * (cellH + 6);
      drawMember(g, { x: cx, y: cy, w: cellW, h: cellH }, member, member.deviceId === state.deviceId, unread.get(member.deviceId) ?? 0);
    });
    if (members.length > COLUMNS * ROWS) {
      g.fillStyle = COLORS.muted;
      g.font = font(12);
      g.fillText(`+${members.length - COLUMNS * ROWS} more`, x + 16, y + area.h - 6);
    }
  }

  onShow(host: ScreenHost): void {
    host.invalidate();
  }
}

/** Me first, then online before offline, then by name: the people around right now lead. */
function sortMembers(members: readonly MemberView[], me: string | null): MemberView[] {
  return [...members].sort((a, b) => {
    if ((a.deviceId === me) !== (b.deviceId === me)) return a.deviceId === me ? -1 : 1;
    if (a.online !== b.online) return a.online ? -1 : 1;
    return a.name.localeCompare(b.name);
  });
}

function drawMember(g: SKRSContext2D, box: { x: number; y: number; w: number; h: number }, member: MemberView, isMe: boolean, unread: number): void {
  g.fillStyle = COLORS.panel;
  roundRect(g, box.x, box.y, box.w, box.h, 10);
  g.fill();

  const r = 18;
  const ax = box.x + 10 + r;
  const ay = box.y + box.h / 2;
  g.globalAlpha = member.online ? 1 : 0.45;
  g.fillStyle = colorFor(member.deviceId);
  g.beginPath();
  g.arc(ax, ay, r, 0, Math.PI * 2);
  g.fill();
  g.fillStyle = COLORS.text;
  g.font = font(14, 'bold');
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText(initials(member.name), ax, ay + 1);
  g.globalAlpha = 1;

  g.fillStyle = member.online ? COLORS.online : COLORS.offline;
  g.beginPath();
  g.arc(ax + r * 0.75, ay + r * 0.75, 5, 0, Math.PI * 2);
  g.fill();

  g.textAlign = 'left';
  g.textBaseline = 'alphabetic';
  g.fillStyle = member.online ? COLORS.text : COLORS.muted;
  g.font = font(15, 'bold');
  const nameWidth = box.w - (ax + r + 10 - box.x) - 40;
  g.fillText(fitText(g, member.name, nameWidth), ax + r + 10, ay - 3);
  g.font = font(12);
  g.fillStyle = COLORS.muted;
  g.fillText([isMe ? 'you' : '', member.online ? 'online' : 'offline', member.isOwner ? 'owner' : ''].filter(Boolean).join(' · '), ax + r + 10, ay + 14);

  if (unread > 0) drawBadge(g, box.x + box.w - 22, ay, unread);
}

function drawBadge(g: SKRSContext2D, cx: number, cy: number, count: number): void {
  const label = count > 99 ? '99+' : String(count);
  g.font = font(12, 'bold');
  const w = Math.max(22, g.measureText(label).width + 12);
  g.fillStyle = COLORS.accent;
  roundRect(g, cx - w / 2, cy - 11, w, 22, 11);
  g.fill();
  g.fillStyle = '#ffffff';
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText(label, cx, cy + 1);
  g.textAlign = 'left';
  g.textBaseline = 'alphabetic';
}
