import type { Clock, TimerHandle } from '../../clock.js';
import { SpotifyError } from '../../../spotify/spotify-http.js';
import { pickAlbumImage, type SpotifyWebApi } from '../../../spotify/web-api.js';
import { progressAt, type NowPlaying } from '../../screens/now-playing.js';

export const POLL_INTERVALS = {
  playing: 5_000,
  paused: 15_000,
  idle: 30_000,
  error: 30_000,
  /** Poll again this long after the track should have ended, to catch the change quickly. */
  afterTrackEnd: 750,
  minimum: 1_000,
  /** While the screen sleeps (display.pollWhileAsleepSeconds): slow, to see the owner start music. */
  asleep: 45_000,
} as const;

/** Adaptive interval: fast near a track change, normal while playing, slow when paused or idle. */
export function nextPollDelay(playing: NowPlaying | null, now: number): number {
  if (!playing) return POLL_INTERVALS.idle;
  if (!playing.isPlaying) return POLL_INTERVALS.paused;
  const remaining = playing.durationMs - progressAt(playing, now);
  if (remaining < POLL_INTERVALS.playing) return Math.max(POLL_INTERVALS.minimum, remaining + POLL_INTERVALS.afterTrackEnd);
  return POLL_INTERVALS.playing;
}

/** The owner started playing: playing now, and nothing or a paused track before. */
export function startedPlaying(before: NowPlaying | null, after: NowPlaying | null): boolean {
  return after?.isPlaying === true && before?.isPlaying !== true;
}

/** How often to ask: `awake` adapts to the music, `asleep` is the slow interval, `off` never. */
export type PollPace = 'awake' | 'asleep' | 'off';

export interface PollerOptions {
  /** Album art size asked of Spotify's images. */
  readonly artSize?: number;
  /** Between polls while asleep; 0 stops polling while asleep. */
  readonly asleepMs?: number;
}

export interface PollerEvents {
  onChange(playing: NowPlaying | null): void;
  onError(error: Error): void;
}

/**
 * Polls currently-playing with the ETag of the last answer (a 304 costs Spotify little). Awake
 * it adapts to the music; asleep it polls every `asleepMs` (a Retry-After longer than that
 * is waited out), so the owner starting music can wake the screen; waking polls at once.
 */
export class NowPlayingPoller {
  private timer: TimerHandle | null = null;
  private etag: string | null = null;
  private current: NowPlaying | null = null;
  private pace: PollPace = 'off';
  private running: Promise<void> | null = null;
  private readonly artSize: number;
  private readonly asleepMs: number;

  constructor(
    private readonly api: SpotifyWebApi,
    private readonly clock: Clock,
    private readonly events: PollerEvents,
    options: PollerOptions = {},
  ) {
    this.artSize = options.artSize ?? 160;
    this.asleepMs = options.asleepMs ?? POLL_INTERVALS.asleep;
  }

  get nowPlaying(): NowPlaying | null {
    return this.current;
  }

  /**
   * Awake (from asleep or off) polls at once. Falling asleep keeps the poll already
   * scheduled (it may be a Retry-After); the ones after it come every `asleepMs`.
   */
  setPace(pace: PollPace): void {
    const next = pace === 'asleep' && !(this.asleepMs > 0) ? 'off' : pace;
    if (next === this.pace) return;
    const was = this.pace;
    this.pace = next;
    if (next === 'asleep' && was === 'awake') return;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
    if (next !== 'off') void this.poll();
  }

  /** Polls now (e.g. right after signing in or queueing), after any poll under way. */
  async pollNow(): Promise<void> {
    await this.running;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
    return this.poll();
  }

  private poll(): Promise<void> {
    if (this.pace === 'off') return Promise.resolve();
    this.running ??= this.pollOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pollOnce(): Promise<void> {
    let delay: number;
    let retryAfterMs = 0;
    try {
      delay = await this.fetch();
    } catch (error) {
      this.events.onError(error as Error);
      retryAfterMs = error instanceof SpotifyError && error.retryAfterMs ? error.retryAfterMs : 0;
      delay = retryAfterMs || POLL_INTERVALS.error;
    }
    this.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.pace === 'asleep') delay = Math.max(this.asleepMs, retryAfterMs);
    if (this.pace !== 'off') this.timer = this.clock.setTimeout(() => void this.poll(), delay);
  }

  private async fetch(): Promise<number> {
    const result = await this.api.currentlyPlaying(this.etag);
    const now = this.clock.now();
    if (result.kind === 'unchanged') {
      // Same answer as before: progress moved on by itself (when playing).
      if (this.current) this.current = { ...this.current, progressMs: progressAt(this.current, now), fetchedAt: now };
      return nextPollDelay(this.current, now);
    }
    this.etag = result.etag;
    const item = result.kind === 'playing' ? result.playing.item : null;
    const next: NowPlaying | null =
      result.kind === 'playing' && item
        ? {
            uri: item.uri,
            track: item.name,
            artist: item.artists.map((a) => a.name).join(', '),
            album: item.album.name,
            artUrl: pickAlbumImage(item, this.artSize),
            durationMs: item.duration_ms,
            progressMs: result.playing.progress_ms ?? 0,
            isPlaying: result.playing.is_playing,
            fetchedAt: now,
          }
        : null;
    this.current = next;
    this.events.onChange(next);
    return nextPollDelay(next, now);
  }
}
