import { ERROR_CODES } from '../protocol/errors.js';

/**
 * The one place that talks HTTP to Spotify, shared by the relay (token endpoint, listening
 * history) and the gadget (Web API). It lives under device/ because the gadget ships
 * without cloud/; the relay imports it from here.
 *
 * - 429: the `Retry-After` wait is kept per limiter key (a user, or an app at the token
 *   endpoint), so one rate-limited user never delays another. Short waits are waited
 *   out; longer ones fail at once with `rate_limited` and the time to wait. A 429 whose
 *   body says `QUOTA_EXCEEDED` (the app's quota is used up) fails at once with
 *   `quota_exceeded`: waiting a few seconds does not help.
 * - 403 for a user who is not on a development-mode app's allowlist → `not_allowlisted`.
 * - 5xx, network errors and timeouts (AbortSignal.timeout) are retried with exponential
 *   backoff and jitter, a bounded number of times.
 * - Other error answers become a SpotifyError with a stable code and a sentence.
 */

export type SpotifyErrorCode =
  | 'no_active_device'
  | 'premium_required'
  | 'unauthorized'
  | 'forbidden'
  | 'insufficient_scope'
  | 'not_found'
  | 'bad_request'
  | 'invalid_grant'
  | 'invalid_client'
  | 'rate_limited'
  | 'quota_exceeded'
  | 'not_allowlisted'
  | 'unavailable'
  | 'bad_response';

const SENTENCES: Record<SpotifyErrorCode, string> = {
  quota_exceeded: ERROR_CODES.spotify_quota_exceeded,
  not_allowlisted: ERROR_CODES.spotify_not_allowlisted,
  no_active_device: 'Spotify has no active player: open Spotify on your phone or computer, play something, then try again.',
  premium_required: 'Choosing what Spotify plays needs Spotify Premium on this account.',
  unauthorized: 'Spotify did not accept the access token.',
  forbidden: 'Spotify refused this request for this account.',
  insufficient_scope: 'This Spotify sign-in does not allow this (it was given before LEELOO asked for it); sign in with Spotify again from the gadget.',
  not_found: 'Spotify does not know what this request refers to.',
  bad_request: 'Spotify refused the request as malformed.',
  invalid_grant: 'Spotify no longer accepts this sign-in (revoked or expired); sign in again.',
  invalid_client: 'Spotify does not accept the app credentials (client id or secret).',
  rate_limited: 'Spotify asked to slow down; try again a little later.',
  unavailable: 'Spotify is not answering right now; try again in a minute.',
  bad_response: 'Spotify sent an answer that could not be read.',
};

export class SpotifyError extends Error {
  readonly code: SpotifyErrorCode;
  readonly status: number | null;
  /** For rate_limited: how long Spotify asked to wait. */
  readonly retryAfterMs: number | null;
  /** `sentence` replaces the default one, for errors the relay explains itself. */
  constructor(code: SpotifyErrorCode, options: { status?: number | null; retryAfterMs?: number | null; detail?: string; sentence?: string } = {}) {
    const wait = options.retryAfterMs ? ` (wait ${Math.ceil(options.retryAfterMs / 1000)} s)` : '';
    super((options.sentence ?? SENTENCES[code]) + wait + (options.detail ? ` Spotify said: ${options.detail.slice(0, 200)}` : ''));
    this.name = 'SpotifyError';
    this.code = code;
    this.status = options.status ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}

export interface SpotifyHttpOptions {
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts for 5xx / network errors / timeouts (including the first). */
  maxAttempts?: number;
  /** 429 answers waited out before giving up. */
  maxRateLimitRetries?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A Retry-After longer than this is not waited for: the call fails with rate_limited. */
  maxRetryAfterWaitMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Told what every attempt came to (the relay counts these on /metrics). */
  onOutcome?: (outcome: SpotifyCallOutcome) => void;
}

export type SpotifyCallOutcome = 'ok' | 'rate_limited' | 'quota_exceeded' | 'client_error' | 'server_error' | 'network_error';

export interface SpotifyRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  /** Whose rate limit this call counts against: a Spotify user, or `app:CLIENT_ID`. */
  limiterKey: string;
  headers?: Record<string, string>;
  body?: string;
}

const DEFAULTS: Required<Omit<SpotifyHttpOptions, 'now' | 'sleep' | 'random' | 'onOutcome'>> = {
  timeoutMs: 10_000,
  maxAttempts: 3,
  maxRateLimitRetries: 2,
  backoffBaseMs: 500,
  backoffMaxMs: 8_000,
  maxRetryAfterWaitMs: 30_000,
};

export class SpotifyHttp {
  private readonly options: typeof DEFAULTS;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly onOutcome: (outcome: SpotifyCallOutcome) => void;
  private readonly blockedUntil = new Map<string, number>();

  constructor(options: SpotifyHttpOptions = {}) {
    this.options = { ...DEFAULTS, ...stripUndefined(options) };
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.onOutcome = options.onOutcome ?? (() => undefined);
  }

