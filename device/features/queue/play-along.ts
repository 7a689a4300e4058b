import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { NowPlayingView } from '../../../protocol/queue.js';
import { writeFileAtomic } from '../../atomic-file.js';
import { crewPositionAt } from '../../crew-clock.js';
import { NotSignedInError } from '../../../spotify/web-api.js';
import { SpotifyError } from '../../../spotify/spotify-http.js';

/** The part of the Spotify Web API client play-along needs (SpotifyWebApi fits). */
export interface OwnerPlayer {
  play(uris: string[], positionMs?: number): Promise<void>;
  pause(): Promise<void>;
}

export interface PlayAlongStatus {
  readonly text: string;
  readonly tone: 'ok' | 'error' | 'muted';
}

export interface PlayAlongDeps {
  readonly player: OwnerPlayer;
  /** `<dataDir>/play-along.json`: whether the owner switched it on. */
  readonly file: string;
  readonly log: Logger;
  /** Called after the status (or the on/off setting) changed: redraw. */
  readonly onChange: () => void;
}

/** What play-along last acted on: the crew's item and whether it was paused. */
interface Seen {
  readonly itemId: string;
  readonly paused: boolean;
}

/**
 * "Play along": while on, the crew's now-playing goes into the owner's own Spotify. It
 * follows the crew's queue snapshots only — a new track or a resume plays the track at the
 * crew clock's position, a pause pauses — and never looks at what the owner's player does,
 * so its own playback can never trigger it again (no loop). Snapshots that change only
 * votes or the queue behind the playing track do nothing.
 */
export class PlayAlong {
  private enabledValue = false;
  private seen: Seen | null = null;
  private statusValue: PlayAlongStatus | null = null;
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly deps: PlayAlongDeps) {}

  get enabled(): boolean {
    return this.enabledValue;
  }

  get status(): PlayAlongStatus | null {
    return this.enabledValue ? this.statusValue : null;
  }

  /** Reads the setting; a missing or damaged file means off. */
  async load(): Promise<void> {
    try {
      const stored = JSON.parse(await readFile(this.deps.file, 'utf8')) as { enabled?: unknown };
      this.enabledValue = stored.enabled === true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.deps.log.warn({ err: (error as Error).message }, 'play-along setting unreadable; it is off');
      }
      this.enabledValue = false;
    }
    this.statusValue = this.enabledValue ? { text: 'Play along is on', tone: 'muted' } : null;
  }

  /**
   * Switches play-along and saves the choice. Switching on joins the crew at once: what
   * the crew plays now starts in the owner's Spotify at the crew's position.
   */
  async setEnabled(on: boolean, current: NowPlayingView | null, serverNow: () => number): Promise<void> {
    this.enabledValue = on;
    await writeFileAtomic(this.deps.file, JSON.stringify({ enabled: on }), 0o600);
    this.seen = current ? seenOf(current) : null;
    this.setStatus(on ? { text: 'Play along is on', tone: 'muted' } : null);
    if (on && current && current.paused_at === null) this.enqueue(() => this.play(current, serverNow));
  }

  /** Feeds the crew's newest snapshot in (called for every newer queue_state). */
  follow(current: NowPlayingView | null, serverNow: () => number): Promise<void> {
    const before = this.seen;
    this.seen = current ? seenOf(current) : null;
    if (!this.enabledValue || !current) return this.work;
    const sameTrack = before?.itemId === current.item_id;
    if (sameTrack && before.paused === (current.paused_at !== null)) return this.work;
    if (current.paused_at === null) return this.enqueue(() => this.play(current, serverNow));
    if (before && !before.paused) return this.enqueue(() => this.pause());
    return this.work;
  }

  /** Resolves when every Spotify call asked for so far has finished (tests, shutdown). */
  settled(): Promise<void> {
    return this.work;
  }

  /** One Spotify call at a time, in the order the crew changed. */
  private enqueue(action: () => Promise<void>): Promise<void> {
    this.work = this.work.then(action);
    return this.work;
  }

  private async play(track: NowPlayingView, serverNow: () => number): Promise<void> {
    if (!this.enabledValue) return;
    // The position is taken when the call goes out, so a queued call does not start behind the crew.
    const position = crewPositionAt(track, serverNow());
    await this.attempt(() => this.deps.player.play([track.spotify_uri], position), `Playing along: ${track.track}`);
  }

  private async pause(): Promise<void> {
    if (!this.enabledValue) return;
    await this.attempt(() => this.deps.player.pause(), 'Paused along with the crew');
  }

  private async attempt(call: () => Promise<void>, done: string): Promise<void> {
    try {
      await call();
      this.setStatus({ text: done, tone: 'ok' });
    } catch (error) {
      const known = error instanceof SpotifyError || error instanceof NotSignedInError;
      if (!known) this.deps.log.error({ err: (error as Error).message }, 'play-along call failed');
      this.setStatus({ text: `Play along: ${known ? (error as Error).message : 'Spotify did not take it; try again.'}`, tone: 'error' });
    }
  }

  private setStatus(status: PlayAlongStatus | null): void {
    this.statusValue = status;
    this.deps.onChange();
  }
}

function seenOf(track: NowPlayingView): Seen {
  return { itemId: track.item_id, paused: track.paused_at !== null };
}
