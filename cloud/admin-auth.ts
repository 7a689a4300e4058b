import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ProtocolError } from '../protocol/index.js';
import { sendError } from './http-errors.js';
import type { Logger } from './log.js';

/**
 * The admin API's one gate (every `/admin/…` router uses it): `Authorization: Bearer
 * ADMIN_TOKEN`. 503 `unavailable` while no token is configured (the API is off), 401
 * `unauthorized` when the header is missing or wrong.
 */
export function requireAdminToken(token: string | undefined, log: Logger): RequestHandler {
  const expected = token ? digest(token) : null;
  return (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('cache-control', 'no-store');
    if (!expected) {
      sendError(res, new ProtocolError('unavailable', 'The admin API is off: set ADMIN_TOKEN in the relay’s environment.'), log);
      return;
    }
    if (!timingSafeEqual(digest(bearerOf(req.headers.authorization)), expected)) {
      log.warn({ path: req.originalUrl, remote: req.ip }, 'admin request refused: missing or wrong token');
      res.setHeader('www-authenticate', 'Bearer realm="leeloo-admin"');
      sendError(res, new ProtocolError('unauthorized', 'Send the admin token as "Authorization: Bearer …".'), log);
      return;
    }
    next();
  };
}

function bearerOf(header: string | undefined): string {
  return /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1] ?? '';
}

// Comparing fixed-length digests keeps the comparison constant-time whatever the lengths.
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
