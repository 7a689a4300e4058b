import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { McpStore, MixtapeRecord } from '../../../cloud/store/areas/mcp.js';

/**
 * The mcp area's contract: SQLite and Redis both run it (mcp-store.test.ts). `open` gives an empty
 * area; `addDevice` puts a device in the directory, which tokens and mixtapes must belong to.
 */
export interface McpStoreFactory {
  readonly name: string;
  open(): Promise<McpStore>;
  addDevice(deviceId: string): Promise<void>;
  cleanup(): Promise<void>;
}

const token = (id: string, deviceId: string, createdAt: number, name = `n-${id}`) => ({ tokenId: id, tokenHash: `h-${id}`, deviceId, name, createdAt });

const mixtape = (deviceId: string, week: string, overrides: Partial<MixtapeRecord> = {}): MixtapeRecord => ({
  deviceId,
  week,
  playlistId: `p-${week}`,
  playlistUri: `spotify:playlist:p-${week}`,
  url: `https://open.spotify.com/playlist/p-${week}`,
  name: 'LEELOO crew mixtape · week 48',
  uris: ['spotify:track:b', 'spotify:track:a', 'spotify:track:c'],
  added: 0,
  createdAt: 5,
  ...overrides,
});

export function mcpContract(factory: McpStoreFactory): void {
  describe(`McpStore contract: ${factory.name}`, () => {
    let mcp: McpStore;

    beforeEach(async () => {
      mcp = await factory.open();
      for (const id of ['dev-a', 'dev-b', 'telegram:42']) await factory.addDevice(id);
    });
    afterEach(async () => {
      await factory.cleanup();
    });

    describe('tokens', () => {
      it('finds a token by its hash, with no last use yet', async () => {
        await mcp.saveToken(token('t1', 'dev-a', 1, ''));
        expect(await mcp.findToken('h-t1')).toEqual({ ...token('t1', 'dev-a', 1, ''), lastUsedAt: null });
        expect(await mcp.findToken('h-nope')).toBeNull();
        expect(await mcp.findToken('t1')).toBeNull();
      });

      it("lists a member's tokens newest first (by id within one millisecond), only theirs", async () => {
        await mcp.saveToken(token('t2', 'dev-a', 10));
        await mcp.saveToken(token('t9', 'dev-a', 20));
        await mcp.saveToken(token('t1', 'dev-a', 10));
        await mcp.saveToken(token('t3', 'dev-b', 30));
        await mcp.saveToken(token('t4', 'telegram:42', 40, 'Claude 🤖'));
        expect((await mcp.listTokens('dev-a')).map((t) => t.tokenId)).toEqual(['t9', 't1', 't2']);
        expect(await mcp.listTokens('telegram:42')).toEqual([{ ...token('t4', 'telegram:42', 40, 'Claude 🤖'), lastUsedAt: null }]);
        expect(await mcp.listTokens('dev-none')).toEqual([]);
      });

      it('notes the last use of a known token only', async () => {
        await mcp.saveToken(token('t1', 'dev-a', 1));
        await mcp.touchToken('h-t1', 50);
        await mcp.touchToken('h-t1', 120);
        expect((await mcp.findToken('h-t1'))?.lastUsedAt).toBe(120);
        expect((await mcp.listTokens('dev-a'))[0]?.lastUsedAt).toBe(120);
        await mcp.touchToken('h-nope', 50);
        expect(await mcp.findToken('h-nope')).toBeNull();
      });

      it("revokes one of the member's own tokens by id, not another member's", async () => {
        await mcp.saveToken(token('t1', 'dev-a', 1));
        await mcp.saveToken(token('t2', 'dev-a', 2));
        expect(await mcp.revokeToken('dev-b', 't1')).toBe(false);
        expect(await mcp.findToken('h-t1')).not.toBeNull();
        expect(await mcp.revokeToken('dev-a', 'h-t1')).toBe(false);
        expect(await mcp.revokeToken('dev-a', 't-none')).toBe(false);
        expect(await mcp.revokeToken('dev-a', 't1')).toBe(true);
        expect(await mcp.findToken('h-t1')).toBeNull();
        expect(await mcp.revokeToken('dev-a', 't1')).toBe(false);
        expect((await mcp.listTokens('dev-a')).map((t) => t.tokenId)).toEqual(['t2']);
      });

      it('two revocations of one token at once: one revokes it', async () => {
        await mcp.saveToken(token('t1', 'dev-a', 1));
        const results = await Promise.all([mcp.revokeToken('dev-a', 't1'), mcp.revokeToken('dev-a', 't1')]);
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('revokes every token of a member and says how many', async () => {
        await mcp.saveToken(token('t1', 'dev-a', 1));
        await mcp.saveToken(token('t2', 'dev-a', 2));
        await mcp.saveToken(token('t3', 'dev-b', 3));
        expect(await mcp.revokeTokens('dev-a')).toBe(2);
        expect(await mcp.listTokens('dev-a')).toEqual([]);
        expect(await mcp.findToken('h-t2')).toBeNull();
        expect(await mcp.revokeTokens('dev-a')).toBe(0);
        expect(await mcp.revokeTokens('dev-none')).toBe(0);
        expect((await mcp.listTokens('dev-b')).map((t) => t.tokenId)).toEqual(['t3']);
        // What was revoked is gone for good: the same id and hash can be stored again.
        await mcp.saveToken(token('t1', 'dev-a', 9));
        expect((await mcp.findToken('h-t1'))?.createdAt).toBe(9);
      });

      it('refuses a token of a device the directory does not hold, and a second token with the same hash or id', async () => {
        await expect(mcp.saveToken(token('t1', 'dev-none', 1))).rejects.toThrow(/FOREIGN KEY/);
        expect(await mcp.findToken('h-t1')).toBeNull();
        await mcp.saveToken(token('t1', 'dev-a', 1));
        await expect(mcp.saveToken({ ...token('t1', 'dev-b', 2), tokenHash: 'h-other' })).rejects.toThrow(/UNIQUE/);
        await expect(mcp.saveToken({ ...token('t2', 'dev-b', 2), tokenHash: 'h-t1' })).rejects.toThrow(/UNIQUE/);
        expect(await mcp.findToken('h-other')).toBeNull();
        expect(await mcp.findToken('h-t1')).toEqual({ ...token('t1', 'dev-a', 1), lastUsedAt: null });
        expect(await mcp.listTokens('dev-b')).toEqual([]);
      });
    });

    describe('mixtapes', () => {
      it('keeps one mixtape per member and week, with how many tracks Spotify took', async () => {
        expect(await mcp.findMixtape('dev-a', '2026-11-30')).toBeNull();
        await mcp.saveMixtape(mixtape('dev-a', '2026-11-30', { url: null }));
        await mcp.saveMixtape(mixtape('dev-a', '2026-12-07'));
        await mcp.saveMixtape(mixtape('dev-b', '2026-11-30', { uris: [] }));
        await mcp.noteMixtapeAdded('dev-a', '2026-11-30', 2);
        expect(await mcp.findMixtape('dev-a', '2026-11-30')).toEqual(mixtape('dev-a', '2026-11-30', { url: null, added: 2 }));
        expect(await mcp.findMixtape('dev-a', '2026-12-07')).toEqual(mixtape('dev-a', '2026-12-07'));
        expect(await mcp.findMixtape('dev-b', '2026-11-30')).toEqual(mixtape('dev-b', '2026-11-30', { uris: [] }));
        expect(await mcp.findMixtape('dev-b', '2026-12-07')).toBeNull();
      });

      it('refuses a second mixtape for the same week and keeps the first', async () => {
        await mcp.saveMixtape(mixtape('dev-a', '2026-11-30'));
        await mcp.noteMixtapeAdded('dev-a', '2026-11-30', 1);
        await expect(mcp.saveMixtape(mixtape('dev-a', '2026-11-30', { playlistId: 'p2' }))).rejects.toThrow(/UNIQUE/);
        expect(await mcp.findMixtape('dev-a', '2026-11-30')).toEqual(mixtape('dev-a', '2026-11-30', { added: 1 }));
      });

      it('two makes of the same week at once: one is stored', async () => {
        const results = await Promise.allSettled([
          mcp.saveMixtape(mixtape('dev-a', '2026-11-30', { playlistId: 'first' })),
          mcp.saveMixtape(mixtape('dev-a', '2026-11-30', { playlistId: 'second' })),
        ]);
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        expect((await mcp.findMixtape('dev-a', '2026-11-30'))?.playlistId).toBe(results[0]!.status === 'fulfilled' ? 'first' : 'second');
      });

      it('refuses a mixtape of a device the directory does not hold; progress on a mixtape that is not there makes none', async () => {
        await expect(mcp.saveMixtape(mixtape('dev-none', '2026-11-30'))).rejects.toThrow(/FOREIGN KEY/);
        expect(await mcp.findMixtape('dev-none', '2026-11-30')).toBeNull();
        await mcp.noteMixtapeAdded('dev-a', '2026-11-30', 3);
        expect(await mcp.findMixtape('dev-a', '2026-11-30')).toBeNull();
      });
    });
  });
}
