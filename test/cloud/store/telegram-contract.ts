import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TelegramStore } from '../../../cloud/store/areas/telegram.js';

/**
 * The telegram area's contract: SQLite and Redis both run it (telegram-store.test.ts). `open` gives
 * an empty area; `addDevice` puts a device in the directory, which a Telegram user's row must be.
 */
export interface TelegramStoreFactory {
  readonly name: string;
  open(): Promise<TelegramStore>;
  addDevice(deviceId: string): Promise<void>;
  cleanup(): Promise<void>;
}

export function telegramContract(factory: TelegramStoreFactory): void {
  describe(`TelegramStore contract: ${factory.name}`, () => {
    let telegram: TelegramStore;

    beforeEach(async () => {
      telegram = await factory.open();
      for (const id of ['telegram:42', 'telegram:43', 'dev-a']) await factory.addDevice(id);
    });
    afterEach(async () => {
      await factory.cleanup();
    });

    it('records a Telegram user once: saving again answers the first record', async () => {
      const before = Date.now();
      const first = await telegram.saveUser('42', 'telegram:42');
      expect(first).toEqual({ telegramUserId: '42', deviceId: 'telegram:42', createdAt: expect.any(Number) });
      expect(first.createdAt).toBeGreaterThanOrEqual(before);
      expect(await telegram.saveUser('42', 'telegram:42')).toEqual(first);
      // A known user keeps its device (SQLite: ON CONFLICT DO NOTHING).
      expect(await telegram.saveUser('42', 'telegram:43')).toEqual(first);
      expect(await telegram.telegramDevices(['telegram:43'])).toEqual(new Set());
    });

    it('two saves of one user at once answer the same record', async () => {
      const [a, b] = await Promise.all([telegram.saveUser('42', 'telegram:42'), telegram.saveUser('42', 'telegram:42')]);
      expect(a).toEqual(b);
    });

    it('says which of the device ids are Telegram users', async () => {
      await telegram.saveUser('42', 'telegram:42');
      await telegram.saveUser('43', 'telegram:43');
      expect(await telegram.telegramDevices(['telegram:42', 'dev-a', 'dev-x'])).toEqual(new Set(['telegram:42']));
      expect(await telegram.telegramDevices(['telegram:43', 'telegram:42', 'telegram:42'])).toEqual(new Set(['telegram:42', 'telegram:43']));
      expect(await telegram.telegramDevices(['42'])).toEqual(new Set());
      expect(await telegram.telegramDevices([])).toEqual(new Set());
    });

    it('refuses a user whose device row does not exist, and a second user on one device', async () => {
      await expect(telegram.saveUser('44', 'telegram:44')).rejects.toThrow(/FOREIGN KEY/);
      expect(await telegram.telegramDevices(['telegram:44'])).toEqual(new Set());
      await telegram.saveUser('42', 'telegram:42');
      await expect(telegram.saveUser('99', 'telegram:42')).rejects.toThrow(/UNIQUE/);
      expect(await telegram.saveUser('44', 'dev-a')).toMatchObject({ telegramUserId: '44', deviceId: 'dev-a' });
    });
  });
}
