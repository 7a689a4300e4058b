import type { SongPush } from '../protocol/index.js';
import type { RelayClient } from './relay-client.js';
import type { ScreenRegistry } from './screens/registry.js';
import type { DeviceState } from './state.js';

/**
 * What a device feature (device/features/*) may use of the gadget, and nothing more: the
 * Controller implements it. A feature never reaches another feature through it; what one
 * needs of another (play-along needs the owner's Spotify player) is handed to its
 * constructor as a narrow port.
 */
export interface DeviceHost {
  /** Where a feature adds its screens and menu entries, in attach(). */
  readonly screens: Pick<ScreenRegistry, 'add' | 'addMenuEntry'>;
  /** The relay connection: crew events in, frames out (through the outbox or at once). */
  readonly relay: Pick<RelayClient, 'onEvent' | 'send' | 'sendNow'>;
  /** The gadget's state as the relay and the buttons made it. */
  readonly state: DeviceState;
  /** The id of the screen on show. */
  readonly currentScreen: string;
  /** Brings a screen to the front. */
  show(id: string): void;
  /** Asks for a redraw: call after anything a screen shows changed. */
  invalidate(): void;
  /**
   * Something the owner should see happened (their music started): wakes the screen and
   * restarts its sleep count; resolves true when the screen was asleep.
   */
  wake(): Promise<boolean>;
  /** Whether the owner's music plays: while it does, the no-music sleep rule (display.sleepWithoutMusicSeconds) waits. */
  setMusicPlaying(playing: boolean): void;
  /** One line over whatever screen is up for a few seconds; wakes the screen. */
  showLine(text: string): void;
  /** Shares a track with the crew as the owner's gadget; resolves to its client message id. */
  shareTrack(track: SongPush): Promise<string>;
}

/**
 * A device feature: it adds its screens and menu entries in attach() (before the gadget
 * starts), then follows the Controller's start() and stop(). stop() undoes start() exactly.
 */
export interface DeviceFeature {
  attach(): void;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}
