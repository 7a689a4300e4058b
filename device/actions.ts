import type { Reaction } from '../protocol/index.js';
import type { Controller } from './controller.js';
import type { NowPlaying } from './screens/now-playing.js';
import type { DeviceState } from './state.js';

/**
 * What the gadget's owner can do, as one port: the physical buttons and the menu run
 * these same code paths (the now-playing screen's share, the share screen's reactions,
 * the menu's airhorn and play-along), and remote controls (the MQTT bridge) call them
 * through here, so a command from Home Assistant does exactly what the button does.
 */
export type ActionResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

export interface GadgetView {
  readonly state: DeviceState;
  readonly nowPlaying: NowPlaying | null;
  readonly playAlong: boolean;
}

export interface GadgetActions {
  /** The now-playing screen's primary press: shares what plays (outbox when offline). */
  shareNowPlaying(): Promise<ActionResult>;
  /** The share screen's reaction buttons: reacts to the newest share from a crew mate. */
  react(reaction: Reaction): Promise<ActionResult>;
  /** The menu's "Sound the airhorn": needs the relay now, never queued. */
  soundAirhorn(): ActionResult;
  /** The menu's play-along entry, made idempotent: switches only when it is not already `on`. */
  setPlayAlong(on: boolean): Promise<ActionResult>;
  /** A text message to the crew (durable outbox), as the simulator panel sends it. */
  sendText(text: string): Promise<ActionResult>;
  /** One line over the current screen for a while. */
  showLine(text: string): void;
  /** What the gadget shows now. */
  view(): GadgetView;
  /** Called after anything the screen shows changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Called for every airhorn a crew mate sounds; returns the unsubscribe function. */
  onAirhorn(listener: (fromName: string, at: number) => void): () => void;
}

/** The controller's own action paths, and nothing else of it. */
export function gadgetActionsFor(controller: Controller): GadgetActions {
  const spotify = controller.spotify;
  const queue = controller.queue;
  return {
    async shareNowPlaying() {
      const ok = await spotify.shareNowPlaying();
      return ok ? done : failed(spotify.nowPlaying.notice?.text ?? 'The share did not go out.');
    },
    async react(reaction) {
      try {
        const id = await controller.react(reaction);
        return id ? done : failed('There is no share from a crew mate to react to.');
      } catch (error) {
        return failed(`The reaction could not be saved (${(error as Error).message}); try again.`);
      }
    },
    soundAirhorn() {
      return queue.soundAirhorn() ? done : failed(queue.screen.notice?.text ?? 'The airhorn did not go out.');
    },
    async setPlayAlong(on) {
      // On after stepping out (the owner took over) is a rejoin: the same press as on the gadget.
      if (queue.playAlong.enabled !== on || (on && queue.playAlong.steppedOut)) await queue.togglePlayAlong();
      return queue.playAlong.enabled === on ? done : failed(queue.screen.notice?.text ?? 'Play along could not be switched.');
    },
    async sendText(text) {
      try {
        await controller.sendText(text);
        return done;
      } catch (error) {
        return failed(`The message could not be saved (${(error as Error).message}); try again.`);
      }
    },
    showLine: (text) => controller.showLine(text),
    view: () => ({ state: controller.state, nowPlaying: spotify.nowPlaying.playing, playAlong: queue.playAlong.enabled }),
    onChange: (listener) => controller.onChange(listener),
    onAirhorn: (listener) =>
      controller.relay.onEvent((event) => {
        if (event.kind !== 'event' || event.message.type !== 'airhorn') return;
        if (event.message.from_device === controller.state.deviceId) return;
        listener(event.message.from_name, event.message.timestamp);
      }),
  };
}

const done: ActionResult = { ok: true };

function failed(message: string): ActionResult {
  return { ok: false, message };
}
