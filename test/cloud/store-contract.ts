import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProtocolError } from '../../protocol/index.js';
import type { CrewEventInput, Store } from '../../cloud/store/store.js';

/**
 * The Store contract: every implementation (embedded SQLite now, Redis later) runs these.
 * `open` gives a fresh, empty store; `reopen` (optional) opens the same data again after close.
 */
export interface StoreFactory {
  readonly name: string;
  open(): Promise<Store>;
  reopen?(): Promise<Store>;
  cleanup(): Promise<void>;
}

const text = (n: number): CrewEventInput => ({
  type: 'message',
  from_device: 'dev-a',
  from_name: 'A',
  timestamp: 1000 + n,
  msg_type: 'text',
  payload: { text: `hello ${n}` },
});

export function storeContract(factory: StoreFactory): void {
  describe(`Store contract: ${factory.name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await factory.open();
    });
    afterEach(async () => {
      await store.close();
      await factory.cleanup();
    });

    async function crewWith(code: string, ...deviceIds: string[]) {
      for (const id of deviceIds) await store.crews.saveDevice({ deviceId: id, displayName: id.toUpperCase() });
      const crew = await store.crews.createCrew({ crewId: `crew-${code}`, crewCode: `LEELOO-${code}`, crewName: 'Crew', ownerDeviceId: deviceIds[0]! });
      for (const id of deviceIds.slice(1)) await store.crews.addMember(crew.crewId, id);
      return crew;
    }

    it('pings while open', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('saves devices and never clears a secret hash (only the operator reset does)', async () => {
      expect(await store.crews.getDevice('dev-a')).toBeNull();
      await store.crews.saveDevice({ deviceId: 'dev-a', displayName: 'A', secretHash: 'aa'.repeat(32) });
      const renamed = await store.crews.saveDevice({ deviceId: 'dev-a', displayName: 'Anna', secretHash: null });
      expect(renamed).toMatchObject({ deviceId: 'dev-a', displayName: 'Anna', secretHash: 'aa'.repeat(32) });
      const other = await store.crews.saveDevice({ deviceId: 'dev-a', displayName: 'Anna', secretHash: 'bb'.repeat(32) });
      expect(other.secretHash).toBe('aa'.repeat(32));
      expect(other.secretResetAt).toBeNull();
    });

    it('resets a secret hash; the next secret set ends the reset', async () => {
      expect(await store.crews.resetDeviceSecret('dev-a')).toBeNull();
      await store.crews.saveDevice({ deviceId: 'dev-a', displayName: 'A', secretHash: 'aa'.repeat(32) });
      expect(await store.crews.resetDeviceSecret('dev-a')).toEqual({ hadSecret: true });
      const reset = await store.crews.getDevice('dev-a');
      expect(reset).toMatchObject({ secretHash: null, secretResetAt: expect.any(Number) });
      // A save without a secret (rename, last seen) keeps the reset; the next secret ends it.
      expect(await store.crews.saveDevice({ deviceId: 'dev-a', displayName: 'Anna' })).toMatchObject({ secretHash: null, secretResetAt: reset!.secretResetAt });
      expect(await store.crews.resetDeviceSecret('dev-a')).toEqual({ hadSecret: false });
      const reissued = await store.crews.saveDevice({ deviceId: 'dev-a', displayName: 'Anna', secretHash: 'cc'.repeat(32) });
      expect(reissued).toMatchObject({ secretHash: 'cc'.repeat(32), secretResetAt: null });
    });

    it('lists crews in creation order, in pages, with owner name and member count', async () => {
      await crewWith('AAAA', 'dev-a', 'dev-b');
      await crewWith('BBBB', 'dev-c');
      await crewWith('CCCC', 'dev-d', 'dev-e', 'dev-f');
      const first = await store.crews.listCrews({ limit: 2 });
      expect(first.map((c) => [c.crewCode, c.ownerName, c.memberCount])).toEqual([
        ['LEELOO-AAAA', 'DEV-A', 2],
        ['LEELOO-BBBB', 'DEV-C', 1],
      ]);
      const last = first[first.length - 1]!;
      const rest = await store.crews.listCrews({ limit: 2, after: { createdAt: last.createdAt, crewId: last.crewId } });
      expect(rest.map((c) => [c.crewCode, c.memberCount])).toEqual([['LEELOO-CCCC', 3]]);
      expect(await store.crews.listCrews({ limit: 5, after: { createdAt: rest[0]!.createdAt, crewId: rest[0]!.crewId } })).toEqual([]);
    });

    it('creates crews with unique codes; the owner is the first member', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      expect(crew).toMatchObject({ crewCode: 'LEELOO-AAAA', ownerDeviceId: 'dev-a', latestSeq: 0 });
      expect((await store.crews.getCrewByCode('LEELOO-AAAA'))?.crewId).toBe(crew.crewId);
      expect(await store.crews.getCrewByCode('LEELOO-BBBB')).toBeNull();
      await store.crews.saveDevice({ deviceId: 'dev-b', displayName: 'B' });
      const taken = store.crews.createCrew({ crewId: 'crew-x', crewCode: 'LEELOO-AAAA', crewName: 'X', ownerDeviceId: 'dev-b' });
      await expect(taken).rejects.toMatchObject({ code: 'crew_code_taken' });
      await expect(taken).rejects.toBeInstanceOf(ProtocolError);
      // The failed create left nothing behind: dev-b is in no crew.
      expect(await store.crews.getMembership('dev-b')).toBeNull();
    });

    it('keeps members in join order, one crew per device', async () => {
      const one = await crewWith('AAAA', 'dev-a', 'dev-b', 'dev-c');
      expect((await store.crews.listMembers(one.crewId)).map((m) => [m.deviceId, m.isOwner])).toEqual([
        ['dev-a', true],
        ['dev-b', false],
        ['dev-c', false],
      ]);
      await store.crews.saveDevice({ deviceId: 'dev-z', displayName: 'Z' });
      const two = await store.crews.createCrew({ crewId: 'crew-two', crewCode: 'LEELOO-BBBB', crewName: 'Two', ownerDeviceId: 'dev-z' });
      expect(await store.crews.addMember(two.crewId, 'dev-b')).toEqual({ leftCrewId: one.crewId, alreadyMember: false });
      expect(await store.crews.addMember(two.crewId, 'dev-b')).toEqual({ leftCrewId: null, alreadyMember: true });
      expect((await store.crews.getMembership('dev-b'))?.crewId).toBe(two.crewId);
      expect((await store.crews.listMembers(one.crewId)).map((m) => m.deviceId)).toEqual(['dev-a', 'dev-c']);
      await expect(store.crews.addMember('crew-missing', 'dev-a')).rejects.toMatchObject({ code: 'not_found' });
    });

    it('passes ownership on when the owner leaves', async () => {
      const crew = await crewWith('AAAA', 'dev-a', 'dev-b');
      expect(await store.crews.removeMember(crew.crewId, 'dev-a')).toEqual({ removed: true, newOwnerDeviceId: 'dev-b' });
      expect((await store.crews.getCrew(crew.crewId))?.ownerDeviceId).toBe('dev-b');
      expect(await store.crews.removeMember(crew.crewId, 'dev-a')).toEqual({ removed: false, newOwnerDeviceId: null });
    });

    it('transfers ownership to a member only', async () => {
      const crew = await crewWith('AAAB', 'dev-a', 'dev-b');
      await crewWith('AAAC', 'dev-c');
      expect(await store.crews.transferOwnership(crew.crewId, 'dev-c')).toBe(false);
      expect((await store.crews.getCrew(crew.crewId))?.ownerDeviceId).toBe('dev-a');
      expect(await store.crews.transferOwnership(crew.crewId, 'dev-b')).toBe(true);
      expect((await store.crews.listMembers(crew.crewId)).map((m) => [m.deviceId, m.isOwner])).toEqual([
        ['dev-a', false],
        ['dev-b', true],
      ]);
    });

    it('records Telegram users and says which device ids are theirs', async () => {
      await store.crews.saveDevice({ deviceId: 'telegram:42', displayName: 'Ana', secretHash: 'f'.repeat(64) });
      const first = await store.telegram.saveUser('42', 'telegram:42');
      expect(await store.telegram.saveUser('42', 'telegram:42')).toEqual(first);
      expect(await store.telegram.telegramDevices(['telegram:42', 'dev-x'])).toEqual(new Set(['telegram:42']));
      expect(await store.telegram.telegramDevices([])).toEqual(new Set());
    });

    it('renames and changes codes; a taken code is refused', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      await crewWith('BBBB', 'dev-b');
      await store.crews.renameCrew(crew.crewId, 'Renamed');
      await store.crews.changeCrewCode(crew.crewId, 'LEELOO-CCCC');
      expect(await store.crews.getCrew(crew.crewId)).toMatchObject({ crewName: 'Renamed', crewCode: 'LEELOO-CCCC' });
      expect(await store.crews.getCrewByCode('LEELOO-AAAA')).toBeNull();
      await expect(store.crews.changeCrewCode(crew.crewId, 'LEELOO-BBBB')).rejects.toMatchObject({ code: 'crew_code_taken' });
      await expect(store.crews.renameCrew('crew-missing', 'x')).rejects.toMatchObject({ code: 'not_found' });
    });

    it('appends with per-crew seq and deduplicates by device and client_msg_id', async () => {
      const one = await crewWith('AAAA', 'dev-a');
      const two = await crewWith('BBBB', 'dev-b');
      const results = await store.log.appendEvents([
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
      expect((await store.crews.getCrew(one.crewId))?.latestSeq).toBe(3);
      const events = await store.log.readEvents(one.crewId, 0);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(events[0]!.event).toMatchObject({ type: 'message', seq: 1, crew_code: 'LEELOO-AAAA', payload: { text: 'hello 1' } });
      expect(await store.log.handledClientMessage('dev-a', 'm2')).toEqual({ crewId: one.crewId, seq: 2 });
      expect(await store.log.handledClientMessage('dev-b', 'm2')).toBeNull();
    });

    it('appends nothing from a batch that fails', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      const bad = store.log.appendEvents([
        { crewId: crew.crewId, event: text(1) },
        { crewId: 'crew-missing', event: text(2) },
      ]);
      await expect(bad).rejects.toMatchObject({ code: 'not_found' });
      expect(await store.log.readEvents(crew.crewId, 0)).toEqual([]);
      expect((await store.crews.getCrew(crew.crewId))?.latestSeq).toBe(0);
    });

    it('reads by seq range and by time range, and reports the first seq', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      expect(await store.log.firstSeq(crew.crewId)).toBeNull();
      const before = Date.now();
      for (let i = 1; i <= 7; i += 1) await store.log.appendEvents([{ crewId: crew.crewId, event: text(i) }]);
      expect((await store.log.readEvents(crew.crewId, 2, { toSeq: 5 })).map((e) => e.seq)).toEqual([3, 4, 5]);
      expect((await store.log.readEvents(crew.crewId, 2, { limit: 2 })).map((e) => e.seq)).toEqual([3, 4]);
      expect(await store.log.readEvents(crew.crewId, 7)).toEqual([]);
      const byTime = await store.log.readEventsByTime(crew.crewId, before, Date.now() + 1);
      expect(byTime.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(await store.log.readEventsByTime(crew.crewId, 0, before)).toEqual([]);
      expect(await store.log.firstSeq(crew.crewId)).toBe(1);
    });

    it('fills in the current crew code after a rotation', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      await store.log.appendEvents([{ crewId: crew.crewId, event: text(1) }]);
      await store.crews.changeCrewCode(crew.crewId, 'LEELOO-DDDD');
      expect((await store.log.readEvents(crew.crewId, 0))[0]!.event.crew_code).toBe('LEELOO-DDDD');
    });

    it('tracks delivered seq per member, never backwards; new members start at the latest seq', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      await store.log.appendEvents([
        { crewId: crew.crewId, event: text(1) },
        { crewId: crew.crewId, event: text(2) },
      ]);
      await store.crews.saveDevice({ deviceId: 'dev-b', displayName: 'B' });
      await store.crews.addMember(crew.crewId, 'dev-b');
      expect((await store.crews.getMembership('dev-b'))?.deliveredSeq).toBe(2);
      await store.crews.markDelivered([{ crewId: crew.crewId, deviceId: 'dev-a', seq: 2 }]);
      await store.crews.markDelivered([{ crewId: crew.crewId, deviceId: 'dev-a', seq: 1 }]);
      expect((await store.crews.getMembership('dev-a'))?.deliveredSeq).toBe(2);
    });

    it('records where each membership starts in the log; re-joining keeps it, leaving and joining again renews it', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      expect((await store.crews.getMembership('dev-a'))?.joinedSeq).toBe(0);
      await store.log.appendEvents([
        { crewId: crew.crewId, event: text(1) },
        { crewId: crew.crewId, event: text(2) },
      ]);
      await store.crews.saveDevice({ deviceId: 'dev-b', displayName: 'B' });
      await store.crews.addMember(crew.crewId, 'dev-b');
      expect((await store.crews.getMembership('dev-b'))?.joinedSeq).toBe(2);
      await store.log.appendEvents([{ crewId: crew.crewId, event: text(3) }]);
      await store.crews.addMember(crew.crewId, 'dev-b');
      expect((await store.crews.getMembership('dev-b'))?.joinedSeq).toBe(2);
      expect((await store.crews.listMembers(crew.crewId)).map((m) => m.joinedSeq)).toEqual([0, 2]);
      await store.crews.removeMember(crew.crewId, 'dev-b');
      await store.crews.addMember(crew.crewId, 'dev-b');
      expect((await store.crews.getMembership('dev-b'))?.joinedSeq).toBe(3);
    });

    it("keeps the owner's share-history setting, off by default", async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      expect(crew.shareHistory).toBe(false);
      await store.crews.setShareHistory(crew.crewId, true);
      expect((await store.crews.getCrew(crew.crewId))?.shareHistory).toBe(true);
      await store.crews.setShareHistory(crew.crewId, false);
      expect((await store.crews.getCrewByCode('LEELOO-AAAA'))?.shareHistory).toBe(false);
      await expect(store.crews.setShareHistory('crew-missing', true)).rejects.toMatchObject({ code: 'not_found' });
    });

    it('prunes by age but never lowers latest_seq', async () => {
      const crew = await crewWith('AAAA', 'dev-a');
      await store.log.appendEvents([
        { crewId: crew.crewId, event: text(1) },
        { crewId: crew.crewId, event: text(2) },
      ]);
      expect(await store.log.pruneEventsBefore(Date.now() + 1000)).toBe(2);
      expect(await store.log.readEvents(crew.crewId, 0)).toEqual([]);
      expect((await store.crews.getCrew(crew.crewId))?.latestSeq).toBe(2);
      expect((await store.log.appendEvents([{ crewId: crew.crewId, event: text(3) }]))[0]!.seq).toBe(3);
    });

    it('counts crews, devices and events', async () => {
      const crew = await crewWith('AAAA', 'dev-a', 'dev-b');
      await store.log.appendEvents([{ crewId: crew.crewId, event: text(1) }]);
      expect(await store.crews.counts()).toEqual({ crews: 1, devices: 2 });
      expect(await store.log.countEvents()).toBe(1);
    });

    it("keeps members' MCP tokens by hash: lists newest first, notes use, revokes one or all", async () => {
      await crewWith('AAAA', 'dev-a', 'dev-b');
      const token = (id: string, deviceId: string, createdAt: number) => ({ tokenId: id, tokenHash: `h-${id}`, deviceId, name: `n-${id}`, createdAt });
      await store.mcp.saveToken(token('t1', 'dev-a', 1));
      await store.mcp.saveToken(token('t2', 'dev-a', 2));
      await store.mcp.saveToken(token('t3', 'dev-b', 3));
      expect(await store.mcp.findToken('h-t1')).toEqual({ ...token('t1', 'dev-a', 1), lastUsedAt: null });
      expect(await store.mcp.findToken('h-nope')).toBeNull();
      expect((await store.mcp.listTokens('dev-a')).map((t) => t.tokenId)).toEqual(['t2', 't1']);
      await store.mcp.touchToken('h-t1', 50);
      expect((await store.mcp.findToken('h-t1'))?.lastUsedAt).toBe(50);
      expect(await store.mcp.revokeToken('dev-b', 't1')).toBe(false);
      expect(await store.mcp.revokeToken('dev-a', 't1')).toBe(true);
      expect(await store.mcp.findToken('h-t1')).toBeNull();
      expect(await store.mcp.revokeTokens('dev-a')).toBe(1);
      expect((await store.mcp.listTokens('dev-b')).map((t) => t.tokenId)).toEqual(['t3']);
    });

    it('keeps everything across a reopen', async () => {
      if (!factory.reopen) return;
      const crew = await crewWith('AAAA', 'dev-a', 'dev-b');
      await store.log.appendEvents([{ crewId: crew.crewId, event: text(1), from: { deviceId: 'dev-a', clientMsgId: 'k' } }]);
      await store.close();
      store = await factory.reopen();
      expect((await store.crews.listMembers(crew.crewId)).map((m) => m.deviceId)).toEqual(['dev-a', 'dev-b']);
      expect((await store.log.readEvents(crew.crewId, 0)).map((e) => e.seq)).toEqual([1]);
      const again = await store.log.appendEvents([{ crewId: crew.crewId, event: text(2), from: { deviceId: 'dev-a', clientMsgId: 'k' } }]);
      expect(again[0]).toMatchObject({ seq: 1, duplicate: true });
    });

    it('fails ping after close', async () => {
      await store.close();
      await expect(store.ping()).rejects.toThrow();
      store = await factory.open();
    });
  });
}
