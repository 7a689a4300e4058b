import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProtocolError } from '../../../protocol/index.js';
import type { CrewEventInput, CrewStore, EventLog } from '../../../cloud/store/store.js';

/** An open directory and event log (one store's): `close` ends it, the factory's `cleanup` removes its data. */
export interface CrewsUnderTest {
  readonly crews: CrewStore;
  readonly log: EventLog;
  close(): Promise<void>;
}

/**
 * The directory and event log contract: SQLite and Redis both run it (crews-store.test.ts). `open` gives an
 * empty store; `openMore` (optional) opens further connections to the same data, as other relay processes do;
 * `loseEvents` (optional) rewrites a crew's stored latest seq lower, as a Redis that lost data would have it.
 */
export interface CrewsFactory {
  readonly name: string;
  open(): Promise<CrewsUnderTest>;
  openMore?(): Promise<CrewsUnderTest>;
  loseEvents?(crewId: string, latestSeq: number): Promise<void>;
  cleanup(): Promise<void>;
}

/** A text message event, numbered (the whole-store contract uses it too). */
export const text = (n: number): CrewEventInput => ({
  type: 'message',
  from_device: 'dev-a',
  from_name: 'A',
  timestamp: 1000 + n,
  msg_type: 'text',
  payload: { text: `hello ${n}` },
});

