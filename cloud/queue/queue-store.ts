import { z } from 'zod';
import { ProtocolError } from '../../protocol/errors.js';
import type { QueueState } from './crew-queue.js';

/**
 * The `queue` area of the Store: one state per crew, written whole with compare-and-set
 * on its version, so two relay processes never both advance the same clock.
 */
export interface StoredQueue {
  readonly state: QueueState;
  /** The newest version that was fanned out; lower than state.version after a crash between save and publish. */
  readonly announcedVersion: number;
}

export interface ActiveQueue {
  readonly crewId: string;
  /** When the clock must next advance (epoch ms), or null when stopped. */
  readonly dueAt: number | null;
  readonly unannounced: boolean;
}

export interface QueueStore {
  load(crewId: string): Promise<StoredQueue | null>;
  /**
   * Writes the state if the stored version is still `expectedVersion` (0: nothing stored yet).
   * Returns false, writing nothing, when another writer changed it first.
   */
  save(crewId: string, state: QueueState, expectedVersion: number, dueAt: number | null): Promise<boolean>;
  markAnnounced(crewId: string, version: number): Promise<void>;
  /** Crews whose clock runs or whose last change was not fanned out: what the scheduler picks up at start. */
  listActive(): Promise<ActiveQueue[]>;
}

const Entry = z.object({
  id: z.string(),
  uri: z.string(),
  track: z.string(),
  artist: z.string(),
  album: z.string(),
  albumArtUrl: z.string(),
  durationMs: z.number().nullable(),
  addedBy: z.string().nullable(),
  addedByName: z.string(),
  addedAt: z.number(),
  addIndex: z.number(),
  round: z.number(),
  votes: z.record(z.string(), z.union([z.literal(1), z.literal(-1)])),
  jams: z.array(z.string()),
  throwback: z.boolean(),
});
const StateSchema = z.object({
  version: z.number().int().nonnegative(),
  nowPlaying: Entry.extend({
    clock: z.object({ startedAt: z.number(), durationMs: z.number().positive(), pausedAt: z.number().nullable() }),
    // Queues stored before vote-to-skip have none.
    skipVotes: z.array(z.string()).optional(),
  }).nullable(),
  pending: z.array(Entry),
  played: z.array(z.object({ itemId: z.string(), uri: z.string(), startedAt: z.number(), endedAt: z.number() })),
  throwback: z.boolean(),
  addCounter: z.number(),
  currentRound: z.number(),
  playedRounds: z.record(z.string(), z.number()),
  applied: z.array(z.string()),
});

/** Checks a stored state; a damaged row is reported, not half-used. */
export function parseStoredState(crewId: string, json: string): QueueState {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw new ProtocolError('internal_error', `The stored queue of crew ${crewId} is not valid JSON.`);
  }
  const result = StateSchema.safeParse(data);
  if (!result.success) throw new ProtocolError('internal_error', `The stored queue of crew ${crewId} is damaged: ${result.error.issues[0]?.message}.`);
  return result.data;
}
