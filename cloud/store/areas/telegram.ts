/**
 * The `telegram` area of the Store: which crew members are Telegram users of the bot
 * (leeloo_server/telegram_bot.py) rather than gadgets. A Telegram user is a device row
 * `telegram:<user id>` holding a secret nobody knows, so no socket can ever speak as it;
 * its crew membership is an ordinary one (cloud/store: crew_members). SQLite:
 * cloud/store/sqlite-telegram.ts.
 */
export interface TelegramUserRecord {
  readonly telegramUserId: string;
  readonly deviceId: string;
  readonly createdAt: number;
}

export interface TelegramStore {
  /** Records the user (idempotent); its device row must exist. */
  saveUser(telegramUserId: string, deviceId: string): Promise<TelegramUserRecord>;
  /** Which of these device ids are Telegram users. */
  telegramDevices(deviceIds: readonly string[]): Promise<Set<string>>;
}
