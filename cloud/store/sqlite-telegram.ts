import type { TelegramStore, TelegramUserRecord } from './areas/telegram.js';
import { runMigrations, type SqliteDatabase } from './sqlite.js';

/** The `telegram` area on SQLite (after the crews area, whose devices table it references). */
const MIGRATIONS = [
  `CREATE TABLE telegram_users (
     telegram_user_id TEXT PRIMARY KEY,
     device_id TEXT NOT NULL UNIQUE REFERENCES devices(device_id),
     created_at INTEGER NOT NULL
   );`,
];

interface UserRow {
  telegram_user_id: string;
  device_id: string;
  created_at: number;
}

export class SqliteTelegramStore implements TelegramStore {
  constructor(private readonly db: SqliteDatabase) {
    runMigrations(db, 'telegram', MIGRATIONS);
  }

  async saveUser(telegramUserId: string, deviceId: string): Promise<TelegramUserRecord> {
    this.db
      .prepare('INSERT INTO telegram_users (telegram_user_id, device_id, created_at) VALUES (?, ?, ?) ON CONFLICT(telegram_user_id) DO NOTHING')
      .run(telegramUserId, deviceId, Date.now());
    const row = this.db.prepare('SELECT * FROM telegram_users WHERE telegram_user_id = ?').get(telegramUserId) as UserRow;
    return { telegramUserId: row.telegram_user_id, deviceId: row.device_id, createdAt: row.created_at };
  }

  async telegramDevices(deviceIds: readonly string[]): Promise<Set<string>> {
    if (deviceIds.length === 0) return new Set();
    const rows = this.db
      .prepare(`SELECT device_id FROM telegram_users WHERE device_id IN (${deviceIds.map(() => '?').join(',')})`)
      .pluck()
      .all(...deviceIds) as string[];
    return new Set(rows);
  }
}
