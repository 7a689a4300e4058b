import { ProtocolError } from '../protocol/index.js';

/**
 * Calendar arithmetic in IANA time zones with nothing but Intl: the offset of a zone
 * at an instant, local midnight of a date, and the local date/weekday/hour of an instant.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Throws ProtocolError('invalid_message') for a name Intl does not know. */
export function checkTimeZone(timeZone: string): string {
  formatter(timeZone);
  return timeZone;
}

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new ProtocolError('invalid_message', `"${timeZone.slice(0, 64)}" is not a time zone; use an IANA name like Europe/Paris or UTC.`);
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Minutes to add to UTC to get local time in the zone at this instant. */
export function offsetMinutes(ms: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60_000);
}

export interface LocalTime {
  readonly date: string; // YYYY-MM-DD
  /** 0 = Monday … 6 = Sunday. */
  readonly weekday: number;
  readonly hour: number;
}

export function localTime(ms: number, timeZone: string): LocalTime {
  const shifted = new Date(ms + offsetMinutes(ms, timeZone) * 60_000);
  return { date: shifted.toISOString().slice(0, 10), weekday: (shifted.getUTCDay() + 6) % 7, hour: shifted.getUTCHours() };
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A YYYY-MM-DD that names a real day (Date.UTC rolls 2023-02-29 over to 1 March). */
export function isCalendarDate(date: string): boolean {
  const m = DATE.exec(date);
  if (!m) return false;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === date;
}

/** Checks a YYYY-MM-DD date; throws ProtocolError('invalid_message'). */
export function checkDate(date: string): string {
  if (!isCalendarDate(date)) {
    throw new ProtocolError('invalid_message', `"${date.slice(0, 32)}" is not a date; use YYYY-MM-DD.`);
  }
  return date;
}

/** The instants a local calendar day spans in the zone: [start, end). */
export function localDayRange(date: string, timeZone: string): { fromMs: number; toMs: number } {
  const midnightUtc = Date.parse(`${checkDate(date)}T00:00:00Z`);
  return { fromMs: localMidnight(midnightUtc, timeZone), toMs: localMidnight(midnightUtc + 86_400_000, timeZone) };
}

function localMidnight(midnightUtc: number, timeZone: string): number {
  // Two rounds settle the offset on either side of a DST change.
  let guess = midnightUtc - offsetMinutes(midnightUtc, timeZone) * 60_000;
  guess = midnightUtc - offsetMinutes(guess, timeZone) * 60_000;
  return guess;
}

/** The date `days` days before a YYYY-MM-DD date. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** A recap's period, YYYY-MM or YYYY, as local midnights in the zone: [its first day, the next period's); anything else is refused with a sentence. */
export function recapRange(period: string, timeZone: string): { fromMs: number; toMs: number } {
  checkTimeZone(timeZone);
  const match = /^(\d{4})(?:-(0[1-9]|1[0-2]))?$/.exec(period);
  if (!match) throw new ProtocolError('invalid_message', `The recap period "${period.slice(0, 20)}" is not valid: use YYYY-MM or YYYY.`);
  const year = Number(match[1]);
  const month = match[2] === undefined ? null : Number(match[2]);
  const day = (y: number, m: number) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-01`;
  const start = day(year, month ?? 1);
  const end = month === null || month === 12 ? day(year + 1, 1) : day(year, month + 1);
  return { fromMs: localDayRange(start, timeZone).fromMs, toMs: localDayRange(end, timeZone).fromMs };
}
