import type { SKRSContext2D } from '@napi-rs/canvas';
import type { NowPlayingView, QueueItemView, VoteValue } from '../../protocol/queue.js';
import { crewPositionAt, serverNow, type CrewQueueCopy } from '../crew-clock.js';
import type { ButtonEvent } from '../hardware.js';
import type { Area, Screen, ScreenHost, ScreenView } from './screen.js';
import { COLORS, drawFlame, drawNotice, fitText, font, roundRect, type Notice } from './theme.js';

export interface QueueActions {
  vote(item: QueueItemView, vote: VoteValue): void;
  jam(item: QueueItemView, on: boolean): void;
}

/** A line under the queue: play-along state or its last Spotify error. */
export interface QueueStatusLine {
  readonly text: string;
  readonly tone: 'ok' | 'error' | 'muted';
}

/** Geometry shared with the tests that read the pixels back. */
export const QUEUE_LAYOUT = {
  nowTop: 8,
  nowHeight: 92,
  rowsTop: 108,
  rowHeight: 38,
  rowGap: 4,
  visibleRows: 4,
  barLeft: 24,
  barTop: 70,
  barHeight: 6,
} as const;

const HINT = '◀ ▶ select · OK vote ▲ · 2nd jam · hold: menu';

/**
 * The crew's shared queue: what the crew is on (its clock moving between snapshots) and
 * what comes next, with who added it, votes and jams. prev/next move a cursor over the
 * tracks (now playing first) and leave the screen past either end; primary toggles my
 * up-vote on the selected track, secondary toggles my jam. See "Queue screen" in
 * docs/REFERENCE.md.
 */
export class QueueScreen implements Screen {
  readonly id = 'queue';
  readonly title = 'Crew queue';
  readonly order = 7;
  queue: CrewQueueCopy | null = null;
  notice: Notice | null = null;
  /** Selected item; null = the first one. Kept by id so a reorder does not move the cursor. */
  private cursor: string | null = null;

  constructor(
    private readonly actions: QueueActions,
    private readonly status: () => QueueStatusLine | null = () => null,
  ) {}

  /** Tracks the cursor moves over: the playing one, then the queue in play order. */
  items(): QueueItemView[] {
    const snapshot = this.queue?.snapshot;
    if (!snapshot) return [];
    return snapshot.now_playing ? [snapshot.now_playing, ...snapshot.up_next] : [...snapshot.up_next];
  }

  selected(): QueueItemView | null {
    const items = this.items();
    return items.find((i) => i.item_id === this.cursor) ?? items[0] ?? null;
  }

  draw(g: SKRSContext2D, { state, area, now }: ScreenView): void {
    g.textAlign = 'left';
    g.textBaseline = 'alphabetic';
    const snapshot = this.queue?.snapshot;
    if (!snapshot) {
      this.drawCentered(g, area, 'Waiting for the crew queue…', 'It appears once the gadget is connected to the relay.');
    } else if (!snapshot.now_playing && snapshot.up_next.length === 0) {
      this.drawCentered(g, area, 'The crew queue is empty', 'Share a track, or add one on the crew page.');
    } else {
      const selectedId = this.selected()?.item_id ?? null;
      const me = state.deviceId;
      if (snapshot.now_playing) this.drawNow(g, area, snapshot.now_playing, now, selectedId === snapshot.now_playing.item_id, me);
      else this.drawNothingPlaying(g, area);
      this.drawRows(g, area, snapshot.up_next, selectedId, me);
    }
    this.drawFooter(g, area, now);
  }

  onButton(event: ButtonEvent, host: ScreenHost): boolean {
    if (event.kind === 'rotate') return this.move(event.delta, host);
    if (event.kind !== 'press') return false;
    if (event.button === 'prev') return this.move(-1, host);
    if (event.button === 'next') return this.move(1, host);
    const item = this.selected();
    if (!item) return false;
    const me = host.state.deviceId ?? '';
    if (event.button === 'primary') this.actions.vote(item, item.voted_up.includes(me) ? 'none' : 'up');
    else this.actions.jam(item, !item.jammed_by.includes(me));
    return true;
  }

