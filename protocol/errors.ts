/**
 * The closed list of error codes the relay sends in `error` frames and HTTP error bodies, each
 * with its sentence and the HTTP status it is answered with (the one table of both). A code is
 * stable: gadgets and scripts branch on it. The sentence is for people.
 */
export const ERRORS = {
  invalid_json: { status: 400, sentence: 'The frame is not valid JSON.' },
  binary_frame: { status: 400, sentence: 'Binary frames are not supported; send JSON text frames.' },
  unknown_type: { status: 400, sentence: 'The message type is not one the relay knows.' },
  invalid_message: { status: 400, sentence: 'The message does not match its schema.' },
  too_large: { status: 413, sentence: 'The message is larger than the relay accepts.' },
  rate_limited: { status: 429, sentence: 'Too many messages; slow down.' },
  unsupported_version: { status: 400, sentence: 'This protocol version is not supported by the relay.' },
  not_registered: { status: 400, sentence: 'Say hello (or register) before sending this message.' },
  unauthorized: { status: 401, sentence: 'This device id belongs to another device; present its device secret.' },
  invalid_crew_code: { status: 404, sentence: 'No crew has this code.' },
  /** The Telegram bot's API (telegram_bot.py branches on this exact word). */
  crew_not_found: { status: 404, sentence: 'No crew has this code.' },
  crew_code_taken: { status: 409, sentence: 'Another crew already uses this code.' },
  not_in_crew: { status: 409, sentence: 'This device is not a member of a crew.' },
  not_owner: { status: 403, sentence: 'Only the crew owner may do this.' },
  not_found: { status: 404, sentence: 'The thing this message refers to does not exist.' },
  conflict: { status: 409, sentence: 'The request conflicts with the current state.' },
  link_invalid: { status: 401, sentence: 'This crew link is not valid; ask the gadget for a new one.' },
  link_expired: { status: 410, sentence: 'This crew link has expired, or the crew code changed, or the member left; ask the gadget for a new one.' },
  resync_required: { status: 409, sentence: 'The history after the given sequence number is gone; take the current state instead.' },
  // History import (cloud/history): what is wrong with an uploaded Spotify export.
  invalid_zip: { status: 422, sentence: 'The file is not a readable ZIP archive.' },
  zip_bomb: { status: 422, sentence: 'The ZIP archive unpacks to more than the relay accepts.' },
  unsafe_zip_entry: { status: 422, sentence: 'The ZIP archive contains a file name that points outside the archive.' },
  invalid_export: { status: 422, sentence: 'A streaming-history file in the ZIP is not in a Spotify export format.' },
  no_history_files: { status: 422, sentence: 'The ZIP archive contains no Spotify streaming-history files.' },
  // Spotify (cloud/spotify): sign-in hand-off and token broker.
  spotify_not_configured: { status: 503, sentence: 'This relay has no Spotify app configured; its operator must set SPOTIFY_CLIENT_ID.' },
  spotify_signin_required: { status: 409, sentence: 'This gadget is not signed in to Spotify; start the sign-in from the gadget.' },
  spotify_unavailable: { status: 502, sentence: 'Spotify did not answer; the relay will try again shortly.' },
  spotify_refused: { status: 403, sentence: 'Spotify refused this request for this account.' },
  // Gadget setup (device/setup-*): what the phone's setup page and the gadget's screen say.
  setup_invalid: { status: 400, sentence: 'The setup form is not complete; check the fields marked on the page.' },
  wifi_not_found: { status: 422, sentence: 'The gadget cannot see this Wi-Fi network; check its name, or move the gadget closer to the router.' },
  wifi_wrong_password: { status: 422, sentence: 'The Wi-Fi network refused the password; type it again.' },
  wifi_failed: { status: 502, sentence: 'The gadget could not join the Wi-Fi network.' },
  network_unavailable: { status: 503, sentence: 'The gadget cannot control its Wi-Fi (NetworkManager is not running or nmcli is missing).' },
  update_failed: { status: 500, sentence: 'The update could not be installed; the gadget keeps the version it runs.' },
  spotify_not_allowlisted: {
    status: 403,
    sentence:
      "Spotify refused this account: it is not on the allowlist of the crew's Spotify app. Ask your crew owner to add your Spotify e-mail to the crew's Spotify app (User Management in Spotify's developer dashboard), then sign in again.",
  },
  spotify_signin_stale: {
    status: 410,
    sentence: 'Spotify did not accept this sign-in: the link was already used or is stale. Start the sign-in again from the gadget.',
  },
  spotify_signin_replaced: {
    status: 410,
    sentence: 'A newer sign-in was started on this gadget, which replaced this one. Scan the code the gadget shows now.',
  },
  spotify_rate_limited: { status: 429, sentence: 'Spotify asked this account to slow down; wait, then open the same link again (it still works).' },
  spotify_quota_exceeded: {
    status: 503,
    sentence:
      "Spotify says the Spotify app has used up its quota (QUOTA_EXCEEDED): an app in development mode serves few users and calls, and extended quota is only granted to businesses. The crew owner can register the crew's own Spotify app on the crew page.",
  },
  spotify_app_unknown: {
    status: 400,
    sentence: "Spotify does not know this client id (or its secret is wrong); copy the client id from the app's page in Spotify's developer dashboard.",
  },
  unavailable: { status: 503, sentence: 'The relay cannot reach its store right now; try again shortly.' },
  internal_error: { status: 500, sentence: 'The relay failed to handle this message; it has been logged.' },
} as const satisfies Record<string, { status: number; sentence: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Each code's sentence, for an error that has nothing more specific to say. */
export const ERROR_CODES = Object.fromEntries(Object.entries(ERRORS).map(([code, { sentence }]) => [code, sentence])) as Record<ErrorCode, string>;

/** The HTTP status an HTTP API answers a code with. */
export function httpStatusOf(code: ErrorCode): number {
  return ERRORS[code].status;
}

export const ERROR_CODE_LIST = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** An error that carries a stable code and a sentence a person can act on. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  /** With `rate_limited`: how long until the sender may try again. */
  readonly retryAfterMs: number | undefined;
  constructor(code: ErrorCode, message: string = ERROR_CODES[code], retryAfterMs?: number) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}
