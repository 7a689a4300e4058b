import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { NowPlayingView } from '../../../protocol/queue.js';
import { writeFileAtomic } from '../../atomic-file.js';
import { crewPositionAt } from '../../crew-clock.js';
import { progressAt, type NowPlaying } from '../../screens/now-playing.js';
import { judgeSync, TAKE_OVER_NOTICE, type TakeOver } from './play-along-sync.js';
import { NotSignedInError } from '../../../spotify/web-api.js';
import { SpotifyError } from '../../../spotify/spotify-http.js';

/** The part of the Spotify Web API client play-along needs (SpotifyWebApi fits). */
export interface OwnerPlayer {
  play(uris: string[], positionMs?: number): Promise<void>;
  pause(): Promise<void>;
  seek(positionMs: number): Promise<void>;
}

/** What the owner's player plays, each time the gadget reads something new (SpotifyLink fits). */
export interface OwnerPlayback {
  /** Calls the listener with every new answer (null: Spotify plays nothing); returns the unsubscribe. */
  subscribe(listener: (playing: NowPlaying | null) => void): () => void;
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
  /** A line for the owner over whatever screen is up (stepping out of play along). */
  readonly notify: (text: string) => void;
  /** The gadget's clock (what the owner's player positions are read by). */
  readonly now: () => number;
}

/** What play-along last acted on: the crew's item and whether it was paused. */
interface Seen {
  readonly itemId: string;
  readonly paused: boolean;
}

/**
 * "Play along": while on, the crew's now-playing goes into the owner's own Spotify. The
 * crew's queue snapshots drive it — a new track or a resume plays the track at the crew
 * clock's position, a pause pauses; snapshots that change only votes or the queue behind the
 * playing track do nothing. What the owner's player then does (observe()) keeps it in step:
 * drifted more than 2 s from the crew clock, it seeks back; the owner playing something else,
 * pausing or moving the track far away is the owner taking over, and play along steps out
 * with a notice instead of fighting (play-along-sync.ts) until the owner rejoins with one
 * press. Its own calls cannot trigger it: what Spotify answers for SETTLE_MS after one is not
 * judged.
 */
export class PlayAlong {
  private enabledValue = false;
  private seen: Seen | null = null;
  private statusValue: PlayAlongStatus | null = null;
  private work: Promise<void> = Promise.resolve();
  /** Calls queued or under way: the owner's player is not judged meanwhile. */
  private pending = 0;
  /** When the last call to the owner's player returned (gadget clock), or -Infinity. */
  private lastCallAt = Number.NEGATIVE_INFINITY;
  /** Why play along stepped out (the owner took over), or null while it follows the crew. */
  private steppedOutValue: TakeOver | null = null;
  /**
   * Whether the owner's player is play along's to judge: only after a call of its own went
   * through. Before the first one (just switched on, just restarted) and after a refused one
   * (no active player, no Premium) a mismatch is not the owner taking over.
   */
  private judging = false;

  constructor(private readonly deps: PlayAlongDeps) {}

  get enabled(): boolean {
    return this.enabledValue;
  }

  get status(): PlayAlongStatus | null {
    return this.enabledValue ? this.statusValue : null;
  }

  /** On, but stepped out because the owner took over their player; a press rejoins. */
  get steppedOut(): TakeOver | null {
    return this.enabledValue ? this.steppedOutValue : null;
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
    this.rejoin(current, serverNow);
  }

  /** Back in after stepping out (the same press that switches it on): what the crew plays now starts at the crew's position. */
  rejoin(current: NowPlayingView | null, serverNow: () => number): void {
    this.steppedOutValue = null;
    this.judging = false;
    this.seen = current ? seenOf(current) : null;
    this.setStatus(this.enabledValue ? { text: 'Play along is on', tone: 'muted' } : null);
    if (this.enabledValue && current && current.paused_at === null) this.enqueue(() => this.play(current, serverNow));
  }

  /**
   * What the owner's Spotify plays now (each new answer of the now-playing poller), against
   * the crew's track: seeks back when it drifted, steps out when the owner took over.
   */
  observe(owner: NowPlaying | null, crew: NowPlayingView | null, serverNow: () => number): Promise<void> {
    if (!this.enabledValue || this.steppedOutValue || !this.judging || !crew || this.pending > 0) return this.work;
    const now = this.deps.now();
    const verdict = judgeSync({
      crew,
      crewPositionMs: crewPositionAt(crew, serverNow()),
      owner,
      ownerPositionMs: owner ? progressAt(owner, now) : 0,
      sinceOwnCallMs: now - this.lastCallAt,
    });
    if (verdict.kind === 'seek') {
      this.deps.log.info({ offByMs: Math.round(verdict.offByMs) }, 'play along drifted from the crew clock; seeking back');
      return this.enqueue(() => this.seekBack(crew, serverNow));
    }
    if (verdict.kind === 'taken_over') {
      this.deps.log.info({ reason: verdict.reason }, 'the owner took over their player; play along steps out');
      this.steppedOutValue = verdict.reason;
      this.setStatus({ text: 'Play along stepped out: press to rejoin', tone: 'muted' });
      this.deps.notify(TAKE_OVER_NOTICE[verdict.reason]);
    }
    return this.work;
  }

  /** Feeds the crew's newest snapshot in (called for every newer queue_state). */
  follow(current: NowPlayingView | null, serverNow: () => number): Promise<void> {
    const before = this.seen;
    this.seen = current ? seenOf(current) : null;
    if (!this.enabledValue || this.steppedOutValue || !current) return this.work;
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
    this.pending++;
    this.work = this.work.then(action).finally(() => {
      this.pending--;
      this.lastCallAt = this.deps.now();
    });
    return this.work;
  }

  private async play(track: NowPlayingView, serverNow: () => number): Promise<void> {
    if (!this.enabledValue || this.steppedOutValue) return;
    // The position is taken when the call goes out, so a queued call does not start behind the crew.
    const position = crewPositionAt(track, serverNow());
    await this.attempt(() => this.deps.player.play([track.spotify_uri], position), `Playing along: ${track.track}`);
  }

  private async seekBack(track: NowPlayingView, serverNow: () => number): Promise<void> {
    if (!this.enabledValue || this.steppedOutValue) return;
    await this.attempt(() => this.deps.player.seek(crewPositionAt(track, serverNow())), `Playing along: ${track.track}`);
  }

  private async pause(): Promise<void> {
    if (!this.enabledValue || this.steppedOutValue) return;
    await this.attempt(() => this.deps.player.pause(), 'Paused along with the crew');
  }

  private async attempt(call: () => Promise<void>, done: string): Promise<void> {
    try {
      await call();
      this.judging = true;
      this.setStatus({ text: done, tone: 'ok' });
    } catch (error) {
      this.judging = false;
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