  onShow(): void {
    this.cursor = null;
  }

  /** Moves the cursor; past either end the press is left to the controller (next / previous screen). */
  private move(delta: number, host: ScreenHost): boolean {
    const items = this.items();
    const index = Math.max(
      0,
      items.findIndex((i) => i.item_id === this.selected()?.item_id),
    );
    const next = items[index + delta];
    if (!next) return false;
    this.cursor = next.item_id;
    host.invalidate();
    return true;
  }

  private drawNow(g: SKRSContext2D, area: Area, playing: NowPlayingView, now: number, chosen: boolean, me: string | null): void {
    const L = QUEUE_LAYOUT;
    const x = area.x + 10;
    const y = area.y + L.nowTop;
    const w = area.w - 20;
    this.panel(g, x, y, w, L.nowHeight, chosen);
    g.fillStyle = COLORS.muted;
    g.font = font(11, 'bold');
    const state = playing.paused_at !== null ? '❚❚ PAUSED' : '▶ CREW NOW';
    g.fillText(playing.throwback ? `${state} · ↺ THROWBACK` : state, x + 14, y + 16);
    const marks = this.drawMarks(g, x + w - 14, y + 36, playing, me);
    g.fillStyle = COLORS.text;
    g.font = font(18, 'bold');
    g.fillText(fitText(g, playing.track, marks - x - 24), x + 14, y + 38);
    g.fillStyle = COLORS.muted;
    g.font = font(13);
    g.fillText(fitText(g, `${playing.artist} · ${addedBy(playing)}`, w - 28), x + 14, y + 57);
    const position = crewPositionAt(playing, this.queue ? serverNow(this.queue, now) : now);
    this.drawBar(g, { x: area.x + L.barLeft, y: area.y + L.barTop, w: area.w - 2 * L.barLeft }, position, playing.clock_duration_ms);
  }

  private drawNothingPlaying(g: SKRSContext2D, area: Area): void {
    const L = QUEUE_LAYOUT;
    this.panel(g, area.x + 10, area.y + L.nowTop, area.w - 20, L.nowHeight, false);
    g.fillStyle = COLORS.muted;
    g.font = font(15);
    g.fillText('Nothing is playing for the crew right now.', area.x + 24, area.y + L.nowTop + 50);
  }

  private drawBar(g: SKRSContext2D, bar: { x: number; y: number; w: number }, position: number, duration: number): void {
    const h = QUEUE_LAYOUT.barHeight;
    g.fillStyle = COLORS.panelLight;
    roundRect(g, bar.x, bar.y, bar.w, h, 3);
    g.fill();
    g.fillStyle = COLORS.accent;
    roundRect(g, bar.x, bar.y, Math.max(h, (bar.w * position) / duration), h, 3);
    g.fill();
    g.fillStyle = COLORS.muted;
    g.font = font(11);
    g.fillText(clock(position), bar.x, bar.y + 19);
    g.textAlign = 'right';
    g.fillText(clock(duration), bar.x + bar.w, bar.y + 19);
    g.textAlign = 'left';
  }

  private drawRows(g: SKRSContext2D, area: Area, upNext: readonly QueueItemView[], selectedId: string | null, me: string | null): void {
    const L = QUEUE_LAYOUT;
    const top = area.y + L.rowsTop;
    if (upNext.length === 0) {
      g.fillStyle = COLORS.muted;
      g.font = font(14);
      g.fillText('Nothing queued next — share a track to add one.', area.x + 24, top + 24);
      return;
    }
    const chosen = upNext.findIndex((i) => i.item_id === selectedId);
    const first = Math.max(0, Math.min(chosen - L.visibleRows + 1, upNext.length - L.visibleRows));
    upNext.slice(first, first + L.visibleRows).forEach((item, i) => {
      this.drawRow(g, area, top + i * (L.rowHeight + L.rowGap), first + i + 1, item, item.item_id === selectedId, me);
    });
  }

