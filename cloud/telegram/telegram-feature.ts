import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import express from 'express';
import { z } from 'zod';
import { cleanName, CrewMessageBody, httpStatusOf, ProtocolError, type ErrorCode } from '../../protocol/index.js';
import { newCrewCode, newCrewId } from '../crew-codes.js';
import { sendError } from '../http-errors.js';
import type { Feature, FeatureFactory, RelayContext, SessionView } from '../feature.js';
import type { CrewRecord } from '../store/store.js';
import { KeyedBuckets } from '../token-bucket.js';

/** Telegram users are device rows with this prefix (their secret is random and never told). */
export const TELEGRAM_DEVICE_PREFIX = 'telegram:';
const DEFAULT_NAME = 'Telegram';
/** Per Telegram user, over every call that changes something: 10 at once, then one every 3 s. */
const CALLS_BURST = 10;
const CALLS_PER_SECOND = 1 / 3;
const MAX_TRACKED_USERS = 10_000;
const CODE_ATTEMPTS = 50;

// telegram_bot.py sends Telegram's numeric user id as a JSON number.
const TelegramUserId = z.union([z.number().int().positive().max(Number.MAX_SAFE_INTEGER), z.string().regex(/^[1-9][0-9]{0,15}$/)]).transform(String);
const CrewCodeText = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .transform((v) => v.toUpperCase());
const CreateBody = z.object({ telegram_user_id: TelegramUserId });
const JoinBody = z.object({ telegram_user_id: TelegramUserId, crew_code: CrewCodeText });
const MessageBody = z.object({
  telegram_user_id: TelegramUserId,
  crew_code: CrewCodeText,
  sender_name: z.string().nullish(),
  msg_type: z.string().nullish(),
  payload: z.unknown().optional(),
});

export interface TelegramFeatureOptions {
  readonly now?: () => number;
}

/** Refusals the bot reads: `error` is the code it branches on, `message` what it shows. */
class ApiRefusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status = httpStatusOf(code),
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * The HTTP API of the Telegram bot (leeloo_server/telegram_bot.py), with the request and
 * answer shapes the bot uses:
 *   POST /api/telegram/crew/create {telegram_user_id}             → {crew_code}
 *   POST /api/telegram/crew/join   {telegram_user_id, crew_code}  → {success, crew_code, devices_online}
 *                                                                   404 {error: 'crew_not_found'}
 *   POST /api/telegram/message     {telegram_user_id, crew_code, sender_name, msg_type, payload}
 *                                                                 → {success, devices_reached}; 403 {error: 'not_in_crew'}
 *   GET  /api/telegram/crew/status?crew_code=                     → {crew_code, exists, devices_online, device_names, telegram_users}
 * With TELEGRAM_API_SECRET set, every call needs it in X-Api-Secret (compared in constant time).
 *
 * A Telegram user is a durable crew member without a gadget: a device row `telegram:<id>`
 * (whose secret nobody knows, so no socket can speak as it) in crew_members, listed on the
 * crew page, removable by the owner like any member. Its messages are crew events: stored
 * under the crew's seq and delivered in each gadget's dialect, offline gadgets included.
 */
export class TelegramFeature implements Feature {
  readonly name = 'telegram';
  readonly router: express.Router;
  private readonly now: () => number;
  private readonly calls: KeyedBuckets;

  constructor(
    private readonly context: RelayContext,
    options: TelegramFeatureOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.calls = new KeyedBuckets(CALLS_PER_SECOND, CALLS_BURST, this.now, MAX_TRACKED_USERS);
    this.router = this.routes();
  }

