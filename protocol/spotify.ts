import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ClientMsgId, Timestamp } from './common.js';

/** Names an access token on the wire without sending it back (spotify_token_request.refused): both sides compute it. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/*
 * Spotify sign-in hand-off and token broker messages (listed in Inbound/Outbound of
 * messages.ts). The flow:
 *   device → spotify_signin_start           relay → spotify_signin_session {url, code, expires_at}
 *   (phone opens url, signs in at Spotify)  relay → spotify_auth_complete {tokens:{access_token, expires_in}}
 *   device → spotify_token_request {refused?} relay → spotify_token {access_token, expires_at, api_url}
 *                                            or    → spotify_signin_required {reason, message}
 * The refresh token never leaves the relay.
 */

/** Short human code of a sign-in session: `ABCD-EFGH`, same alphabet as crew codes. */
export const SIGNIN_CODE_PATTERN = /^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/;

/** A Spotify app's client id: 32 hex characters at Spotify; loosened for self-hosted fakes. */
export const SpotifyClientId = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be a Spotify client id (8–64 letters and digits)');
export const SpotifyClientSecret = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_-]{8,128}$/, 'must be a Spotify client secret (8–128 letters and digits)');

export const SpotifyInbound = {
  /** Starts (or restarts, for re-pairing) the phone sign-in for this device. */
  spotify_signin_start: z.object({ type: z.literal('spotify_signin_start'), client_msg_id: ClientMsgId.optional() }),
  /** Asks for a fresh access token; also how a device collects a sign-in completed while it was offline. */
  spotify_token_request: z.object({
    type: z.literal('spotify_token_request'),
    /**
     * After Spotify answered 401: the fingerprint (first 16 hex of sha256) of the refused
     * access token, so the relay refreshes instead of handing the same token out again.
     */
    refused: z
      .string()
      .regex(/^[0-9a-f]{16}$/)
      .optional(),
  }),
  /** Crew owner only: the crew's own Spotify app (client secret only for apps without PKCE). */
  spotify_app_register: z.object({
    type: z.literal('spotify_app_register'),
    client_id: SpotifyClientId,
    client_secret: SpotifyClientSecret.optional(),
    client_msg_id: ClientMsgId.optional(),
  }),
  /** Crew owner only: back to the relay's own app. */
  spotify_app_remove: z.object({ type: z.literal('spotify_app_remove'), client_msg_id: ClientMsgId.optional() }),
} as const;

export const SpotifySigninReason = z.enum(['no_grant', 'revoked', 'app_changed']);
export type SpotifySigninReason = z.infer<typeof SpotifySigninReason>;

export const SpotifyOutbound = {
  spotify_signin_session: z.object({
    type: z.literal('spotify_signin_session'),
    /** PUBLIC_URL + /s/CODE, for the QR code. */
    url: z.url({ protocol: /^https?$/ }),
    code: z.string().regex(SIGNIN_CODE_PATTERN),
    expires_at: Timestamp,
  }),
  spotify_token: z.object({
    type: z.literal('spotify_token'),
    access_token: z.string().min(1),
    expires_at: Timestamp,
    /** The Web API base URL the token is for (configurable on the relay). */
    api_url: z.url({ protocol: /^https?$/ }),
  }),
  spotify_signin_required: z.object({
    type: z.literal('spotify_signin_required'),
    reason: SpotifySigninReason,
    message: z.string(),
  }),
  spotify_app: z.object({
    type: z.literal('spotify_app'),
    /** The crew's own app, or null when the crew uses the relay's app. */
    client_id: z.string().nullable(),
    has_secret: z.boolean(),
  }),
} as const;
