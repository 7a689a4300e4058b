/**
 * The closed list of error codes the relay sends in `error` frames and HTTP error bodies.
 * A code is stable: gadgets and scripts branch on it. The sentence is for people.
 */
export const ERROR_CODES = {
  invalid_json: 'The frame is not valid JSON.',
  binary_frame: 'Binary frames are not supported; send JSON text frames.',
  unknown_type: 'The message type is not one the relay knows.',
  invalid_message: 'The message does not match its schema.',
  too_large: 'The message is larger than the relay accepts.',
  rate_limited: 'Too many messages; slow down.',
  unsupported_version: 'This protocol version is not supported by the relay.',
  not_registered: 'Say hello (or register) before sending this message.',
  unauthorized: 'This device id belongs to another device; present its device secret.',
  invalid_crew_code: 'No crew has this code.',
  crew_code_taken: 'Another crew already uses this code.',
  not_in_crew: 'This device is not a member of a crew.',
  not_owner: 'Only the crew owner may do this.',
  not_found: 'The thing this message refers to does not exist.',
  conflict: 'The request conflicts with the current state.',
  resync_required: 'The history after the given sequence number is gone; take the current state instead.',
  unavailable: 'The relay cannot reach its store right now; try again shortly.',
  internal_error: 'The relay failed to handle this message; it has been logged.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** An error that carries a stable code and a sentence a person can act on. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string = ERROR_CODES[code]) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}
