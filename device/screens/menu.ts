import type { SKRSContext2D } from '@napi-rs/canvas';
import type { ButtonEvent } from '../hardware.js';
import type { MenuEntry, Screen, ScreenHost, ScreenView } from './screen.js';
import type { ScreenRegistry } from './registry.js';
import { COLORS, fitText, font, roundRect } from './theme.js';

/** The built-in entry: the crew code, big enough to read out to a friend. */
export const CREW_CODE_ENTRY: MenuEntry = {
  id: 'crew_code',
  order: 10,
  label: () => 'Crew code',
  detail: (state) => state.crew?.code ?? 'not in a crew yet',
};

/**
 * The long-press menu. prev/next move the selection, primary runs the entry, a long
 * press or secondary closes it. Entries come from the registry, so features add theirs.
 */
export class MenuScreen implements Screen {
  readonly id = 'menu';
  readonly title = 'Menu';
  private selected = 0;
  /** Where to go back to when the menu closes. */
  returnTo = 'status';

  constructor(private readonly registry: ScreenRegistry) {}

  draw(g: SKRSContext2D, { state, area }: ScreenView): void {
    const entries = this.registry.menu(state);
    this.selected = Math.min(this.selected, Math.max(0, entries.length - 1));
    g.textBaseline = 'alphabetic';
    g.textAlign = 'left';
    const rowH = 56;
    // More entries than fit: scroll so the selected one stays in view.
    const fits = Math.max(1, Math.floor((area.h - 30) / (rowH + 6)));
    const first = Math.max(0, Math.min(this.selected - fits + 1, entries.length - fits));
    entries.slice(first, first + fits).forEach((entry, shown) => {
      const i = first + shown;
      const y = area.y + 10 + shown * (rowH + 6);
      const chosen = i === this.selected;
      g.fillStyle = chosen ? COLORS.panelLight : COLORS.panel;
      roundRect(g, area.x + 12, y, area.w - 24, rowH, 10);
      g.fill();
      if (chosen) {
        g.strokeStyle = COLORS.accent;
        g.lineWidth = 2;
        g.stroke();
      }
      this.drawEntry(g, entry, state, area.x + 28, y, area.w - 56);
    });
    g.fillStyle = COLORS.muted;
    g.font = font(12);
    g.textAlign = 'center';
    g.fillText('◀ ▶ choose · OK select · hold to close', area.x + area.w / 2, area.y + area.h - 8);
    g.textAlign = 'left';
  }

  private drawEntry(g: SKRSContext2D, entry: MenuEntry, state: ScreenView['state'], x: number, y: number, w: number): void {
    const detail = entry.detail?.(state) ?? null;
    g.fillStyle = COLORS.text;
    g.font = font(16, 'bold');
    g.fillText(fitText(g, entry.label(state), w), x, detail ? y + 22 : y + 34);
    if (!detail) return;
    g.fillStyle = COLORS.accent;
    g.font = font(20, 'bold');
    g.fillText(fitText(g, detail, w), x, y + 46);
  }

  onButton(event: ButtonEvent, host: ScreenHost): boolean {
    const entries = this.registry.menu(host.state);
    if (event.kind === 'long_press' || (event.kind === 'press' && event.button === 'secondary')) {
      host.show(this.returnTo);
      return true;
    }
    if (event.kind !== 'press' || entries.length === 0) return true;
    if (event.button === 'prev') this.selected = (this.selected - 1 + entries.length) % entries.length;
    if (event.button === 'next') this.selected = (this.selected + 1) % entries.length;
    if (event.button === 'primary') entries[this.selected]?.run?.(host);
    host.invalidate();
    return true;
  }

  onShow(): void {
    this.selected = 0;
  }
}