  /**
   * A crew made from Telegram is owned by that Telegram user until a gadget enters it: the
   * first gadget becomes the owner (before it goes online, so its session knows), because a
   * Telegram user cannot rename, rotate or remove from the bot.
   */
  async afterCrewEntry(session: SessionView): Promise<void> {
    const deviceId = session.deviceId;
    if (!deviceId || deviceId.startsWith(TELEGRAM_DEVICE_PREFIX)) return;
    const { crews, telegram } = this.context.store;
    const membership = await crews.getMembership(deviceId);
    const crew = membership ? await crews.getCrew(membership.crewId) : null;
    if (!crew || !(await telegram.telegramDevices([crew.ownerDeviceId])).has(crew.ownerDeviceId)) return;
    if (await crews.transferOwnership(crew.crewId, deviceId)) {
      this.context.log.info({ crewId: crew.crewId, deviceId, from: crew.ownerDeviceId }, 'first gadget in a Telegram-made crew became its owner');
    }
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  private routes(): express.Router {
    const router = express.Router();
    const api = express.Router();
    api.use(express.json({ limit: '32kb' }));
    api.use((req, res, next) =>
      this.secretMatches(req.get('x-api-secret')) ? next() : this.refuse(res, new ApiRefusal('unauthorized', 'X-Api-Secret is missing or wrong.')),
    );
    const handle = (run: (body: unknown, query: express.Request['query']) => Promise<unknown>) => async (req: express.Request, res: express.Response) => {
      try {
        res.json(await run(req.body, req.query));
      } catch (error) {
        this.refuse(res, error);
      }
    };
    api.post(
      '/crew/create',
      handle((body) => this.createCrew(body)),
    );
    api.post(
      '/crew/join',
      handle((body) => this.joinCrew(body)),
    );
    api.post(
      '/message',
      handle((body) => this.message(body)),
    );
    api.get(
      '/crew/status',
      handle(async (_body, query) => this.status(query.crew_code)),
    );
    router.use('/api/telegram', api);
    return router;
  }

  private async createCrew(body: unknown): Promise<{ crew_code: string }> {
    const { telegram_user_id } = parse(CreateBody, body);
    this.takeCall(telegram_user_id);
    const deviceId = await this.member(telegram_user_id);
    const before = await this.context.store.crews.getMembership(deviceId);
    const crew = await this.newCrew(deviceId);
    if (before) await this.announceLeft(before.crewId, deviceId);
    this.context.log.info({ telegramUserId: telegram_user_id, crewId: crew.crewId }, 'telegram user created a crew');
    return { crew_code: crew.crewCode };
  }

  private async joinCrew(body: unknown): Promise<{ success: true; crew_code: string; devices_online: number }> {
    const { telegram_user_id, crew_code } = parse(JoinBody, body);
    this.takeCall(telegram_user_id);
    const crew = await this.context.store.crews.getCrewByCode(crew_code);
    if (!crew) throw new ApiRefusal('crew_not_found', `Crew ${crew_code} not found.`);
    const deviceId = await this.member(telegram_user_id);
    const { leftCrewId, alreadyMember } = await this.context.store.crews.addMember(crew.crewId, deviceId);
    if (leftCrewId) await this.announceLeft(leftCrewId, deviceId);
    if (!alreadyMember) {
      const device = await this.context.store.crews.getDevice(deviceId);
      await this.context.publish(crew.crewId, { type: 'member_joined', device_id: deviceId, display_name: device?.displayName ?? DEFAULT_NAME }, { deviceId });
    }
    this.context.log.info({ telegramUserId: telegram_user_id, crewId: crew.crewId }, 'telegram user joined a crew');
    return { success: true, crew_code: crew.crewCode, devices_online: (await this.online(crew.crewId)).length };
  }

  private async message(body: unknown): Promise<{ success: true; devices_reached: number }> {
    const input = parse(MessageBody, body);
    this.takeCall(input.telegram_user_id);
    const deviceId = `${TELEGRAM_DEVICE_PREFIX}${input.telegram_user_id}`;
    const crew = await this.context.store.crews.getCrewByCode(input.crew_code);
    const membership = await this.context.store.crews.getMembership(deviceId);
    if (!crew || membership?.crewId !== crew.crewId) {
      throw new ApiRefusal('not_in_crew', 'You are not a member of this crew; join it again with its code.', 403);
    }
    const parsed = CrewMessageBody.safeParse({ msg_type: input.msg_type ?? 'text', payload: input.payload ?? {} });
    if (!parsed.success) {
      throw new ApiRefusal(
        'invalid_message',
        `The message cannot be relayed: ${parsed.error.issues.map((i) => `${['payload', ...i.path.slice(1)].join('.')} ${i.message}`).join('; ')}.`,
      );
    }
    const fromName = senderName(input.sender_name);
    if (fromName !== membership.displayName) await this.context.store.crews.saveDevice({ deviceId, displayName: fromName });
    const reached = await this.online(crew.crewId);
    await this.context.publish(
      crew.crewId,
      { type: 'message', from_device: 'telegram', from_name: fromName, timestamp: this.now(), ...parsed.data },
      { deviceId },
    );
    return { success: true, devices_reached: reached.length };
  }

  private async status(raw: unknown) {
    const code = typeof raw === 'string' ? raw.trim().toUpperCase() : '';
    if (!code) throw new ApiRefusal('invalid_message', 'crew_code is required (?crew_code=LEELOO-XXXX).');
    const crew = await this.context.store.crews.getCrewByCode(code.slice(0, 64));
    if (!crew) return { crew_code: code, exists: false, devices_online: 0, device_names: [], telegram_users: 0 };
    const members = await this.context.store.crews.listMembers(crew.crewId);
    const telegram = await this.context.store.telegram.telegramDevices(members.map((m) => m.deviceId));
    const online = members.filter((m) => !telegram.has(m.deviceId) && this.context.isOnline(m.deviceId));
    return {
      crew_code: crew.crewCode,
      exists: true,
      devices_online: online.length,
      device_names: online.map((m) => m.displayName),
      telegram_users: telegram.size,
    };
  }

  /** The Telegram user's device row (created with a secret nobody knows) and its telegram_users record. */
  private async member(telegramUserId: string): Promise<string> {
    const deviceId = `${TELEGRAM_DEVICE_PREFIX}${telegramUserId}`;
    const existing = await this.context.store.crews.getDevice(deviceId);
    const unknowable = createHash('sha256').update(randomBytes(32)).digest('hex');
    await this.context.store.crews.saveDevice({ deviceId, displayName: existing?.displayName ?? DEFAULT_NAME, secretHash: unknowable });
    await this.context.store.telegram.saveUser(telegramUserId, deviceId);
    return deviceId;
  }

  private async newCrew(ownerDeviceId: string): Promise<CrewRecord> {
    for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt += 1) {
      try {
        return await this.context.store.crews.createCrew({ crewId: newCrewId(), crewCode: newCrewCode(), crewName: 'Telegram crew', ownerDeviceId });
      } catch (error) {
        if (!(error instanceof ProtocolError && error.code === 'crew_code_taken')) throw error;
      }
    }
    throw new ApiRefusal('conflict', 'The relay could not find a free crew code; try again.');
  }

