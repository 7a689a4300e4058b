import type { Response } from 'express';
import { ERROR_CODES, ProtocolError, type ErrorCode } from '../protocol/index.js';
import type { Logger } from './log.js';

/** The HTTP status of each error code the JSON APIs answer with (anything else is 500). */
export const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  invalid_message: 400, invalid_json: 400, unauthorized: 401, not_owner: 403, not_found: 404, invalid_crew_code: 404, crew_not_found: 404,
  not_in_crew: 409, conflict: 409, crew_code_taken: 409, too_large: 413, rate_limited: 429, unavailable: 503,
  invalid_zip: 422, zip_bomb: 422, unsafe_zip_entry: 422, invalid_export: 422, no_history_files: 422,
};

/**
 * Sends a ProtocolError as `{code, error, message}` with its status; anything else is logged
 * and answered 500 `internal_error` without its details.
 */
export function sendError(res: Response, error: unknown, log: Logger): void {
  const known = error instanceof ProtocolError ? error : null;
  if (!known) log.error({ err: error, path: res.req?.originalUrl }, 'HTTP request failed');
  const code = known?.code ?? 'internal_error';
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (code === 'too_large') res.setHeader('connection', 'close');
  res.status(HTTP_STATUS[code] ?? 500).json({ code, error: code, message: known?.message ?? ERROR_CODES.internal_error });
}
