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
export const CrewCode = z
  .string()
  .trim()
  .toUpperCase()
  .regex(CREW_CODE_PATTERN, 'must look like LEELOO-XXXX (letters and digits without I, O, 0, 1)');

/**
 * The codes field gadgets use: the relay's own `LEELOO-XXXX`, or a crew word a first-generation
 * fleet chose (`alpha`). Any 1–64 printable characters, compared without case: stored upper-case.
 */
export const CrewWord = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters')
  .transform((s) => s.toUpperCase());

export const DeviceId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'must be 1–64 letters, digits, "_", ".", ":" or "-"');

// Control characters would break the LCD's text layout and the web pages.
const printable = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters');

export const DisplayName = printable(32);
/**
 * Crew text as people write it (the Telegram bot relays whole messages): line breaks and tabs
 * are kept, every other control character is refused.
 */
export const MessageText = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => s.trim().length > 0, 'must not be empty')
    .refine((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s), 'must not contain control characters other than line breaks and tabs');
export const ShortText = (max: number) => printable(max);
/** Optional free text that gadgets send as "" when absent. */
export const OptionalText = (max: number) =>
  z.string().max(max, `must be at most ${max} characters`).default('');

export const DeviceSecret = z.string().regex(/^[A-Za-z0-9_-]{32,128}$/, 'is not a device secret');

/** Client message ids make state-changing messages idempotent across reconnects. */
export const ClientMsgId = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1–64 letters, digits, "_", ".", ":" or "-"');

export const Seq = z.number().int().nonnegative();

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
