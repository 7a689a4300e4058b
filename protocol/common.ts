import { z } from 'zod';

/**
 * Protocol generations:
 *  1 — first-generation gadgets (`register`, `share_music`, `reaction`).
 *  2 — second-generation gadgets (`create_crew`, `join_crew`, `message`).
 *  3 — the current protocol: `hello` with a device credential, client message ids,
 *      acks, per-crew sequence numbers and `resume`.
 * A connection's generation decides the dialect the relay answers it in.
 */
export const PROTOCOL_VERSION = 3;
export type Generation = 1 | 2 | 3;

/** Crew codes look like `LEELOO-7KQ2`: four characters from an alphabet without I, O, 0 and 1. */
export const CREW_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const CREW_CODE_PATTERN = /^LEELOO-[A-HJ-NP-Z2-9]{4}$/;

/** People type codes on phones: accept any case and stray spaces, keep the canonical form. */
export const CrewCode = z.string().trim().toUpperCase().regex(CREW_CODE_PATTERN, 'must look like LEELOO-XXXX (letters and digits without I, O, 0, 1)');

export const DeviceId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'must be 1–64 letters, digits, "_", ".", ":" or "-"');

/*
 * The one text rule for every free-text field. Refused everywhere: control characters (C0, DEL,
 * C1) — they break the LCD's text layout and the web pages; bidi embeddings, overrides and
 * isolates (U+202A–202E, U+2066–2069) — they make a name read as another; lone surrogates —
 * not text at all. Names and labels (display names, crew names, artist, track, album, note)
 * also refuse zero-width characters (U+200B–200D, U+2060, U+FEFF), with which two names look
 * alike. Message text keeps line breaks and tabs, and the zero-width joiner that emoji
 * sequences (👩‍👩‍👧) are made of.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;
const ZERO_WIDTH = /[\u200b-\u200d\u2060\ufeff]/;
const ZERO_WIDTH_BUT_JOINER = /[\u200b\u200c\u2060\ufeff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export type TextKind = 'name' | 'message';

/** Why `text` breaks the text rule for a field of this kind, or null when it keeps it. */
export function textProblem(text: string, kind: TextKind): string | null {
  if ((kind === 'message' ? CONTROL_BUT_LINES : CONTROL).test(text)) {
    return kind === 'message' ? 'must not contain control characters other than line breaks and tabs' : 'must not contain control characters';
  }
  if (BIDI_CONTROL.test(text)) return 'must not contain bidirectional override characters';
  if ((kind === 'message' ? ZERO_WIDTH_BUT_JOINER : ZERO_WIDTH).test(text)) return 'must not contain zero-width characters';
  if (LONE_SURROGATE.test(text)) return 'must not contain unpaired surrogates';
  return null;
}

/** `text` with whatever the name rule refuses replaced by spaces (for names a third party sends). */
export function cleanName(text: string): string {
  const refused = new RegExp(`${CONTROL.source}|${BIDI_CONTROL.source}|${ZERO_WIDTH.source}|${LONE_SURROGATE.source}`, 'g');
  return text.replace(refused, ' ');
}

/** A zod string checked against the text rule (one issue, naming the first problem found). */
const ruled = (schema: z.ZodString, kind: TextKind) =>
  schema.superRefine((s, ctx) => {
    const problem = textProblem(s, kind);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * The codes field gadgets use: the relay's own `LEELOO-XXXX`, or a crew word a first-generation
 * fleet chose (`alpha`). Any 1–64 printable characters, compared without case: stored upper-case.
 */
export const CrewWord = ruled(z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters'), 'name').transform((s) => s.toUpperCase());

const printable = (max: number) => ruled(z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`), 'name');

export const DisplayName = printable(32);
/**
 * Crew text as people write it (the Telegram bot relays whole messages): line breaks and tabs
 * are kept, every other control character is refused.
 */
export const MessageText = (max: number) =>
  ruled(
    z
      .string()
      .min(1, 'must not be empty')
      .max(max, `must be at most ${max} characters`)
      .refine((s) => s.trim().length > 0, 'must not be empty'),
    'message',
  );
export const ShortText = (max: number) => printable(max);
/** Optional free text that gadgets send as "" when absent. */
export const OptionalText = (max: number) => ruled(z.string().max(max, `must be at most ${max} characters`), 'name').default('');

export const DeviceSecret = z.string().regex(/^[A-Za-z0-9_-]{32,128}$/, 'is not a device secret');

/** Client message ids make state-changing messages idempotent across reconnects. */
export const ClientMsgId = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1–64 letters, digits, "_", ".", ":" or "-"');

export const Seq = z.number().int().nonnegative();

/** The one track-URI rule: what the relay stores and every part checks (`spotify:track:` and a base-62 id). */
export const TRACK_URI = /^spotify:track:([A-Za-z0-9]{1,64})$/;
/** A Spotify catalog track, whose id is 22 base-62 characters: what a pasted link names and a catalog lookup takes. */
export const CATALOG_TRACK_URI = /^spotify:track:([A-Za-z0-9]{22})$/;
/** A pasted open.spotify.com track link, with or without intl-xx and ?si=…; its group is the catalog id. */
export const TRACK_LINK = /^https:\/\/open\.spotify\.com\/(?:intl-[a-z]{2}(?:-[A-Za-z]{2})?\/)?track\/([A-Za-z0-9]{22})(?:[/?#].*)?$/;

export function isTrackUri(uri: string): boolean {
  return TRACK_URI.test(uri);
}

export const SpotifyUri = z
  .string()
  .trim()
  .regex(/^spotify:(track|episode|album|playlist|artist):[A-Za-z0-9]{1,64}$/, 'must be a Spotify URI like spotify:track:…');

/** The reactions the current protocol shows (device screens draw these). */
export const Reaction = z.enum(['love', 'fire']);
export type Reaction = z.infer<typeof Reaction>;
/**
 * What a gadget may send as a reaction: the field gadgets know `love`, `fire`, `haha` and
 * `wave` and relay any short word. Relayed unchanged to the older generations; current-protocol
 * devices get the ones that are a `Reaction` (see dialects.ts).
 */
export const ReactionWord = z
  .string()
  .trim()
  .regex(/^[\p{L}\p{N}_-]{1,24}$/u, 'must be one short word (1–24 letters, digits, "_" or "-")');
export type ReactionWord = z.infer<typeof ReactionWord>;
export function isReaction(word: string): word is Reaction {
  return Reaction.safeParse(word).success;
}

/** Milliseconds since the Unix epoch: what the field gadgets put in `timestamp`. */
export const Timestamp = z.number().int().nonnegative();
