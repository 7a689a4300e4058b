import { TokenBucket } from './token-bucket.js';
import type { Logger } from './log.js';

/**
 * A budget per client address, shared by every connection from it: `perHour` tokens refill
 * continuously up to `burst`. Once spent, each refusal doubles the wait (up to
 * `maxBackoffMs`), so hammering a spent budget only pushes the next try further away; the
 * back-off is forgiven once the address has waited its full refill time.
 */
export interface AddressBudgetSettings {
  readonly perHour: number;
  readonly burst: number;
  readonly maxBackoffMs: number;
}

interface AddressState {
  readonly bucket: TokenBucket;
  strikes: number;
  blockedUntil: number;
}

export type BudgetVerdict = { ok: true } | { ok: false; retryAfterMs: number; firstRefusal: boolean };

export class AddressBudget {
  private readonly states = new Map<string, AddressState>();

  constructor(
    private readonly settings: AddressBudgetSettings,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** Whether the address may try now, without spending anything. */
  check(address: string): BudgetVerdict {
    const state = this.states.get(addressKey(address));
    const now = this.now();
    if (!state) return { ok: true };
    this.forgive(state, now);
    if (state.blockedUntil > now) return this.refuse(state, now, false);
    return { ok: true };
  }

  /** Spends one token (a failed join, a new crew); refuses, with a growing wait, when none is left. */
  take(address: string): BudgetVerdict {
    const key = addressKey(address);
    const now = this.now();
    let state = this.states.get(key);
    if (!state) {
      if (this.states.size >= this.maxKeys) this.states.delete(this.states.keys().next().value!);
      state = { bucket: new TokenBucket(this.settings.perHour / 3600, this.settings.burst, this.now), strikes: 0, blockedUntil: 0 };
      this.states.set(key, state);
    }
    this.forgive(state, now);
    if (state.blockedUntil > now) return this.refuse(state, now, false);
    if (state.bucket.take().ok) return { ok: true };
    return this.refuse(state, now, true);
  }

  /** Addresses currently waiting out a back-off. */
  blockedCount(): number {
    const now = this.now();
    let count = 0;
    for (const state of this.states.values()) if (state.blockedUntil > now) count += 1;
    return count;
  }

  /** Every refusal doubles the wait (from one token's refill time), up to maxBackoffMs. */
  private refuse(state: AddressState, now: number, first: boolean): BudgetVerdict {
    state.strikes += 1;
    const tokenMs = 3_600_000 / this.settings.perHour;
    const wait = Math.min(this.settings.maxBackoffMs, tokenMs * 2 ** Math.min(30, state.strikes - 1));
    state.blockedUntil = Math.max(state.blockedUntil, now + wait);
    return { ok: false, retryAfterMs: Math.max(1, Math.ceil(state.blockedUntil - now)), firstRefusal: first };
  }

  private forgive(state: AddressState, now: number): void {
    if (state.strikes > 0 && now - state.blockedUntil >= (this.settings.burst / this.settings.perHour) * 3_600_000) state.strikes = 0;
  }
}

/**
 * The key an address is budgeted under: an IPv4 address as is (also when IPv4-mapped), an
 * IPv6 address by its /64 (one customer's prefix; a host picks any address inside it).
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('%')[0]!.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export type EntryBudgetKind = 'join_failures' | 'new_crews';

/**
 * The two crew-entry budgets of the relay (failed joins, new crews) with their alarm: the
 * first refusal of an address is logged as a suspected crew-code sweep, every refusal is
 * counted in leeloo_address_budget_refusals_total and addresses backing off are a gauge.
 */
export class EntryBudgets {
  private readonly budgets: Record<EntryBudgetKind, AddressBudget>;

  constructor(
    settings: { readonly joinFailures: AddressBudgetSettings; readonly newCrews: AddressBudgetSettings },
    private readonly alarm: { log: Logger; refusals: { inc(labels: { budget: string }): void } },
    now: () => number = Date.now,
  ) {
    this.budgets = { join_failures: new AddressBudget(settings.joinFailures, now), new_crews: new AddressBudget(settings.newCrews, now) };
  }

  /** Whether `address` may try at all (a spent budget refuses even the right code: no oracle). */
  check(kind: EntryBudgetKind, address: string | undefined): BudgetVerdict {
    return this.counted(kind, address, this.budgets[kind].check(address ?? 'unknown'));
  }

  take(kind: EntryBudgetKind, address: string | undefined): BudgetVerdict {
    return this.counted(kind, address, this.budgets[kind].take(address ?? 'unknown'));
  }

  blockedCount(): number {
    return this.budgets.join_failures.blockedCount() + this.budgets.new_crews.blockedCount();
  }

  private counted(kind: EntryBudgetKind, address: string | undefined, verdict: BudgetVerdict): BudgetVerdict {
    if (verdict.ok) return verdict;
    this.alarm.refusals.inc({ budget: kind });
    if (verdict.firstRefusal) {
      this.alarm.log.warn(
        { budget: kind, address: addressKey(address ?? 'unknown'), retryAfterMs: verdict.retryAfterMs },
        'address spent its crew-entry budget (crew-code sweep or crew squatting?); backing it off',
      );
    }
    return verdict;
  }
}
