import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CrewEvent } from '../../protocol/index.js';
import { CrewSequencer } from '../../cloud/crew-sequencer.js';
import { createLogger } from '../../cloud/log.js';
import { openSqliteStore } from '../../cloud/store/sqlite-store.js';
import type { Store } from '../../cloud/store/store.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * The order of live events when several relay processes commit them: this process's own come
 * at once, the others' a little later over the bus; the sequencer delivers each crew's seqs in
 * order, each once, and reads from the log what the bus did not bring.
 */
describe('crew sequencer', () => {
  let store: Store;
  let sequencer: CrewSequencer;
  let delivered: number[];
  let reads: number;

  beforeEach(async () => {
    store = openSqliteStore(':memory:');
    await store.crews.saveDevice({ deviceId: 'dev-a', displayName: 'A' });
    await store.crews.createCrew({ crewId: 'crew-1', crewCode: 'LEELOO-1', crewName: 'Crew', ownerDeviceId: 'dev-a' });
    delivered = [];
    reads = 0;
    const log = store.log;
    sequencer = new CrewSequencer({
      log: {
        position: (crewId) => log.position(crewId),
        readEvents: (crewId, afterSeq, options) => {
          reads += 1;
          return log.readEvents(crewId, afterSeq, options);
        },
      },
      deliver: (_crewId, event) => delivered.push(event.seq!),
      hasSessions: () => true,
      logger: createLogger('silent'),
    });
  });
  afterEach(async () => {
    sequencer.close();
    await store.close();
  });

  /** Appends n texts to the crew's log and returns them as committed (with seq). */
  async function commit(n: number): Promise<CrewEvent[]> {
    const events: CrewEvent[] = [];
    for (let i = 0; i < n; i += 1) {
      const event = { type: 'message', from_device: 'dev-a', from_name: 'A', timestamp: 1000 + i, msg_type: 'text', payload: { text: `t${i}` } } as const;
      const [result] = await store.log.appendEvents([{ crewId: 'crew-1', event }]);
      events.push({ ...event, seq: result!.seq, crew_code: 'LEELOO-1' } as CrewEvent);
    }
    return events;
  }

  it('delivers in seq order what arrives out of order, each seq once, without reading the log', async () => {
    const events = await commit(4);
    sequencer.offer('crew-1', events[0]!, null);
    sequencer.offer('crew-1', events[2]!, null);
    sequencer.offer('crew-1', events[1]!, null);
    sequencer.offer('crew-1', events[1]!, null);
    sequencer.offer('crew-1', events[3]!, null);
    expect(delivered).toEqual([1, 2, 3, 4]);
    expect(reads).toBe(0);
  });

  it('reads from the log an event the bus never brought, then goes on in order', async () => {
    const events = await commit(5);
    sequencer.offer('crew-1', events[0]!, null);
    sequencer.offer('crew-1', events[3]!, null);
    sequencer.offer('crew-1', events[4]!, null);
    expect(delivered).toEqual([1]);
    await waitUntil(() => delivered.length === 5, 'the gap read from the log');
    expect(delivered).toEqual([1, 2, 3, 4, 5]);
    expect(reads).toBe(1);
  });

  it('reads a gap from the log at once: every lower seq is stored, so it waits on no timer for the bus', async () => {
    const events = await commit(3);
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      sequencer.offer('crew-1', events[0]!, null);
      sequencer.offer('crew-1', events[2]!, null);
      await waitUntil(() => delivered.length === 3, 'the gap read from the log while no timer runs');
    } finally {
      vi.useRealTimers();
    }
    expect(delivered).toEqual([1, 2, 3]);
    expect(reads).toBe(1);
  });

  it('a gap the bus closes in the same turn of the event loop is not read from the log', async () => {
    const events = await commit(3);
    sequencer.offer('crew-1', events[0]!, null);
    sequencer.offer('crew-1', events[2]!, null);
    await Promise.resolve();
    sequencer.offer('crew-1', events[1]!, null);
    await new Promise((resolve) => setImmediate(resolve));
    expect(delivered).toEqual([1, 2, 3]);
    expect(reads).toBe(0);
  });

  it('a crew a socket joins starts after the log position: what the join replays is not delivered live again', async () => {
    const events = await commit(3);
    sequencer.track('crew-1');
    sequencer.offer('crew-1', events[2]!, null);
    sequencer.offer('crew-1', events[1]!, null);
    const [later] = await commit(1);
    sequencer.offer('crew-1', later!, null);
    await waitUntil(() => delivered.length === 1, 'the event after the join');
    expect(delivered).toEqual([4]);
  });

  it('after the bus was away, reads what was committed meanwhile', async () => {
    const [first] = await commit(1);
    sequencer.offer('crew-1', first!, null);
    await commit(3);
    sequencer.catchUp();
    await waitUntil(() => delivered.length === 4, 'the missed events');
    expect(delivered).toEqual([1, 2, 3, 4]);
  });

  it('skips seqs the log no longer has (pruned) instead of waiting for them forever', async () => {
    const events = await commit(4);
    // Seqs 2 and 3 never come over the bus and are gone from the log.
    await store.log.pruneEventsBefore(Number.MAX_SAFE_INTEGER);
    sequencer.offer('crew-1', events[0]!, null);
    sequencer.offer('crew-1', events[3]!, null);
    await waitUntil(() => delivered.length === 2, 'the event after the pruned gap');
    expect(delivered).toEqual([1, 4]);
  });
});
