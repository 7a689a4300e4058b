/**
 * A play is one listening of one track by one crew member, from one of three sources.
 * Each source knows the end of the play with a different precision:
 *  - `recently_played`: Spotify's `played_at`, milliseconds;
 *  - `import_extended`: the extended export's `ts`, seconds (with `ms_played`);
 *  - `import_account`: the account-data export's `endTime`, minutes, and no URI.
 *
 * The matching rule (applied by the store when it adds plays): two plays of one member
 * are the same play when their track identities match — the same URI when both have
 * one, or the same trackKey() — and
 *  - from the same source, their end times are equal (so repeats of a short track stay
 *    separate plays), or
 *  - from different sources, their end minutes differ by at most MATCH_WINDOW_MINUTES.
 * The play stored first is kept; the later one is a duplicate.
 */
export type PlaySource = 'recently_played' | 'import_extended' | 'import_account';

export const MATCH_WINDOW_MINUTES = 1;

export interface PlayInput {
  readonly memberId: string;
  readonly source: PlaySource;
  /** End of the play, ms since epoch (UTC). */
  readonly endMs: number;
  readonly trackUri: string | null;
  readonly track: string;
  readonly artist: string;
  readonly album: string | null;
  /** How long it was heard; null when the source does not say (recently-played). */
  readonly msPlayed: number | null;
  /** The track's length when known; stands in for msPlayed in listening time. */
  readonly durationMs: number | null;
  readonly skipped: boolean | null;
  readonly shuffle: boolean | null;
  readonly offline: boolean | null;
  readonly reasonStart: string | null;
  readonly reasonEnd: string | null;
}

export interface Play extends PlayInput {
  readonly id: number;
  readonly trackKey: string;
}

/**
 * The identity of a track when there is no URI: artist and title folded so that the
 * spellings different exports use ("Beyoncé", "BEYONCE ", "beyonce") meet.
 */
export function trackKey(artist: string, track: string): string {
  return `${fold(artist)}\u001f${fold(track)}`;
}

function fold(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** Fills the optional fields of a play with null. */
export function playInput(fields: Pick<PlayInput, 'memberId' | 'source' | 'endMs' | 'track' | 'artist'> & Partial<PlayInput>): PlayInput {
  return {
    trackUri: null,
    album: null,
    msPlayed: null,
    durationMs: null,
    skipped: null,
    shuffle: null,
    offline: null,
    reasonStart: null,
    reasonEnd: null,
    ...fields,
  };
}
