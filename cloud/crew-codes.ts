import crypto from 'node:crypto';
import { CREW_CODE_ALPHABET } from '../protocol/index.js';

/** A fresh `LEELOO-XXXX` code; crypto randomness so codes cannot be predicted. */
export function newCrewCode(): string {
  let suffix = '';
  for (let i = 0; i < 4; i += 1) suffix += CREW_CODE_ALPHABET[crypto.randomInt(CREW_CODE_ALPHABET.length)];
  return `LEELOO-${suffix}`;
}

/** Crew ids are stable while codes can be rotated. */
export function newCrewId(): string {
  return `crew-${crypto.randomBytes(9).toString('base64url')}`;
}