export function crewsContract(factory: CrewsFactory): void {
  describe(`CrewStore and EventLog contract: ${factory.name}`, () => {
    let opened: CrewsUnderTest;
    let crews: CrewStore;
    let log: EventLog;

    beforeEach(async () => {
      opened = await factory.open();
      ({ crews, log } = opened);
    });
    afterEach(async () => {
      vi.useRealTimers();
      await opened.close();
      await factory.cleanup();
    });

    async function crewWith(code: string, ...deviceIds: string[]) {
      for (const id of deviceIds) await crews.saveDevice({ deviceId: id, displayName: id.toUpperCase() });
      const crew = await crews.createCrew({ crewId: `crew-${code}`, crewCode: `LEELOO-${code}`, crewName: 'Crew', ownerDeviceId: deviceIds[0]! });
      for (const id of deviceIds.slice(1)) await crews.addMember(crew.crewId, id);
      return crew;
    }

    it('saves devices and never clears a secret hash (only the operator reset does)', async () => {
      expect(await crews.getDevice('dev-a')).toBeNull();
      await crews.saveDevice({ deviceId: 'dev-a', displayName: 'A', secretHash: 'aa'.repeat(32) });
      const renamed = await crews.saveDevice({ deviceId: 'dev-a', displayName: 'Anna', secretHash: null });
      expect(renamed).toMatchObject({ deviceId: 'dev-a', displayName: 'Anna', secretHash: 'aa'.repeat(32) });
      const other = await crews.saveDevice({ deviceId: 'dev-a', displayName: 'Anna', secretHash: 'bb'.repeat(32) });
      expect(other.secretHash).toBe('aa'.repeat(32));
      expect(other.secretResetAt).toBeNull();
    });

    it('resets a secret hash; the next secret set ends the reset', async () => {
      expect(await crews.resetDeviceSecret('dev-a')).toBeNull();
      await crews.saveDevice({ deviceId: 'dev-a', displayName: 'A', secretHash: 'aa'.repeat(32) });
      expect(await crews.resetDeviceSecret('dev-a')).toEqual({ hadSecret: true });
      const reset = await crews.getDevice('dev-a');
      expect(reset).toMatchObject({ secretHash: null, secretResetAt: expect.any(Number) });
      // A save without a secret (rename, last seen) keeps the reset; the next secret ends it.
      expect(await crews.saveDevice({ deviceId: 'dev-a', displayName: 'Anna' })).toMatchObject({ secretHash: null, secretResetAt: reset!.secretResetAt });
      expect(await crews.resetDeviceSecret('dev-a')).toEqual({ hadSecret: false });
      const reissued = await crews.saveDevice({ deviceId: 'dev-a', displayName: 'Anna', secretHash: 'cc'.repeat(32) });
      expect(reissued).toMatchObject({ secretHash: 'cc'.repeat(32), secretResetAt: null });
    });

    it('lists crews in creation order, in pages, with owner name and member count', async () => {
      await crewWith('AAAA', 'dev-a', 'dev-b');
      await crewWith('BBBB', 'dev-c');
      await crewWith('CCCC', 'dev-d', 'dev-e', 'dev-f');
      const first = await crews.listCrews({ limit: 2 });
      expect(first.map((c) => [c.crewCode, c.ownerName, c.memberCount])).toEqual([
        ['LEELOO-AAAA', 'DEV-A', 2],
        ['LEELOO-BBBB', 'DEV-C', 1],
      ]);
      const last = first[first.length - 1]!;
      const rest = await crews.listCrews({ limit: 2, after: { createdAt: last.createdAt, crewId: last.crewId } });
      expect(rest.map((c) => [c.crewCode, c.memberCount])).toEqual([['LEELOO-CCCC', 3]]);
      expect(await crews.listCrews({ limit: 5, after: { createdAt: rest[0]!.createdAt, crewId: rest[0]!.crewId } })).toEqual([]);
    });

    it('creates crews with unique codes; the owner is the first member', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      expect(crew).toMatchObject({ crewCode: 'LEELOO-AAAA', ownerDeviceId: 'dev-a', latestSeq: 0 });
      expect((await crews.getCrewByCode('LEELOO-AAAA'))?.crewId).toBe(crew.crewId);
      expect(await crews.getCrewByCode('LEELOO-BBBB')).toBeNull();
      await crews.saveDevice({ deviceId: 'dev-b', displayName: 'B' });
      const taken = crews.createCrew({ crewId: 'crew-x', crewCode: 'LEELOO-AAAA', crewName: 'X', ownerDeviceId: 'dev-b' });
      await expect(taken).rejects.toMatchObject({ code: 'crew_code_taken' });
      await expect(taken).rejects.toBeInstanceOf(ProtocolError);
      // The failed create left nothing behind: dev-b is in no crew.
      expect(await crews.getMembership('dev-b')).toBeNull();
    });

    it('keeps members in join order, one crew per device', async () => {
      const one = await crewWith('AAAA', 'dev-a', 'dev-b', 'dev-c');
      expect((await crews.listMembers(one.crewId)).map((m) => [m.deviceId, m.isOwner])).toEqual([
        ['dev-a', true],
        ['dev-b', false],
        ['dev-c', false],
      ]);
      await crews.saveDevice({ deviceId: 'dev-z', displayName: 'Z' });
      const two = await crews.createCrew({ crewId: 'crew-two', crewCode: 'LEELOO-BBBB', crewName: 'Two', ownerDeviceId: 'dev-z' });
      expect(await crews.addMember(two.crewId, 'dev-b')).toEqual({ leftCrewId: one.crewId, alreadyMember: false });
      expect(await crews.addMember(two.crewId, 'dev-b')).toEqual({ leftCrewId: null, alreadyMember: true });
      expect((await crews.getMembership('dev-b'))?.crewId).toBe(two.crewId);
      expect((await crews.listMembers(one.crewId)).map((m) => m.deviceId)).toEqual(['dev-a', 'dev-c']);
      await expect(crews.addMember('crew-missing', 'dev-a')).rejects.toMatchObject({ code: 'not_found' });
    });

    it('passes ownership on when the owner leaves', async () => {
      const crew = await crewWith('AAAA', 'dev-a', 'dev-b');
      expect(await crews.removeMember(crew.crewId, 'dev-a')).toEqual({ removed: true, newOwnerDeviceId: 'dev-b' });
      expect((await crews.getCrew(crew.crewId))?.ownerDeviceId).toBe('dev-b');
      expect(await crews.removeMember(crew.crewId, 'dev-a')).toEqual({ removed: false, newOwnerDeviceId: null });
    });

    it('transfers ownership to a member only', async () => {
      const crew = await crewWith('AAAB', 'dev-a', 'dev-b');
      await crewWith('AAAC', 'dev-c');
      expect(await crews.transferOwnership(crew.crewId, 'dev-c')).toBe(false);
      expect((await crews.getCrew(crew.crewId))?.ownerDeviceId).toBe('dev-a');
      expect(await crews.transferOwnership(crew.crewId, 'dev-b')).toBe(true);
      expect((await crews.listMembers(crew.crewId)).map((m) => [m.deviceId, m.isOwner])).toEqual([
        ['dev-a', false],
        ['dev-b', true],
      ]);
    });

    it('renames and changes codes; a taken code is refused', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      await crewWith('BBBB', 'dev-b');
      await crews.renameCrew(crew.crewId, 'Renamed');
      await crews.changeCrewCode(crew.crewId, 'LEELOO-CCCC');
      expect(await crews.getCrew(crew.crewId)).toMatchObject({ crewName: 'Renamed', crewCode: 'LEELOO-CCCC' });
      expect(await crews.getCrewByCode('LEELOO-AAAA')).toBeNull();
      await expect(crews.changeCrewCode(crew.crewId, 'LEELOO-BBBB')).rejects.toMatchObject({ code: 'crew_code_taken' });
      await expect(crews.renameCrew('crew-missing', 'x')).rejects.toMatchObject({ code: 'not_found' });
    });

    it('appends with per-crew seq and deduplicates by device and client_msg_id', async () => {
      const one = await crewWith('AAAA', 'dev-a');
      const two = await crewWith('BBBB', 'dev-b');
      const results = await log.appendEvents([
        { crewId: one.crewId, event: text(1), from: { deviceId: 'dev-a', clientMsgId: 'm1' } },
        { crewId: two.crewId, event: text(2) },
        { crewId: one.crewId, event: text(3), from: { deviceId: 'dev-a', clientMsgId: 'm2' } },
        { crewId: one.crewId, event: text(4), from: { deviceId: 'dev-a', clientMsgId: 'm1' } },
        { crewId: one.crewId, event: text(5), from: { deviceId: 'dev-b', clientMsgId: 'm1' } },
      ]);
      expect(results.map((r) => [r.seq, r.duplicate])).toEqual([
        [1, false],
        [1, false],
        [2, false],
        [1, true],
        [3, false],
      ]);
      expect(results.map((r) => r.crewCode)).toEqual(['LEELOO-AAAA', 'LEELOO-BBBB', 'LEELOO-AAAA', undefined, 'LEELOO-AAAA']);
      expect((await crews.getCrew(one.crewId))?.latestSeq).toBe(3);
      const events = await log.readEvents(one.crewId, 0);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(events[0]!.event).toMatchObject({ type: 'message', seq: 1, crew_code: 'LEELOO-AAAA', payload: { text: 'hello 1' } });
      expect(await log.handledClientMessage('dev-a', 'm2')).toEqual({ crewId: one.crewId, seq: 2 });
      expect(await log.handledClientMessage('dev-b', 'm2')).toBeNull();
    });

    it('appends nothing from a batch that fails', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      const bad = log.appendEvents([
        { crewId: crew.crewId, event: text(1) },
        { crewId: 'crew-missing', event: text(2) },
      ]);
      await expect(bad).rejects.toMatchObject({ code: 'not_found' });
      expect(await log.readEvents(crew.crewId, 0)).toEqual([]);
      expect((await crews.getCrew(crew.crewId))?.latestSeq).toBe(0);
    });

    it('answers each request of a batch that fails on its own: the bad one its error, the others their seqs, in order', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      const results = await log.appendEach([
        { crewId: crew.crewId, event: text(1), from: { deviceId: 'dev-a', clientMsgId: 'e1' } },
        { crewId: 'crew-missing', event: text(2) },
        { crewId: crew.crewId, event: text(3) },
      ]);
      expect(results[0]).toMatchObject({ seq: 1, duplicate: false });
      expect(results[1]).toMatchObject({ code: 'not_found' });
      expect(results[2]).toMatchObject({ seq: 2, duplicate: false });
      expect((await log.readEvents(crew.crewId, 0)).map((e) => e.seq)).toEqual([1, 2]);
      // A batch that does not fail is one append, as appendEvents; a retried client_msg_id is answered with its seq.
      expect(await log.appendEach([{ crewId: crew.crewId, event: text(4), from: { deviceId: 'dev-a', clientMsgId: 'e1' } }])).toMatchObject([
        { seq: 1, duplicate: true },
      ]);
    });

    it('reads by seq range and by time range, and reports the first seq', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      expect(await log.firstSeq(crew.crewId)).toBeNull();
      const before = Date.now();
      for (let i = 1; i <= 7; i += 1) await log.appendEvents([{ crewId: crew.crewId, event: text(i) }]);
      expect((await log.readEvents(crew.crewId, 2, { toSeq: 5 })).map((e) => e.seq)).toEqual([3, 4, 5]);
      expect((await log.readEvents(crew.crewId, 2, { limit: 2 })).map((e) => e.seq)).toEqual([3, 4]);
      expect(await log.readEvents(crew.crewId, 7)).toEqual([]);
      const byTime = await log.readEventsByTime(crew.crewId, before, Date.now() + 1);
      expect(byTime.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(await log.readEventsByTime(crew.crewId, 0, before)).toEqual([]);
      expect(await log.firstSeq(crew.crewId)).toBe(1);
    });

    it('fills in the current crew code after a rotation', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      await log.appendEvents([{ crewId: crew.crewId, event: text(1) }]);
      await crews.changeCrewCode(crew.crewId, 'LEELOO-DDDD');
      expect((await log.readEvents(crew.crewId, 0))[0]!.event.crew_code).toBe('LEELOO-DDDD');
    });

    // dev-a's crew with two events, which dev-b joins after them.
    async function joinedAfterTwoEvents() {
      const crew = await crewWith('AAAA', 'dev-a');
      await log.appendEvents([1, 2].map((n) => ({ crewId: crew.crewId, event: text(n) })));
      await crews.saveDevice({ deviceId: 'dev-b', displayName: 'B' });
      await crews.addMember(crew.crewId, 'dev-b');
      return crew;
    }

    it('tracks delivered seq per member, never backwards; new members start at the latest seq', async () => {
      const crew = await joinedAfterTwoEvents();
      expect((await crews.getMembership('dev-b'))?.deliveredSeq).toBe(2);
      await crews.markDelivered([{ crewId: crew.crewId, deviceId: 'dev-a', seq: 2 }]);
      await crews.markDelivered([{ crewId: crew.crewId, deviceId: 'dev-a', seq: 1 }]);
      expect((await crews.getMembership('dev-a'))?.deliveredSeq).toBe(2);
      // A mark for a membership that is gone (or never was) changes nothing.
      await crews.removeMember(crew.crewId, 'dev-b');
      await crews.markDelivered([
        { crewId: crew.crewId, deviceId: 'dev-b', seq: 9 },
        { crewId: 'crew-missing', deviceId: 'dev-a', seq: 9 },
      ]);
      expect(await crews.getMembership('dev-b')).toBeNull();
      expect((await crews.getMembership('dev-a'))?.deliveredSeq).toBe(2);
      await crews.markDelivered([]);
    });

    it('records where each membership starts in the log; re-joining keeps it, leaving and joining again renews it', async () => {
      const crew = await joinedAfterTwoEvents();
      expect((await crews.getMembership('dev-a'))?.joinedSeq).toBe(0);
      expect((await crews.getMembership('dev-b'))?.joinedSeq).toBe(2);
      await log.appendEvents([{ crewId: crew.crewId, event: text(3) }]);
      await crews.addMember(crew.crewId, 'dev-b');
      expect((await crews.getMembership('dev-b'))?.joinedSeq).toBe(2);
      expect((await crews.listMembers(crew.crewId)).map((m) => m.joinedSeq)).toEqual([0, 2]);
      await crews.removeMember(crew.crewId, 'dev-b');
      await crews.addMember(crew.crewId, 'dev-b');
      expect((await crews.getMembership('dev-b'))?.joinedSeq).toBe(3);
    });

    it("keeps the owner's share-history setting, off by default", async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      expect(crew.shareHistory).toBe(false);
      await crews.setShareHistory(crew.crewId, true);
      expect((await crews.getCrew(crew.crewId))?.shareHistory).toBe(true);
      await crews.setShareHistory(crew.crewId, false);
      expect((await crews.getCrewByCode('LEELOO-AAAA'))?.shareHistory).toBe(false);
      await expect(crews.setShareHistory('crew-missing', true)).rejects.toMatchObject({ code: 'not_found' });
    });

    it('prunes by age but never lowers latest_seq', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      await log.appendEvents([
        { crewId: crew.crewId, event: text(1) },
        { crewId: crew.crewId, event: text(2) },
      ]);
      expect(await log.pruneEventsBefore(Date.now() + 1000)).toBe(2);
      expect(await log.readEvents(crew.crewId, 0)).toEqual([]);
      expect((await crews.getCrew(crew.crewId))?.latestSeq).toBe(2);
      expect((await log.appendEvents([{ crewId: crew.crewId, event: text(3) }]))[0]!.seq).toBe(3);
    });

    it('counts crews, devices and events', async () => {
      const crew = await crewWith('AAAA', 'dev-a', 'dev-b');
      await log.appendEvents([{ crewId: crew.crewId, event: text(1) }]);
      expect(await crews.counts()).toEqual({ crews: 1, devices: 2 });
      expect(await log.countEvents()).toBe(1);
    });

    // Five relay processes on the same data (each its own connection where the store has them).
    async function inFiveProcesses(work: (others: CrewsUnderTest[]) => Promise<void>) {
      const others = factory.openMore ? await Promise.all([1, 2, 3, 4, 5].map(() => factory.openMore!())) : Array.from({ length: 5 }, () => opened);
      try {
        await work(others);
      } finally {
        if (factory.openMore) for (const other of others) await other.close();
      }
    }

    it('gives concurrent appends from several connections gapless, unique seqs', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      await inFiveProcesses(async (others) => {
        const results = await Promise.all(
          others.flatMap((other, i) =>
            Array.from({ length: 20 }, (_, n) =>
              other.log.appendEvents([
                { crewId: crew.crewId, event: text(i * 100 + n) },
                { crewId: crew.crewId, event: text(n) },
              ]),
            ),
          ),
        );
        const seqs = results.flat().map((r) => r.seq);
        expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        // A batch's events stay in order.
        for (const [first, second] of results) expect(second!.seq).toBeGreaterThan(first!.seq);
        expect((await log.readEvents(crew.crewId, 0)).map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        expect(await log.position(crew.crewId)).toMatchObject({ latestSeq: 200, firstSeq: 1 });
      });
    });

    it('answers concurrent retries of one client message with one seq', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      await inFiveProcesses(async (others) => {
        const from = { deviceId: 'dev-a', clientMsgId: 'same' };
        const results = (await Promise.all(others.map((other) => other.log.appendEvents([{ crewId: crew.crewId, event: text(1), from }])))).flat();
        expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
        expect(new Set(results.map((r) => r.seq))).toEqual(new Set([1]));
        expect(new Set(results.map((r) => r.at)).size).toBe(1);
        expect(await log.countEvents()).toBe(1);
      });
    });

    it('keeps a device in one crew and a code with one crew when processes race', async () => {
      for (const n of [1, 2, 3, 4, 5]) await crewWith(`000${n}`, `owner-${n}`);
      await crews.saveDevice({ deviceId: 'dev-x', displayName: 'X' });
      await inFiveProcesses(async (others) => {
        await Promise.all(others.map((other, i) => other.crews.addMember(`crew-000${i + 1}`, 'dev-x')));
        const holding = await Promise.all([1, 2, 3, 4, 5].map(async (n) => (await crews.listMembers(`crew-000${n}`)).some((m) => m.deviceId === 'dev-x')));
        expect(holding.filter(Boolean)).toHaveLength(1);
        expect(`crew-000${holding.indexOf(true) + 1}`).toBe((await crews.getMembership('dev-x'))?.crewId);
        const created = await Promise.allSettled(
          others.map((other, i) =>
            other.crews.createCrew({ crewId: `crew-race-${i}`, crewCode: 'LEELOO-RACE', crewName: 'Race', ownerDeviceId: `owner-${i + 1}` }),
          ),
        );
        expect(created.filter((c) => c.status === 'fulfilled')).toHaveLength(1);
        for (const c of created) if (c.status === 'rejected') expect(c.reason).toMatchObject({ code: 'crew_code_taken' });
        expect((await crews.counts()).crews).toBe(6);
      });
    });

    it('answers the commands an event also answers with its seq; an already answered one keeps its first', async () => {
      const crew = await crewWith('AAAA', 'dev-a', 'dev-b', 'dev-c');
      const [first] = await log.appendEvents([{ crewId: crew.crewId, event: text(1), from: { deviceId: 'dev-c', clientMsgId: 'q0' } }]);
      const [merged] = await log.appendEvents([
        {
          crewId: crew.crewId,
          event: text(2),
          from: {
            deviceId: 'dev-a',
            clientMsgId: 'q1',
            alsoAnswers: [
              { deviceId: 'dev-b', clientMsgId: 'q2' },
              { deviceId: 'dev-c', clientMsgId: 'q0' },
            ],
          },
        },
      ]);
      expect(merged).toMatchObject({ seq: 2, duplicate: false });
      expect(await log.handledClientMessage('dev-b', 'q2')).toEqual({ crewId: crew.crewId, seq: 2 });
      expect(await log.handledClientMessage('dev-c', 'q0')).toEqual({ crewId: crew.crewId, seq: first!.seq });
      const retry = await log.appendEvents([{ crewId: crew.crewId, event: text(3), from: { deviceId: 'dev-b', clientMsgId: 'q2' } }]);
      expect(retry[0]).toMatchObject({ seq: 2, duplicate: true, at: merged!.at });
      expect(await log.handledClientMessage('dev-a', 'q2')).toBeNull();
    });

    it('refuses an append to an unknown crew, and reads nothing of it', async () => {
      await expect(log.appendEvents([{ crewId: 'crew-missing', event: text(1), from: { deviceId: 'dev-a', clientMsgId: 'x' } }])).rejects.toMatchObject({
        code: 'not_found',
      });
      expect(await log.handledClientMessage('dev-a', 'x')).toBeNull();
      expect(await log.readEvents('crew-missing', 0)).toEqual([]);
      expect(await log.readEventsByTime('crew-missing', 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
      expect(await log.firstSeq('crew-missing')).toBeNull();
      expect(await log.position('crew-missing')).toBeNull();
      expect(await log.countEvents()).toBe(0);
    });

    it('reads by time from fromMs inclusive to toMs exclusive, in seq order, with a limit', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const crew = await crewWith('AAAA', 'dev-a');
      for (const [i, at] of [1_000, 2_000, 2_000, 3_000].entries()) {
        vi.setSystemTime(at);
        await log.appendEvents([{ crewId: crew.crewId, event: text(i) }]);
      }
      const seqs = async (from: number, to: number, limit?: number) => (await log.readEventsByTime(crew.crewId, from, to, { limit })).map((e) => [e.seq, e.at]);
      expect(await seqs(2_000, 3_000)).toEqual([
        [2, 2_000],
        [3, 2_000],
      ]);
      expect(await seqs(1_000, 2_000)).toEqual([[1, 1_000]]);
      expect(await seqs(0, 1_000)).toEqual([]);
      expect(await seqs(1_001, 3_001, 2)).toEqual([
        [2, 2_000],
        [3, 2_000],
      ]);
      expect(await seqs(3_000, 2_000)).toEqual([]);
      expect((await log.readEventsByTime(crew.crewId, 0, 10_000))[3]!.event).toMatchObject({ seq: 4, crew_code: 'LEELOO-AAAA' });
    });

    it('prunes old events and client messages; firstSeq and position follow, latest seq and epoch stay', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(1_000);
      const crew = await crewWith('AAAA', 'dev-a');
      const other = await crewWith('BBBB', 'dev-b');
      await log.appendEvents([
        { crewId: crew.crewId, event: text(1), from: { deviceId: 'dev-a', clientMsgId: 'old' } },
        { crewId: other.crewId, event: text(2) },
      ]);
      vi.setSystemTime(5_000);
      await log.appendEvents([
        { crewId: crew.crewId, event: text(3), from: { deviceId: 'dev-a', clientMsgId: 'new' } },
        { crewId: crew.crewId, event: text(4) },
      ]);
      const before = await log.position(crew.crewId);
      expect(before).toEqual({ latestSeq: 3, firstSeq: 1, epoch: crew.epoch });
      expect(await log.pruneEventsBefore(1_000)).toBe(0);
      expect(await log.pruneEventsBefore(5_000)).toBe(2);
      expect(await log.countEvents()).toBe(2);
      expect(await log.position(crew.crewId)).toEqual({ latestSeq: 3, firstSeq: 2, epoch: crew.epoch });
      expect(await log.position(other.crewId)).toEqual({ latestSeq: 1, firstSeq: null, epoch: other.epoch });
      expect(await log.firstSeq(other.crewId)).toBeNull();
      expect(await log.handledClientMessage('dev-a', 'old')).toBeNull();
      expect(await log.handledClientMessage('dev-a', 'new')).toEqual({ crewId: crew.crewId, seq: 2 });
      // A pruned client message id is new again (SQLite drops its record too).
      expect((await log.appendEvents([{ crewId: crew.crewId, event: text(5), from: { deviceId: 'dev-a', clientMsgId: 'old' } }]))[0]).toMatchObject({
        seq: 4,
        duplicate: false,
      });
    });

    it('prunes a log of more than a thousand events, with their client messages, in one call', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      const batch = Array.from({ length: 1_201 }, (_, n) => ({ crewId: crew.crewId, event: text(n), from: { deviceId: 'dev-a', clientMsgId: `m${n}` } }));
      expect((await log.appendEvents(batch)).map((r) => r.seq)).toEqual(Array.from({ length: 1_201 }, (_, n) => n + 1));
      expect(await log.pruneEventsBefore(Date.now() + 1)).toBe(1_201);
      expect(await log.countEvents()).toBe(0);
      expect(await log.handledClientMessage('dev-a', 'm1200')).toBeNull();
      expect(await log.position(crew.crewId)).toMatchObject({ latestSeq: 1_201, firstSeq: null });
    });

    it('pages crews created in the same millisecond by crew id', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(7_000);
      for (const id of ['dev-c', 'dev-a', 'dev-b']) {
        await crews.saveDevice({ deviceId: id, displayName: id });
        await crews.createCrew({ crewId: `crew-${id}`, crewCode: `CODE-${id}`, crewName: id, ownerDeviceId: id });
      }
      vi.setSystemTime(6_000);
      await crews.saveDevice({ deviceId: 'dev-early', displayName: 'Early' });
      await crews.createCrew({ crewId: 'crew-z', crewCode: 'CODE-Z', crewName: 'z', ownerDeviceId: 'dev-early' });
      const ids = async (limit: number, after?: { createdAt: number; crewId: string }) => (await crews.listCrews({ limit, after })).map((c) => c.crewId);
      expect(await ids(10)).toEqual(['crew-z', 'crew-dev-a', 'crew-dev-b', 'crew-dev-c']);
      expect(await ids(2, { createdAt: 7_000, crewId: 'crew-dev-a' })).toEqual(['crew-dev-b', 'crew-dev-c']);
      expect(await ids(1, { createdAt: 6_000, crewId: 'crew-z' })).toEqual(['crew-dev-a']);
      expect(await ids(10, { createdAt: 7_000, crewId: 'crew-dev-c' })).toEqual([]);
      expect(await ids(0)).toEqual([]);
      expect(await crews.counts()).toEqual({ crews: 4, devices: 4 });
    });

    it('refuses a crew whose owner is not a device, and a member that is not one', async () => {
      await expect(crews.createCrew({ crewId: 'crew-x', crewCode: 'LEELOO-XXXX', crewName: 'X', ownerDeviceId: 'dev-ghost' })).rejects.toThrow();
      expect(await crews.getCrewByCode('LEELOO-XXXX')).toBeNull();
      const crew = await crewWith('AAAA', 'dev-a');
      await expect(crews.addMember(crew.crewId, 'dev-ghost')).rejects.toThrow();
      expect((await crews.listMembers(crew.crewId)).map((m) => m.deviceId)).toEqual(['dev-a']);
      expect(await crews.counts()).toEqual({ crews: 1, devices: 1 });
    });

    it('remembers the create_crew message that made a crew', async () => {
      await crews.saveDevice({ deviceId: 'dev-a', displayName: 'A' });
      await crews.createCrew({ crewId: 'crew-1', crewCode: 'LEELOO-AAAA', crewName: 'One', ownerDeviceId: 'dev-a', createdByMsg: 'c-1' });
      await crews.createCrew({ crewId: 'crew-2', crewCode: 'LEELOO-BBBB', crewName: 'Two', ownerDeviceId: 'dev-a' });
      expect((await crews.getCrew('crew-1'))?.createdByMsg).toBe('c-1');
      expect((await crews.getCrewByCode('LEELOO-BBBB'))?.createdByMsg).toBeNull();
      expect((await crews.getMembership('dev-a'))?.crewId).toBe('crew-2');
      expect((await crews.getCrew('crew-1'))?.epoch).toMatch(/^[0-9a-f]{16}$/);
      expect((await crews.getCrew('crew-1'))?.epoch).not.toBe((await crews.getCrew('crew-2'))?.epoch);
    });

    it.runIf(factory.loseEvents)('renews a crew epoch when its stored latest seq falls below one seen (a Redis that lost data)', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      for (let i = 1; i <= 3; i += 1) await log.appendEvents([{ crewId: crew.crewId, event: text(i) }]);
      expect((await crews.getCrew(crew.crewId))?.epoch).toBe(crew.epoch);
      await factory.loseEvents!(crew.crewId, 1);
      const renewed = (await crews.getCrew(crew.crewId))!;
      expect(renewed).toMatchObject({ latestSeq: 1 });
      expect(renewed.epoch).not.toBe(crew.epoch);
      // The old copy's events after the stored seq are gone with its epoch.
      expect((await log.readEvents(crew.crewId, 0)).map((e) => e.seq)).toEqual([1]);
      expect(await log.countEvents()).toBe(1);
      expect((await log.position(crew.crewId))?.epoch).toBe(renewed.epoch);
      expect((await log.appendEvents([{ crewId: crew.crewId, event: text(4) }]))[0]!.seq).toBe(2);
      // The new seq 2 replaces the old copy's: one event per seq.
      expect((await log.readEvents(crew.crewId, 0)).map((e) => [e.seq, e.event.type === 'message' && e.event.payload])).toEqual([
        [1, { text: 'hello 1' }],
        [2, { text: 'hello 4' }],
      ]);
      expect((await crews.getCrewByCode('LEELOO-AAAA'))?.epoch).toBe(renewed.epoch);

      // Found by an append first, and by position.
      const two = await crewWith('BBBB', 'dev-b');
      await log.appendEvents([
        { crewId: two.crewId, event: text(1) },
        { crewId: two.crewId, event: text(2) },
      ]);
      await factory.loseEvents!(two.crewId, 0);
      expect((await log.appendEvents([{ crewId: two.crewId, event: text(3) }]))[0]!.seq).toBe(1);
      // Read by another process (it saw no seqs of its own): renewed once, later appends keep the new epoch.
      const reader = factory.openMore ? await factory.openMore() : opened;
      const afterAppend = (await reader.log.position(two.crewId))!;
      expect(afterAppend.epoch).not.toBe(two.epoch);
      await log.appendEvents([{ crewId: two.crewId, event: text(4) }]);
      expect((await reader.log.position(two.crewId))?.epoch).toBe(afterAppend.epoch);
      expect((await crews.getCrew(two.crewId))?.epoch).toBe(afterAppend.epoch);
      if (reader !== opened) await reader.close();
      const three = await crewWith('CCCC', 'dev-c');
      await log.appendEvents([{ crewId: three.crewId, event: text(1) }]);
      await factory.loseEvents!(three.crewId, 0);
      expect((await log.position(three.crewId))?.epoch).not.toBe(three.epoch);
    });
  });
}
