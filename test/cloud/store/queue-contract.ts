import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QueueStore, StoredQueueState } from '../../../cloud/store/areas/queue.js';

/** The queue area's contract: SQLite and Redis both run it (queue-store.test.ts). `open` gives an empty area. */
export interface QueueStoreFactory {
  readonly name: string;
  open(): Promise<QueueStore>;
  cleanup(): Promise<void>;
}

const state = (version: number, text = `v${version}`): StoredQueueState => ({ version, json: JSON.stringify({ version, text }) });
const byCrew = <T extends { crewId: string }>(list: T[]) => [...list].sort((a, b) => (a.crewId < b.crewId ? -1 : 1));

export function queueContract(factory: QueueStoreFactory): void {
  describe(`QueueStore contract: ${factory.name}`, () => {
    let queue: QueueStore;

    beforeEach(async () => {
      queue = await factory.open();
    });
    afterEach(async () => {
      await factory.cleanup();
    });

    it('loads nothing for a crew that never saved', async () => {
      expect(await queue.load('crew-none')).toBeNull();
      expect(await queue.listActive()).toEqual([]);
    });

    it('creates the first state only where nothing is stored (expected version 0)', async () => {
      expect(await queue.save('crew-1', state(1), 0, null)).toBe(true);
      expect(await queue.load('crew-1')).toEqual({ state: state(1), announcedVersion: 0 });
      expect(await queue.save('crew-1', state(5, 'other'), 0, 123)).toBe(false);
      expect(await queue.load('crew-1')).toEqual({ state: state(1), announcedVersion: 0 });
    });

    it('writes over the expected version only; a wrong one writes nothing', async () => {
      await queue.save('crew-1', state(1), 0, 1_000);
      expect(await queue.save('crew-1', state(3), 2, 3_000)).toBe(false);
      expect(await queue.save('crew-1', state(3), 0, 3_000)).toBe(false);
      expect(await queue.load('crew-1')).toEqual({ state: state(1), announcedVersion: 0 });
      expect(await queue.listActive()).toEqual([{ crewId: 'crew-1', dueAt: 1_000, unannounced: true }]);
      expect(await queue.save('crew-1', state(2), 1, null)).toBe(true);
      expect((await queue.load('crew-1'))?.state).toEqual(state(2));
      expect(await queue.save('crew-2', state(2), 1, null)).toBe(false);
      expect(await queue.load('crew-2')).toBeNull();
    });

    it('keeps the state exactly as the queue feature wrote it', async () => {
      const json = JSON.stringify({ title: 'Ünïcødé 🎵 "quoted" \\ back', items: Array.from({ length: 500 }, (_, i) => `spotify:track:${i}`) });
      await queue.save('crew-1', { version: 7, json }, 0, null);
      expect((await queue.load('crew-1'))?.state).toEqual({ version: 7, json });
    });

    it('lets exactly one of two writers over the same version win', async () => {
      await queue.save('crew-1', state(1), 0, null);
      const results = await Promise.all([queue.save('crew-1', state(2, 'a'), 1, null), queue.save('crew-1', state(2, 'b'), 1, null)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results[0] ? 'a' : 'b';
      expect((await queue.load('crew-1'))?.state).toEqual(state(2, winner));
    });

    it('lets exactly one of two first writers win', async () => {
      const results = await Promise.all([queue.save('crew-1', state(1, 'a'), 0, null), queue.save('crew-1', state(1, 'b'), 0, 5)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await queue.load('crew-1'))?.state).toEqual(state(1, results[0] ? 'a' : 'b'));
    });

    it('records the announced version, which only grows and survives later saves', async () => {
      await queue.save('crew-1', state(1), 0, null);
      await queue.markAnnounced('crew-1', 1);
      expect((await queue.load('crew-1'))?.announcedVersion).toBe(1);
      await queue.save('crew-1', state(2), 1, null);
      await queue.save('crew-1', state(3), 2, null);
      await queue.markAnnounced('crew-1', 3);
      await queue.markAnnounced('crew-1', 2);
      expect(await queue.load('crew-1')).toEqual({ state: state(3), announcedVersion: 3 });
      await queue.markAnnounced('crew-none', 4);
      expect(await queue.load('crew-none')).toBeNull();
    });

    it('lists crews whose clock runs or whose last change was not fanned out', async () => {
      await queue.save('crew-run', state(1), 0, 9_000);
      await queue.markAnnounced('crew-run', 1);
      await queue.save('crew-crashed', state(1), 0, null);
      await queue.save('crew-idle', state(1), 0, null);
      await queue.markAnnounced('crew-idle', 1);
      expect(byCrew(await queue.listActive())).toEqual([
        { crewId: 'crew-crashed', dueAt: null, unannounced: true },
        { crewId: 'crew-run', dueAt: 9_000, unannounced: false },
      ]);
      // The clock stops and the change is announced: the crew is no longer active; a new change makes it so again.
      await queue.save('crew-run', state(2), 1, null);
      await queue.markAnnounced('crew-run', 2);
      await queue.markAnnounced('crew-crashed', 1);
      expect(await queue.listActive()).toEqual([]);
      await queue.save('crew-idle', state(2), 1, null);
      expect(await queue.listActive()).toEqual([{ crewId: 'crew-idle', dueAt: null, unannounced: true }]);
    });
  });
}
