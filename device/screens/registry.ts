import type { MenuEntry, Screen } from './screen.js';
import type { DeviceState } from '../state.js';

/**
 * Holds the screens and menu entries. The controller builds one with the core screens;
 * other parts register theirs before controller.start().
 */
export class ScreenRegistry {
  private readonly screens = new Map<string, Screen>();
  private readonly entries = new Map<string, MenuEntry>();

  add(screen: Screen): this {
    if (this.screens.has(screen.id)) throw new Error(`A screen with id "${screen.id}" is already registered.`);
    this.screens.set(screen.id, screen);
    return this;
  }

  addMenuEntry(entry: MenuEntry): this {
    if (this.entries.has(entry.id)) throw new Error(`A menu entry with id "${entry.id}" is already registered.`);
    this.entries.set(entry.id, entry);
    return this;
  }

  get(id: string): Screen | undefined {
    return this.screens.get(id);
  }

  /** Screens that prev/next cycle through, in order. */
  rotation(): Screen[] {
    return [...this.screens.values()].filter((s) => s.order !== undefined).sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  }

  /** The menu's entries in order; with a state, only those visible in it. */
  menu(state?: DeviceState): MenuEntry[] {
    const entries = [...this.entries.values()].sort((a, b) => a.order - b.order);
    return state ? entries.filter((e) => e.visible?.(state) ?? true) : entries;
  }
}
