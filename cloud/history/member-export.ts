import type { Store } from '../store/store.js';
import type { Play } from '../store/areas/history.js';

/**
 * A member's own data, produced page by page so that any amount of history streams
 * with bounded memory: `Readable.from(memberJson(...)).pipe(res)`.
 */
const PAGE = 1000;

async function* playPages(store: Store, memberId: string): AsyncGenerator<Play[]> {
  for (let afterId = 0; ; ) {
    const page = await store.history.playsAfterId(memberId, afterId, PAGE);
    if (page.length === 0) return;
    yield page;
    afterId = page[page.length - 1]!.id;
  }
}

const exportedPlay = (p: Play) => ({
  played_at: new Date(p.endMs).toISOString(),
  source: p.source,
  track: p.track,
  artist: p.artist,
  album: p.album,
  track_uri: p.trackUri,
  ms_played: p.msPlayed,
  duration_ms: p.durationMs,
  skipped: p.skipped,
  shuffle: p.shuffle,
  offline: p.offline,
  reason_start: p.reasonStart,
  reason_end: p.reasonEnd,
});

/** `{member_id, exported_at, plays: [...], events: [...]}`; events are the crew events the member sent. */
export async function* memberJson(store: Store, memberId: string, nowMs = Date.now()): AsyncGenerator<string> {
  yield `{"member_id":${JSON.stringify(memberId)},"exported_at":${JSON.stringify(new Date(nowMs).toISOString())},"plays":[`;
  let first = true;
  for await (const page of playPages(store, memberId)) {
    yield page.map((p) => `${first ? ((first = false), '\n') : ',\n'}${JSON.stringify(exportedPlay(p))}`).join('');
  }
  yield '\n],"events":[';
  first = true;
  const membership = await store.crews.getMembership(memberId);
  if (membership) {
    const events = await store.log.readEventsByTime(membership.crewId, 0, nowMs + 1);
    for (const e of events) {
      if (e.event.type !== 'message' || e.event.from_device !== memberId) continue;
      yield `${first ? '\n' : ',\n'}${JSON.stringify({ at: new Date(e.at).toISOString(), seq: e.seq, event: e.event })}`;
      first = false;
    }
  }
  yield '\n]}\n';
}

export const CSV_COLUMNS = [
  'played_at',
  'source',
  'track',
  'artist',
  'album',
  'track_uri',
  'ms_played',
  'duration_ms',
  'skipped',
  'shuffle',
  'offline',
  'reason_start',
  'reason_end',
] as const;

/** The member's plays as CSV (RFC 4180, CRLF line ends), one line per play. */
export async function* memberCsv(store: Store, memberId: string): AsyncGenerator<string> {
  yield `${CSV_COLUMNS.join(',')}\r\n`;
  for await (const page of playPages(store, memberId)) {
    yield page
      .map((p) => {
        const row = exportedPlay(p);
        return `${CSV_COLUMNS.map((c) => csvField(row[c])).join(',')}\r\n`;
      })
      .join('');
  }
}

/**
 * Quotes a field when it holds a comma, quote or line break, doubling inner quotes; a
 * text that a spreadsheet would run as a formula (=, +, -, @ first) gets a leading '.
 */
export function csvField(value: string | number | boolean | null): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
