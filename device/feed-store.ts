import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { Reaction, SongPush } from '../protocol/index.js';
import { writeFileAtomic } from './atomic-file.js';
import type { Clock, TimerHandle } from './clock.js';
import { FEED_LIMIT, type FeedItem } from './state.js';

const Base = z.object({
  key: z.string(),
  fromDevice: z.string(),
  fromName: z.string(),
  at: z.number(),
  mine: z.boolean(),
  read: z.boolean(),
});
const StoredItem = z.discriminatedUnion('kind', [
  Base.extend({
    kind: z.literal('share'),
    share: SongPush,
    reactions: z.array(z.object({ reaction: Reaction, fromName: z.string(), fromDevice: z.string(), key: z.string().optional() })),
  }),
  Base.extend({
    kind: z.enum(['text', 'nudge', 'hang_propose', 'hang_confirm']),
    text: z.string(),
    datetime: z.string().optional(),
  }),
]);

/**
 * The recent feed on disk (`feed.json`). The relay client resumes after the last seq it
 * saw, so the relay never sends the past again: without this file a restarted gadget
 * would show empty share and message screens. Writes are batched (one per `delayMs`)
 * so a busy crew does not wear the SD card; `flush()` writes what is pending.
 */
export class FeedStore {
  private readonly file: string;
  private pending: readonly FeedItem[] | null = null;
  private timer: TimerHandle | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    dataDir: string,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly delayMs = 2000,
  ) {
    this.file = path.join(dataDir, 'feed.json');
  }

  /** The stored feed; items that do not fit the shape are dropped, a damaged file reads as empty. */
  async load(): Promise<FeedItem[]> {
    let value: unknown;
    try {
      value = JSON.parse(await readFile(this.file, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log.warn({ err: (error as Error).message }, 'feed.json is unreadable; starting with an empty feed');
      }
      return [];
    }
    const items = Array.isArray(value) ? value : [];
    return items
      .flatMap((item) => {
        const parsed = StoredItem.safeParse(item);
        return parsed.success ? [parsed.data as FeedItem] : [];
      })
      .slice(-FEED_LIMIT);
  }

  /** Schedules a write of this feed (the newest one given wins). */
  save(feed: readonly FeedItem[]): void {
    this.pending = feed;
    this.timer ??= this.clock.setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.delayMs);
  }

  /** Writes the pending feed now; resolves when it is on disk (or the write failed, logged). */
  flush(): Promise<void> {
    this.clock.clearTimeout(this.timer);
    this.timer = null;
    const feed = this.pending;
    this.pending = null;
    if (feed) {
      this.writing = this.writing
        .then(() => writeFileAtomic(this.file, JSON.stringify(feed), 0o600))
        .catch((error: Error) => this.log.warn({ err: error.message }, 'could not save the feed'));
    }
    return this.writing;
  }
}
