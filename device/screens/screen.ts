import type { SKRSContext2D } from '@napi-rs/canvas';
import type { ButtonEvent } from '../hardware.js';
import type { DeviceState } from '../state.js';

/**
 * The contract every screen file implements. A screen draws the area below the status
 * bar from the app state (plus whatever data of its own it keeps, e.g. now playing)
 * and may answer buttons; the controller owns navigation, the status bar and the menu.
 */
export interface Screen {
  /** Stable id: 'crew', 'share', 'now_playing', … (used by show() and the registry). */
  readonly id: string;
  /** Short title for the status bar. */
  readonly title: string;
  /**
   * Place in the prev/next rotation (lower first); omit for screens that are only
   * shown on demand (sign-in QR, animations).
   */
  readonly order?: number;
  /** Draws the body. `area` is the region below the status bar; draw only inside it. */
  draw(g: SKRSContext2D, view: ScreenView): void;
  /**
   * Answers a button event while the screen is shown. Return true when handled;
   * unhandled prev/next move between screens and long presses open the menu.
   */
  onButton?(event: ButtonEvent, host: ScreenHost): boolean;
  /** Called when the screen becomes visible (e.g. to mark items read). */
  onShow?(host: ScreenHost): void;
}

export interface Area {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface ScreenView {
  readonly state: DeviceState;
  readonly area: Area;
  /** ms since epoch, from the controller's clock (animations draw from it). */
  readonly now: number;
}

/** What a screen may ask of the controller. */
export interface ScreenHost {
  readonly state: DeviceState;
  /** Shows a screen by id (it need not be in the rotation). */
  show(id: string): void;
  /** Redraws the current screen (a screen's own data changed). */
  invalidate(): void;
  /** Reacts to the shared track currently shown. */
  react(reaction: 'love' | 'fire'): void;
  /** Marks items read after the user has seen them. */
  markRead(kinds: readonly ('share' | 'text' | 'nudge' | 'hang_propose' | 'hang_confirm')[]): void;
}

/** An entry of the long-press menu. Features add theirs (e.g. "Re-pair Spotify"). */
export interface MenuEntry {
  readonly id: string;
  readonly order: number;
  /** The label, computed from state so it can show e.g. the crew code. */
  label(state: DeviceState): string;
  /** A second line, e.g. the code itself, in a larger font. */
  detail?(state: DeviceState): string | null;
  /** What pressing it does; entries without run() are informational. */
  run?(host: ScreenHost): void;
  /** Whether the menu lists it now (e.g. only for the crew owner); listed when absent. */
  visible?(state: DeviceState): boolean;
}
