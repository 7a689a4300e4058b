/**
 * The `queue` area of the Store: one state per crew, written whole with compare-and-set
 * on its version, so two relay processes never both advance the same clock. The store
 * keeps the state as the queue feature serialised it and reads only its version; the
 * queue feature checks what it loads (cloud/queue/queue-state.ts). SQLite:
 * cloud/store/sqlite-queue.ts.
 */

/** A crew's queue state as the store keeps it. */
export interface StoredQueueState {
  /** The state's version: what save() compares and sets. */
  readonly version: number;
  /** The state itself, as the queue feature wrote it (JSON); the store never reads inside it. */
  readonly json: string;
}

export interface StoredQueue {
  readonly state: StoredQueueState;
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
  save(crewId: string, state: StoredQueueState, expectedVersion: number, dueAt: number | null): Promise<boolean>;
  markAnnounced(crewId: string, version: number): Promise<void>;
  /** Crews whose clock runs or whose last change was not fanned out: what the scheduler picks up at start. */
  listActive(): Promise<ActiveQueue[]>;
}