  private drawRow(g: SKRSContext2D, area: Area, y: number, place: number, item: QueueItemView, chosen: boolean, me: string | null): void {
    const x = area.x + 10;
    const w = area.w - 20;
    this.panel(g, x, y, w, QUEUE_LAYOUT.rowHeight, chosen);
    g.fillStyle = COLORS.muted;
    g.font = font(13, 'bold');
    g.fillText(String(place), x + 12, y + 24);
    const marks = this.drawMarks(g, x + w - 12, y + 24, item, me);
    g.fillStyle = COLORS.text;
    g.font = font(14, 'bold');
    g.fillText(fitText(g, item.track, marks - x - 44), x + 34, y + 16);
    g.fillStyle = item.throwback ? COLORS.fire : COLORS.muted;
    g.font = font(12);
    g.fillText(fitText(g, `${item.artist} · ${addedBy(item)}`, marks - x - 44), x + 34, y + 32);
  }

  /** Score and jams, right-aligned at `right`; returns the x where they start. */
  private drawMarks(g: SKRSContext2D, right: number, baseline: number, item: QueueItemView, me: string | null): number {
    g.font = font(14, 'bold');
    g.textAlign = 'right';
    let x = right;
    if (item.jammed_by.length > 0) {
      const jams = String(item.jammed_by.length);
      g.fillStyle = me && item.jammed_by.includes(me) ? COLORS.fire : COLORS.muted;
      g.fillText(jams, x, baseline);
      x -= g.measureText(jams).width + 12;
      drawFlame(g, x + 4, baseline - 6, 16, COLORS.fire);
      x -= 12;
    }
    const up = me !== null && item.voted_up.includes(me);
    const score = `▲ ${item.score}`;
    g.fillStyle = up ? COLORS.accent : COLORS.muted;
    g.fillText(score, x, baseline);
    x -= g.measureText(score).width + 10;
    g.textAlign = 'left';
    return x;
  }

  private panel(g: SKRSContext2D, x: number, y: number, w: number, h: number, chosen: boolean): void {
    g.fillStyle = chosen ? COLORS.panelLight : COLORS.panel;
    roundRect(g, x, y, w, h, 10);
    g.fill();
    if (!chosen) return;
    g.strokeStyle = COLORS.accent;
    g.lineWidth = 2;
    g.stroke();
  }

  private drawFooter(g: SKRSContext2D, area: Area, now: number): void {
    const status = this.status();
    const colour = { ok: COLORS.online, error: COLORS.error, muted: COLORS.muted };
    g.fillStyle = status ? colour[status.tone] : COLORS.muted;
    g.font = font(12);
    g.textAlign = 'center';
    g.fillText(fitText(g, status?.text ?? HINT, area.w - 24), area.x + area.w / 2, area.y + area.h - 7);
    g.textAlign = 'left';
    if (this.notice && this.notice.until > now) drawNotice(g, area, this.notice, { bottom: 22, size: 14 });
  }

  private drawCentered(g: SKRSContext2D, area: Area, title: string, detail: string): void {
    g.textAlign = 'center';
    g.fillStyle = COLORS.text;
    g.font = font(20, 'bold');
    g.fillText(title, area.x + area.w / 2, area.y + area.h / 2 - 14);
    g.fillStyle = COLORS.muted;
    g.font = font(14);
    g.fillText(fitText(g, detail, area.w - 40), area.x + area.w / 2, area.y + area.h / 2 + 14);
    g.textAlign = 'left';
  }
}

function addedBy(item: QueueItemView): string {
  return item.throwback || item.added_by === null ? '↺ throwback from the crew history' : `added by ${item.added_by_name}`;
}

function clock(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
