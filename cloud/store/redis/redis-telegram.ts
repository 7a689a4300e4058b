import type { Redis } from 'ioredis';
import type { TelegramStore, TelegramUserRecord } from '../areas/telegram.js';

// KEYS: the user, the device → user hash, the device's directory entry (redis-crews.ts: `${prefix}dir:device:<id>`).
// ARGV: Telegram user id, device, now. A known user is answered as stored (SQLite: ON CONFLICT DO NOTHING);
// a new one needs its device row, as SQLite's foreign key does, and a device of its own.
const SAVE_USER = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('EXISTS', KEYS[3]) == 0 then
    return redis.error_reply('FOREIGN KEY constraint failed: the directory has no device ' .. ARGV[2])
  end
  if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
    return redis.error_reply('UNIQUE constraint failed: the device belongs to another Telegram user')
  end
  redis.call('HSET', KEYS[1], 'deviceId', ARGV[2], 'createdAt', ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
end
return redis.call('HMGET', KEYS[1], 'deviceId', 'createdAt')`;

interface TelegramScripts {
  telegramSaveUser(user: string, devices: string, device: string, telegramUserId: string, deviceId: string, now: number): Promise<[string, string]>;
}

/**
 * The telegram area on Redis. Keys (after `${prefix}telegram:`): user:<Telegram user id>
 * (device, createdAt) and devices (device id → Telegram user id), which answers telegramDevices.
 */
export class RedisTelegramStore implements TelegramStore {
  private readonly keys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = {
      user: (telegramUserId: string) => `${prefix}telegram:user:${telegramUserId}`,
      devices: `${prefix}telegram:devices`,
      device: (deviceId: string) => `${prefix}dir:device:${deviceId}`,
    };
    redis.defineCommand('telegramSaveUser', { numberOfKeys: 3, lua: SAVE_USER });
  }

  async saveUser(telegramUserId: string, deviceId: string): Promise<TelegramUserRecord> {
    const scripts = this.redis as unknown as TelegramScripts;
    const [storedDevice, createdAt] = await scripts.telegramSaveUser(
      this.keys.user(telegramUserId),
      this.keys.devices,
      this.keys.device(deviceId),
      telegramUserId,
      deviceId,
      Date.now(),
    );
    return { telegramUserId, deviceId: storedDevice, createdAt: Number(createdAt) };
  }

  async telegramDevices(deviceIds: readonly string[]): Promise<Set<string>> {
    if (deviceIds.length === 0) return new Set();
    const users = await this.redis.hmget(this.keys.devices, ...deviceIds);
    return new Set(deviceIds.filter((_, i) => users[i] !== null));
  }
}
