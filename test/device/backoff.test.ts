import { describe, expect, it } from 'vitest';
import { Backoff } from '../../device/backoff.js';

describe('Backoff (full jitter)', () => {
  it('doubles the ceiling each failure up to the cap and scales it by the random draw', () => {
    const backoff = new Backoff(1000, 60_000, () => 0.999999);
    const delays = Array.from({ length: 9 }, () => backoff.next());
    expect(delays).toEqual([999, 1999, 3999, 7999, 15999, 31999, 59999, 59999, 59999]);
  });

  it('draws anywhere between zero and the ceiling', () => {
    const draws = [0, 0.5, 0.25];
    const backoff = new Backoff(1000, 60_000, () => draws.shift() ?? 0);
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([0, 1000, 1000]);
  });

  it('starts from the base again after reset', () => {
    const backoff = new Backoff(1000, 60_000, () => 0.5);
    for (let i = 0; i < 10; i++) backoff.next();
    expect(backoff.next()).toBe(30_000);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(500);
  });

  it('never overflows after very many failures', () => {
    const backoff = new Backoff(1000, 60_000, () => 0.5);
    let last = 0;
    for (let i = 0; i < 2000; i++) last = backoff.next();
    expect(last).toBe(30_000);
  });
});
