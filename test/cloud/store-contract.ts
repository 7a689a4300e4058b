import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../cloud/store/store.js';
import { text } from './store/crews-contract.js';

/**
 * The whole Store's contract, beside each port's own (test/cloud/store/): every implementation
 * runs these — what spans the areas (a reopen, ping and close), the directory and log cases
 * are in test/cloud/store/crews-contract.ts.
 * `open` gives a fresh, empty store; `reopen` (optional) opens the same data again after close.
 */
export interface StoreFactory {
  readonly name: string;
  open(): Promise<Store>;
  reopen?(): Promise<Store>;
  cleanup(): Promise<void>;
}

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

    it('records Telegram users and says which device ids are theirs', async () => {
      await store.crews.saveDevice({ deviceId: 'telegram:42', displayName: 'Ana', secretHash: 'f'.repeat(64) });
      const first = await store.telegram.saveUser('42', 'telegram:42');
      expect(await store.telegram.saveUser('42', 'telegram:42')).toEqual(first);
      expect(await store.telegram.telegramDevices(['telegram:42', 'dev-x'])).toEqual(new Set(['telegram:42']));
      expect(await store.telegram.telegramDevices([])).toEqual(new Set());
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
