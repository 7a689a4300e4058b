import { createHash } from 'node:crypto';
import { isTrackUri } from '../../protocol/index.js';
import { SpotifyError, type SpotifyHttp } from '../../spotify/spotify-http.js';
import { SpotifyWebApi, type RecentlyPlayedPage } from '../../spotify/web-api.js';
import type { Logger } from '../log.js';
import type { ListeningAccess } from '../ports.js';
import { playInput, type HistoryStore, type PlayInput } from '../store/areas/history.js';

export interface CollectorOptions {
  readonly history: HistoryStore;
  readonly access: ListeningAccess;
  /** Built with maxRateLimitRetries 0, so a 429 comes back at once instead of being waited out. */
  readonly http: SpotifyHttp;
  readonly apiUrl: string;
  readonly log: Logger;
  /** Each member is collected about this often (default 30 min). */
  readonly intervalMs?: number;
  /** How often the schedule is looked at (default 1 min). */
  readonly tickMs?: number;
  readonly now?: () => number;
  /** Pages followed per member and run; recently-played holds at most 50 plays anyway. */
  readonly maxPages?: number;
}

export interface CollectResult {
  readonly added: number;
  readonly duplicate: number;
  readonly pages: number;
}

/**
 * Collects each signed-in member's recently-played into their plays: one member at a
 * time, each about every intervalMs at an offset derived from its id (so members are
 * spread over the interval and keep their slot), following the `after` cursor and the
 * `next` pages. It calls Spotify through the shared Web API client: a 401 refreshes the
 * member's token once (a revoked grant then dies in the broker and the member drops out of
 * signedInMembers), and a 429 moves only that member back by its Retry-After.
 */
export class ListeningCollector {
  private readonly options: CollectorOptions;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly nextRun = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(options: CollectorOptions) {
    this.options = options;
    this.intervalMs = options.intervalMs ?? 30 * 60_000;
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.runDue(), this.options.tickMs ?? 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** When a member is next due (ms), or undefined when not scheduled. */
  dueAt(deviceId: string): number | undefined {
    return this.nextRun.get(deviceId);
  }

  /** Collects every member that is due, one after the other; overlapping calls share the run. */
  runDue(): Promise<void> {
    this.running ??= this.collectDue().finally(() => (this.running = null));
    return this.running;
  }

  private async collectDue(): Promise<void> {
    let members: string[];
    try {
      members = await this.options.access.signedInMembers();
    } catch (error) {
      this.options.log.warn({ err: error }, 'could not list the members signed in with Spotify');
      return;
    }
    this.schedule(members);
    const due = members.filter((m) => this.nextRun.get(m)! <= this.now()).sort((a, b) => this.nextRun.get(a)! - this.nextRun.get(b)!);
    for (const deviceId of due) {
      this.nextRun.set(deviceId, this.now() + (await this.collectSafely(deviceId)));
    }
  }

  private schedule(members: readonly string[]): void {
    const present = new Set(members);
    for (const id of this.nextRun.keys()) if (!present.has(id)) this.nextRun.delete(id);
    for (const id of members) if (!this.nextRun.has(id)) this.nextRun.set(id, this.now() + this.offsetOf(id));
  }

  /** A stable offset in [0, interval): members keep their slot across restarts. */
  private offsetOf(deviceId: string): number {
    return createHash('sha256').update(deviceId).digest().readUInt32BE(0) % this.intervalMs;
  }

  /** Returns how long until this member should be collected again. */
  private async collectSafely(deviceId: string): Promise<number> {
    try {
      const result = await this.collect(deviceId);
      if (result.added > 0) this.options.log.debug({ deviceId, ...result }, 'collected recently-played');
      return this.intervalMs;
    } catch (error) {
      if (error instanceof SpotifyError && error.code === 'rate_limited') {
        const wait = Math.max(error.retryAfterMs ?? 0, 1000);
        this.options.log.info({ deviceId, waitMs: wait }, 'Spotify rate-limited the history collection; this member waits');
        return wait;
      }
      // Expected failures (Spotify refused, the member must sign in again) are one line, not a stack.
      const known = error instanceof Error && 'code' in error;
      this.options.log.warn(
        { deviceId, code: known ? (error as { code: unknown }).code : undefined, err: known ? error.message : error },
        'could not collect recently-played',
      );
      return this.intervalMs;
    }
  }

  /** Fetches everything after the member's cursor, stores it, then moves the cursor. */
  async collect(deviceId: string): Promise<CollectResult> {
    const web = this.webApi(deviceId);
    const cursor = await this.options.history.getCursor(deviceId);
    let after: number | undefined = cursor ?? undefined;
    let newest = cursor ?? 0;
    let added = 0;
    let duplicate = 0;
    let pages = 0;
    for (;;) {
      const page = await web.recentlyPlayed({ limit: 50, after });
      pages += 1;
      const plays = toPlays(deviceId, page);
      const stored = await this.options.history.addPlays(plays);
      added += stored.added;
      duplicate += stored.duplicate;
      const pageNewest = Number(page.cursors?.after ?? 0) || 0;
      newest = Math.max(newest, ...plays.map((p) => p.endMs), pageNewest);
      if (newest > (cursor ?? 0)) await this.options.history.setCursor(deviceId, newest);
      // `next` says more plays follow; the next page starts after the newest one of this page.
      if (!page.next || page.items.length === 0 || pages >= (this.options.maxPages ?? 20) || pageNewest <= (after ?? 0)) break;
      after = pageNewest;
    }
    return { added, duplicate, pages };
  }

  private webApi(deviceId: string): SpotifyWebApi {
    const { access } = this.options;
    return new SpotifyWebApi({
      http: this.options.http,
      apiUrl: () => this.options.apiUrl,
      limiterKey: deviceId,
      tokens: { token: () => access.accessToken(deviceId), refresh: (refused) => access.refreshedToken(deviceId, refused) },
    });
  }
}

function toPlays(memberId: string, page: RecentlyPlayedPage): PlayInput[] {
  const plays: PlayInput[] = [];
  for (const item of page.items) {
    const track = item.track;
    // The first artist, as the exports name a track's artist.
    const artist = track.artists[0]?.name;
    if (!artist || !track.name) continue;
    plays.push(
      playInput({
        memberId,
        source: 'recently_played',
        endMs: Date.parse(item.played_at),
        track: track.name,
        artist,
        trackUri: isTrackUri(track.uri) ? track.uri : null,
        album: track.album.name || null,
        durationMs: track.duration_ms,
      }),
    );
  }
  return plays;
}
