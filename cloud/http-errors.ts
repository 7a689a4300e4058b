import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { ERROR_CODES, httpStatusOf, ProtocolError } from '../protocol/index.js';
import type { Logger } from './log.js';
import { storeUnavailable } from './store/store.js';

/** Gives every request an id (the proxy's X-Request-Id when it sent a sane one), in the answer's header. */
export function requestIds(req: Request, res: Response, next: NextFunction): void {
  const given = req.get('x-request-id');
  const id = given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
}

/**
 * What the client got wrong, when an error is its fault: the body parser's refusals (bad
 * JSON, too large, an encoding or charset it does not speak, a body that does not inflate),
 * a malformed `%` escape in a path or cookie. Null for the relay's own failures.
 */
export function clientErrorOf(error: unknown): ProtocolError | null {
  if (error instanceof ProtocolError) return error;
  if (error instanceof URIError) return new ProtocolError('invalid_message', 'The request has a malformed %-escape in its address or cookie.');
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  if (type === 'entity.parse.failed') return new ProtocolError('invalid_json', 'The request body is not valid JSON.');
  if (type === 'entity.too.large') return new ProtocolError('too_large', 'The request body is too large.');
  if (type === 'encoding.unsupported')
    return new ProtocolError('invalid_message', "The request body's Content-Encoding is not supported; send it uncompressed, gzip or deflate.");
  if (type === 'charset.unsupported') return new ProtocolError('invalid_message', "The request body's charset is not supported; send UTF-8.");
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ProtocolError('invalid_message', 'The request body could not be read (a compressed body that does not inflate, or one cut short).');
  }
  return null;
}

/**
 * Sends a client's error as `{code, error, message}` with its status; anything else is
 * logged with the request id and answered 500 `internal_error` without its details.
 */
export function sendError(res: Response, error: unknown, log: Logger | undefined): void {
  const unavailable = storeUnavailable(error);
  const known = unavailable ?? clientErrorOf(error);
  if (!(error instanceof ProtocolError) && (!known || unavailable))
    log?.error({ err: error, requestId: res.locals?.requestId, path: res.req?.originalUrl }, 'HTTP request failed');
  const code = known?.code ?? 'internal_error';
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (code === 'too_large') res.setHeader('connection', 'close');
  const retry = (error as { retryAfterMs?: number } | null)?.retryAfterMs;
  if (retry !== undefined) res.set('Retry-After', String(Math.ceil(retry / 1000)));
  res.status(httpStatusOf(code)).json({
    code,
    error: code,
    message: known?.message ?? ERROR_CODES.internal_error,
    ...(retry !== undefined ? { retry_after_ms: retry } : {}),
  });
}

/** Answers with what `work` resolves to, as JSON; a rejection is answered as sendError answers it. */
export function sendJson(res: Response, work: () => Promise<unknown>, log: Logger | undefined): void {
  // Async, so a throw inside `work` before its first await is a rejection too.
  (async () => work())().then(
    (answer) => res.json(answer),
    (error: unknown) => sendError(res, error, log),
  );
}