  /** Resolves with a 2xx or 304 answer; throws SpotifyError for everything else. */
  async send(request: SpotifyRequest): Promise<Response> {
    let failures = 0;
    let rateLimits = 0;
    for (;;) {
      await this.waitForLimiter(request.limiterKey);
      const outcome = await this.attempt(request);
      if (!(outcome instanceof Response)) this.onOutcome('network_error');
      else if (outcome.status === 429) this.onOutcome('rate_limited');
      else if (outcome.status >= 500) this.onOutcome('server_error');
      else if (outcome.ok || outcome.status === 304) this.onOutcome('ok');
      if (outcome instanceof Response) {
        if (outcome.status === 429) {
          this.block(request.limiterKey, outcome.headers.get('retry-after'));
          if (await isQuotaExceeded(outcome)) {
            throw new SpotifyError('quota_exceeded', { status: 429, retryAfterMs: this.waitFor(request.limiterKey) || null });
          }
          if (++rateLimits > this.options.maxRateLimitRetries) throw this.rateLimitError(request.limiterKey, 429);
          continue;
        }
        // An answer that is retried is never read: release its connection now, not at garbage collection.
        if (outcome.status >= 500) await outcome.body?.cancel().catch(() => undefined);
        if (outcome.status < 500) return outcome.ok || outcome.status === 304 ? outcome : Promise.reject(await this.refused(outcome));
      }
      if (++failures >= this.options.maxAttempts) {
        throw new SpotifyError('unavailable', { status: outcome instanceof Response ? outcome.status : null });
      }
      await this.sleep(this.backoff(failures));
    }
  }

  private async refused(response: Response): Promise<SpotifyError> {
    const { error, quotaExceeded } = await errorFrom(response);
    this.onOutcome(quotaExceeded ? 'quota_exceeded' : 'client_error');
    return error;
  }

  /** How long calls under this key must still wait, in ms (0 when free). */
  waitFor(limiterKey: string): number {
    return Math.max(0, (this.blockedUntil.get(limiterKey) ?? 0) - this.now());
  }

  private async attempt(request: SpotifyRequest): Promise<Response | 'failed'> {
    try {
      return await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch {
      // Timeouts, refused connections and resets are all worth another try.
      return 'failed';
    }
  }

  private async waitForLimiter(key: string): Promise<void> {
    const wait = this.waitFor(key);
    if (wait === 0) return;
    if (wait > this.options.maxRetryAfterWaitMs) throw this.rateLimitError(key, null);
    await this.sleep(wait);
  }

  private block(key: string, retryAfter: string | null): void {
    const seconds = Number(retryAfter);
    // Spotify sends whole seconds; without a usable header, wait a second.
    const ms = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 1000;
    this.blockedUntil.set(key, Math.max(this.blockedUntil.get(key) ?? 0, this.now() + ms));
  }

  private rateLimitError(key: string, status: number | null): SpotifyError {
    return new SpotifyError('rate_limited', { status, retryAfterMs: this.waitFor(key) || 1000 });
  }

  private backoff(failures: number): number {
    const ceiling = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** (failures - 1));
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }
}

/** Reads a 429's body (small, and read to the end so the connection is released): is it the app's quota? */
async function isQuotaExceeded(response: Response): Promise<boolean> {
  const text = await response.text().catch(() => '');
  try {
    return (JSON.parse(text) as { error?: { reason?: unknown } } | null)?.error?.reason === 'QUOTA_EXCEEDED';
  } catch {
    return false;
  }
}

/** Spotify's 403 for a token whose sign-in lacks the scope the call needs. */
const INSUFFICIENT_SCOPE = /insufficient client scope/i;
/** Spotify's 403 for a user missing from a development-mode app's allowlist (User Management). */
const NOT_ALLOWLISTED = /not registered|may not be registered|developer dashboard|developer\.spotify\.com\/dashboard/i;

/** Reads Spotify's two error shapes: Web API `{error:{status,message,reason}}`, Accounts `{error, error_description}`. */
async function errorFrom(response: Response): Promise<{ error: SpotifyError; quotaExceeded: boolean }> {
  const text = await response.text().catch(() => '');
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: the status alone decides.
  }
  const record = (body ?? {}) as { error?: unknown; error_description?: unknown };
  const api = typeof record.error === 'object' && record.error !== null ? (record.error as { message?: unknown; reason?: unknown }) : null;
  const reason = typeof api?.reason === 'string' ? api.reason : null;
  const accountsError = typeof record.error === 'string' ? record.error : null;
  const detail = typeof api?.message === 'string' ? api.message : typeof record.error_description === 'string' ? record.error_description : undefined;
  const status = response.status;
  const code: SpotifyErrorCode =
    reason === 'NO_ACTIVE_DEVICE'
      ? 'no_active_device'
      : reason === 'PREMIUM_REQUIRED'
        ? 'premium_required'
        : accountsError === 'invalid_grant'
          ? 'invalid_grant'
          : accountsError === 'invalid_client'
            ? 'invalid_client'
            : status === 401
              ? 'unauthorized'
              : status === 403 && NOT_ALLOWLISTED.test(detail ?? text)
                ? 'not_allowlisted'
                : status === 403 && INSUFFICIENT_SCOPE.test(detail ?? text)
                  ? 'insufficient_scope'
                  : status === 403
                    ? 'forbidden'
                    : status === 404
                      ? 'not_found'
                      : 'bad_request';
  // Development mode: a sixth user, or one not on the app's user list, is refused with 403.
  const quotaExceeded = status === 403 && (reason === 'QUOTA_EXCEEDED' || /not (be )?registered|quota/i.test(detail ?? ''));
  return { error: new SpotifyError(code, { status, detail }), quotaExceeded };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
