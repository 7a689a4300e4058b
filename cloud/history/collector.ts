import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SpotifyError, type SpotifyHttp } from '../../device/spotify/spotify-http.js';
import type { Logger } from '../log.js';
import type { ListeningAccess } from '../spotify/spotify-feature.js';
import type { HistoryStore } from './history-store.js';
import { playInput, type PlayInput } from './plays.js';


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

const RecentlyPlayed = z.object({
  items: z.array(z.object({
    played_at: z.iso.datetime({ offset: true }),
    track: z.object({
      uri: z.string().max(200),
      name: z.string().max(1000),
      duration_ms: z.number().int().nonnegative().nullish(),
      artists: z.array(z.object({ name: z.string().max(1000) })),
      album: z.object({ name: z.string().max(1000) }).nullish(),
    }).nullable(),
  })),
  next: z.string().nullish(),
  cursors: z.object({ after: z.string().nullish(), before: z.string().nullish() }).nullish(),
});
type RecentlyPlayed = z.infer<typeof RecentlyPlayed>;

/**
 * Collects each signed-in member's recently-played into their plays: one member at a
 * time, each about every intervalMs at an offset derived from its id (so members are
 * spread over the interval and keep their slot), following the `after` cursor and the
 * `next` pages. A 429 moves only that member back by its Retry-After.
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
      this.options.log.warn({ deviceId, err: error }, 'could not collect recently-played');
      return this.intervalMs;
    }
  }

  /** Fetches everything after the member's cursor, stores it, then moves the cursor. */
  async collect(deviceId: string): Promise<CollectResult> {
    const cursor = await this.options.history.getCursor(deviceId);
    let url: string | null = `${this.options.apiUrl}/me/player/recently-played?limit=50${cursor === null ? '' : `&after=${cursor}`}`;
    let newest = cursor ?? 0;
    let added = 0;
    let duplicate = 0;
    let pages = 0;
    while (url && pages < (this.options.maxPages ?? 20)) {
      const page = await this.fetchPage(deviceId, url);
      pages += 1;
      const plays = toPlays(deviceId, page);
      const stored = await this.options.history.addPlays(plays);
      added += stored.added;
      duplicate += stored.duplicate;
      newest = Math.max(newest, ...plays.map((p) => p.endMs), Number(page.cursors?.after ?? 0) || 0);
      if (newest > (cursor ?? 0)) await this.options.history.setCursor(deviceId, newest);
      url = page.next && page.items.length > 0 ? page.next : null;
    }
    return { added, duplicate, pages };
  }

  private async fetchPage(deviceId: string, url: string): Promise<RecentlyPlayed> {
    const token = await this.options.access.accessToken(deviceId);
    const response = await this.options.http.send({ method: 'GET', url, limiterKey: `history:${deviceId}`, headers: { authorization: `Bearer ${token}` } });
    const parsed = RecentlyPlayed.safeParse(await response.json().catch(() => null));
    if (!parsed.success) throw new SpotifyError('bad_response', { status: response.status, detail: 'recently-played answer has an unexpected shape' });
    return parsed.data;
  }
}

function toPlays(memberId: string, page: RecentlyPlayed): PlayInput[] {
  const plays: PlayInput[] = [];
  for (const item of page.items) {
    const track = item.track;
    // The first artist, as the exports name a track's artist.
    const artist = track?.artists[0]?.name;
    if (!track || !artist || !track.name) continue;
    plays.push(playInput({
      memberId, source: 'recently_played', endMs: Date.parse(item.played_at), track: track.name, artist,
      trackUri: /^spotify:track:[A-Za-z0-9]+$/.test(track.uri) ? track.uri : null,
      album: track.album?.name ?? null, durationMs: track.duration_ms ?? null,
    }));
  }
  return plays;
}