  private async announceLeft(crewId: string, deviceId: string): Promise<void> {
    const device = await this.context.store.crews.getDevice(deviceId);
    await this.context.publish(
      crewId,
      { type: 'member_left', device_id: deviceId, display_name: device?.displayName ?? DEFAULT_NAME, removed: false },
      { deviceId },
    );
  }

  /** The crew's gadgets connected now (Telegram members never are). */
  private async online(crewId: string) {
    return (await this.context.store.crews.listMembers(crewId)).filter((m) => this.context.isOnline(m.deviceId));
  }

  private takeCall(telegramUserId: string): void {
    const taken = this.calls.take(telegramUserId);
    if (!taken.ok)
      throw new ApiRefusal(
        'rate_limited',
        `Too many messages from this Telegram user; try again in ${Math.ceil(taken.retryAfterMs / 1000)} s.`,
        429,
        taken.retryAfterMs,
      );
  }

  private secretMatches(provided: string | undefined): boolean {
    const expected = this.context.config.telegramApiSecret;
    if (!expected) return true;
    // Equal-length digests: the comparison takes the same time whatever was sent.
    const digest = (v: string) => createHash('sha256').update(v).digest();
    return timingSafeEqual(digest(provided ?? ''), digest(expected)) && provided !== undefined;
  }

  private refuse(res: express.Response, error: unknown): void {
    const refusal = error instanceof ApiRefusal ? error : error instanceof ProtocolError ? new ApiRefusal(error.code, error.message) : null;
    // The relay's own failures (a store that cannot write is 503 `unavailable`) are answered and logged as on every route.
    if (!refusal) return sendError(res, error, this.context.log);
    if (refusal.retryAfterMs !== undefined) res.set('retry-after', String(Math.ceil(refusal.retryAfterMs / 1000)));
    res.status(refusal.status).json({
      code: refusal.code,
      error: refusal.code,
      message: refusal.message,
      ...(refusal.retryAfterMs !== undefined ? { retry_after_ms: refusal.retryAfterMs } : {}),
    });
  }
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const sentence = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'} ${i.message}`).join('; ');
  throw new ApiRefusal('invalid_message', `The request is not one the Telegram API takes: ${sentence}.`);
}

/** Telegram first names may be longer than a gadget's: clipped, without control characters. */
function senderName(raw: string | null | undefined): string {
  const clean = cleanName(raw ?? '')
    .trim()
    .slice(0, 32)
    .trim();
  return clean || 'Phone';
}

export const telegramFeatureFactory =
  (options?: TelegramFeatureOptions): FeatureFactory =>
  (context) =>
    new TelegramFeature(context, options);
