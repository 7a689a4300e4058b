import { z } from 'zod';
import { ConfigError } from '../config.js';
import { MAX_TRACK_DURATION_MS } from '../../protocol/queue.js';
import type { AirhornLimits } from './airhorn-limit.js';
import type { QueueLimits } from './crew-queue.js';

/** Queue and crew-page settings from the environment (documented in .env.example). */
export interface QueueConfig {
  readonly limits: QueueLimits;
  readonly airhorn: AirhornLimits;
  /** LEELOO_LINK_SECRET; undefined: generated once and kept in the data dir. */
  readonly linkSecret: string | undefined;
  readonly linkTtlMs: number;
  /** The zone "same weekday" means for throwback. */
  readonly timeZone: string;
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const EnvSchema = z.object({
  LEELOO_QUEUE_DEFAULT_DURATION_MS: int(1000, MAX_TRACK_DURATION_MS).default(210_000),
  LEELOO_QUEUE_MAX_LENGTH: int(1, 1000).default(100),
  LEELOO_QUEUE_MAX_PER_MEMBER: int(1, 1000).default(25),
  LEELOO_AIRHORN_MEMBER_GAP_MS: int(0, 3_600_000).default(15_000),
  LEELOO_AIRHORN_CREW_PER_MINUTE: int(1, 1000).default(4),
  LEELOO_LINK_SECRET: z.preprocess(blankIsUnset, z.string().min(32, 'must be at least 32 characters').optional()),
  LEELOO_LINK_TTL_HOURS: int(1, 24 * 365).default(24 * 7),
  LEELOO_TIME_ZONE: z
    .string()
    .default('UTC')
    .refine((zone) => isTimeZone(zone), 'must be an IANA time zone such as Europe/Paris'),
});
/** Every variable this schema reads (documented in .env.example). */
export const QUEUE_ENV_NAMES = Object.keys(EnvSchema.shape);


function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function loadQueueConfig(env: Record<string, string | undefined> = process.env): QueueConfig {
  const result = EnvSchema.safeParse(env);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`));
  const e = result.data;
  return {
    limits: {
      defaultDurationMs: e.LEELOO_QUEUE_DEFAULT_DURATION_MS,
      maxPending: e.LEELOO_QUEUE_MAX_LENGTH,
      maxPendingPerMember: e.LEELOO_QUEUE_MAX_PER_MEMBER,
      maxLateMs: 2_000,
    },
    airhorn: { memberGapMs: e.LEELOO_AIRHORN_MEMBER_GAP_MS, crewPerMinute: e.LEELOO_AIRHORN_CREW_PER_MINUTE },
    linkSecret: e.LEELOO_LINK_SECRET,
    linkTtlMs: e.LEELOO_LINK_TTL_HOURS * 3_600_000,
    timeZone: e.LEELOO_TIME_ZONE,
  };
}
