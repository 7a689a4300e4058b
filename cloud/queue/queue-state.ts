import { z } from 'zod';
import { ProtocolError } from '../../protocol/errors.js';
import type { QueueStore, StoredQueueState } from '../store/areas/queue.js';
import type { QueueState } from './crew-queue.js';

/**
 * A crew's queue as the queue feature keeps it in the store's `queue` area
 * (cloud/store/areas/queue.ts): the store holds it as JSON with its version; what is
 * loaded is checked here against the state's shape before the queue core sees it.
 */
export interface LoadedQueue {
  readonly state: QueueState;
  /** The newest version that was fanned out; lower than state.version after a crash between save and publish. */
  readonly announcedVersion: number;
}

/** The crew's stored queue, checked (parseStoredState); null when it has none. */
export async function loadQueue(store: QueueStore, crewId: string): Promise<LoadedQueue | null> {
  const stored = await store.load(crewId);
  return stored && { state: parseStoredState(crewId, stored.state), announcedVersion: stored.announcedVersion };
}

/** The state as the store keeps it. */
export function storedState(state: QueueState): StoredQueueState {
  return { version: state.version, json: JSON.stringify(state) };
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
export function parseStoredState(crewId: string, stored: StoredQueueState): QueueState {
  let data: unknown;
  try {
    data = JSON.parse(stored.json);
  } catch {
    throw new ProtocolError('internal_error', `The stored queue of crew ${crewId} is not valid JSON.`);
  }
  const result = StateSchema.safeParse(data);
  if (!result.success) throw new ProtocolError('internal_error', `The stored queue of crew ${crewId} is damaged: ${result.error.issues[0]?.message}.`);
  return result.data;
}
