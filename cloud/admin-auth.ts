import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
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

/**
 * The /metrics gate: `Authorization: Bearer METRICS_TOKEN` (compared in constant time), or
 * a client address in METRICS_ALLOW. The address is express's req.ip, so X-Forwarded-For
 * counts only when TRUST_PROXY trusts the proxy that set it. 401 otherwise.
 */
export function requireMetricsAccess(access: { token?: string; allow: readonly string[] }, log: Logger): RequestHandler {
  const expected = access.token ? digest(access.token) : null;
  const allowed = addressList(access.allow);
  return (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('cache-control', 'no-store');
    const header = req.headers.authorization;
    const byToken = expected !== null && header !== undefined && timingSafeEqual(digest(bearerOf(header)), expected);
    if (byToken || addressAllowed(allowed, req.ip)) {
      next();
      return;
    }
    log.debug({ remote: req.ip }, 'metrics request refused');
    res.setHeader('www-authenticate', 'Bearer realm="leeloo-metrics"');
    const sentence = expected
      ? 'Send the metrics token as "Authorization: Bearer …", or scrape from an address in METRICS_ALLOW.'
      : 'Scrape /metrics from an address in METRICS_ALLOW, or set METRICS_TOKEN and send it as "Authorization: Bearer …".';
    sendError(res, new ProtocolError('unauthorized', sentence), log);
  };
}

/** METRICS_ALLOW entries: `loopback`, an IPv4/IPv6 address, or a subnet (`10.0.0.0/8`). */
export function parseAddressEntry(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' }[] | null {
  if (entry === 'loopback')
    return [
      { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
    ];
  const [address = '', bits] = entry.split('/');
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
  if (!family) return null;
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  return prefix >= 0 && prefix <= max ? [{ address, prefix, family }] : null;
}

function addressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) for (const net of parseAddressEntry(entry) ?? []) list.addSubnet(net.address, net.prefix, net.family);
  return list;
}

function addressAllowed(list: BlockList, ip: string | undefined): boolean {
  if (!ip) return false;
  // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (v4) return list.check(v4, 'ipv4');
  return isIPv4(ip) ? list.check(ip, 'ipv4') : isIPv6(ip) && list.check(ip, 'ipv6');
}

function bearerOf(header: string | undefined): string {
  return /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1] ?? '';
}

/** True when `candidate` is the configured admin token (constant-time; false while none is set). */
export function adminTokenMatches(token: string | undefined, candidate: string): boolean {
  return token !== undefined && timingSafeEqual(digest(candidate), digest(token));
}

/** What the operator page keeps in its cookie instead of the token itself. */
export function adminTokenDigest(token: string): string {
  return createHash('sha256').update(`leeloo-operator\n${token}`, 'utf8').digest('base64url');
}

// Comparing fixed-length digests keeps the comparison constant-time whatever the lengths.
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
