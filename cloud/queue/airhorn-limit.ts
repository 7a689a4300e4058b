/**
 * Airhorns are loud on every gadget, so they are limited twice: one per member per
 * `memberGapMs`, and at most `crewPerMinute` per crew in any 60 s. Kept in memory: a
 * relay restart forgets them, which costs at most one extra airhorn per member.
 */
export interface AirhornLimits {
  readonly memberGapMs: number;
  readonly crewPerMinute: number;
}

export type AirhornVerdict = { ok: true } | { ok: false; scope: 'member' | 'crew'; retryAfterMs: number };

const MINUTE = 60_000;

export class AirhornLimit {
  private readonly limits: AirhornLimits;
  private readonly lastByMember = new Map<string, number>();
  private readonly recentByCrew = new Map<string, number[]>();

  constructor(limits: AirhornLimits) {
    this.limits = limits;
  }

  /** Counts the airhorn when allowed; a refused one does not count. */
  take(crewId: string, deviceId: string, now: number): AirhornVerdict {
    const last = this.lastByMember.get(deviceId);
    if (last !== undefined && now - last < this.limits.memberGapMs) {
      return { ok: false, scope: 'member', retryAfterMs: this.limits.memberGapMs - (now - last) };
    }
    const recent = (this.recentByCrew.get(crewId) ?? []).filter((at) => now - at < MINUTE);
    if (recent.length >= this.limits.crewPerMinute) {
      return { ok: false, scope: 'crew', retryAfterMs: MINUTE - (now - recent[0]!) };
    }
    recent.push(now);
    this.recentByCrew.set(crewId, recent);
    this.lastByMember.set(deviceId, now);
    return { ok: true };
  }

  /** Drops entries nobody can be limited by any more (called from the scheduler's housekeeping). */
  prune(now: number): void {
    for (const [member, at] of this.lastByMember) if (now - at >= this.limits.memberGapMs) this.lastByMember.delete(member);
    for (const [crew, times] of this.recentByCrew) {
      const kept = times.filter((at) => now - at < MINUTE);
      if (kept.length === 0) this.recentByCrew.delete(crew);
      else this.recentByCrew.set(crew, kept);
    }
  }
}
