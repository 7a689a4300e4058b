import { expect } from 'vitest';

export interface LimitedAnswer {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: { readonly code?: unknown };
}

/**
 * Fires `count` requests at once and checks a token bucket held: at most the burst and what
 * `perSecond` refilled while the volley lasted got through, and every refusal is a 429
 * `rate_limited` with a Retry-After of at least a second.
 */
export async function expectVolleyLimited(
  count: number,
  fire: (i: number) => Promise<LimitedAnswer>,
  budget: { readonly burst: number; readonly perSecond: number },
): Promise<void> {
  const startedAt = Date.now();
  const answers = await Promise.all(Array.from({ length: count }, (_, i) => fire(i)));
  const elapsedS = (Date.now() - startedAt) / 1000;
  const limited = answers.filter((a) => a.status === 429);
  expect(count - limited.length).toBeLessThanOrEqual(budget.burst + Math.ceil(budget.perSecond * elapsedS) + 1);
  expect(limited.length).toBeGreaterThan(0);
  for (const a of limited) {
    expect(a.body.code).toBe('rate_limited');
    expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
  }
}
