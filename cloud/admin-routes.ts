import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { CrewCode, DeviceId, describeIssues, ProtocolError } from '../protocol/index.js';
import { requireAdminToken } from './admin-auth.js';
import type { Crews } from './crews.js';
import { sendError } from './http-errors.js';
import type { Identity } from './identity.js';
import type { Logger } from './log.js';
import { loadQueue } from './queue/queue-state.js';
import type { Session, SessionRegistry } from './sessions.js';
import type { CrewRecord, CrewSummary, MemberRecord, Store } from './store/store.js';

export interface AdminDeps {
  readonly store: Store;
  readonly registry: SessionRegistry;
  readonly crews: Crews;
  readonly identity: Identity;
  readonly log: Logger;
  /** ADMIN_TOKEN; the admin API answers 503 `unavailable` without one. */
  readonly adminToken: string | undefined;
}

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});
/** The listing's page cursor: base64url JSON of the last crew's [createdAt, crewId]. */
const Cursor = z.tuple([z.number().int(), z.string().min(1).max(64)]);

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ProtocolError('invalid_message', `The ${what} is not valid: ${describeIssues(result.error)}.`);
  return result.data;
}

function decodeCursor(cursor: string | undefined): { createdAt: number; crewId: string } | undefined {
  if (cursor === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    json = null;
  }
  const result = Cursor.safeParse(json);
  if (!result.success) throw new ProtocolError('invalid_message', 'The cursor is not valid: pass next_cursor from the previous page unchanged.');
  return { createdAt: result.data[0], crewId: result.data[1] };
}

const encodeCursor = (crew: CrewRecord) => Buffer.from(JSON.stringify([crew.createdAt, crew.crewId])).toString('base64url');

type Handler = (req: Request, res: Response) => Promise<void>;

/**
 * The operator's API under `/admin` (JSON; errors `{code, error, message}`), behind the bearer
 * gate of cloud/admin-auth.ts, which covers every `/admin/…` path (the history feature's too).
 * Online state is this relay process's own sockets. Paths: docs/REFERENCE.md "Admin API".
 */
export function adminRoutes(deps: AdminDeps): express.Router {
  const { store, registry, crews, identity, log } = deps;
  const api = express.Router();
  const route = (handler: Handler) => async (req: Request, res: Response) => {
    try {
      await handler(req, res);
    } catch (error) {
      sendError(res, error, log);
    }
  };

  /** The device's socket on this process, unless it is closing. */
  const liveSession = (deviceId: string): Session | undefined => {
    const session = registry.deviceSession(deviceId);
    return session && !session.closing ? session : undefined;
  };
  const onlineIn = (crewId: string): number => [...registry.crewSessions(crewId)].filter((s) => !s.closing && registry.isCurrent(s)).length;

  async function crewByCode(raw: unknown): Promise<CrewRecord> {
    const code = parse(CrewCode, raw, 'crew code');
    const crew = await store.crews.getCrewByCode(code);
    if (!crew) throw new ProtocolError('not_found', `No crew has the code ${code} (a rotated code stops working at once).`);
    return crew;
  }

  api.get(
    '/crews',
    route(async (req, res) => {
      const q = parse(ListQuery, req.query, 'query');
      const page = await store.crews.listCrews({ limit: q.limit + 1, after: decodeCursor(q.cursor) });
      const items = page.slice(0, q.limit);
      const { crews: total } = await store.crews.counts();
      res.json({
        crews: items.map((c) => crewListItem(c, onlineIn(c.crewId))),
        total,
        next_cursor: page.length > q.limit ? encodeCursor(items[items.length - 1]!) : null,
      });
    }),
  );

  api.get(
    '/crews/:code',
    route(async (req, res) => {
      const crew = await crewByCode(req.params.code);
      const members = await store.crews.listMembers(crew.crewId);
      const devices = await Promise.all(members.map((m) => store.crews.getDevice(m.deviceId)));
      const views = members.map((m, i) => memberView(m, devices[i]?.lastSeenAt ?? null, liveSession(m.deviceId)));
      res.json({
        crew_id: crew.crewId,
        crew_code: crew.crewCode,
        crew_name: crew.crewName,
        owner_device_id: crew.ownerDeviceId,
        created_at: crew.createdAt,
        latest_seq: crew.latestSeq,
        first_seq: await store.log.firstSeq(crew.crewId),
        member_count: members.length,
        members_online: views.filter((v) => v.online).length,
        members: views,
        queue: await queueSummary(crew.crewId),
      });
    }),
  );

  api.delete(
    '/crews/:code/members/:deviceId',
    route(async (req, res) => {
      const deviceId = parse(DeviceId, req.params.deviceId, 'device id');
      const crew = await crewByCode(req.params.code);
      const { seq, newOwnerDeviceId } = await crews.removeFromCrew(crew, deviceId);
      log.info({ crewId: crew.crewId, deviceId, seq, newOwnerDeviceId }, 'member removed by the admin API');
      res.json({ crew_code: crew.crewCode, device_id: deviceId, removed: true, seq, new_owner_device_id: newOwnerDeviceId });
    }),
  );

  api.post(
    '/crews/:code/rotate-code',
    route(async (req, res) => {
      const crew = await crewByCode(req.params.code);
      const { newCode, seq } = await crews.rotate(crew);
      log.info({ crewId: crew.crewId, oldCode: crew.crewCode, newCode, seq }, 'crew code rotated by the admin API');
      res.json({ crew_id: crew.crewId, old_crew_code: crew.crewCode, new_crew_code: newCode, seq });
    }),
  );

  api.get(
    '/devices/:deviceId',
    route(async (req, res) => {
      const deviceId = parse(DeviceId, req.params.deviceId, 'device id');
      const device = await store.crews.getDevice(deviceId);
      if (!device) throw new ProtocolError('not_found', `No device "${deviceId}" is known to the relay.`);
      const membership = await store.crews.getMembership(deviceId);
      const crew = membership ? await store.crews.getCrew(membership.crewId) : null;
      const session = liveSession(deviceId);
      res.json({
        device_id: device.deviceId,
        display_name: device.displayName,
        has_secret: device.secretHash !== null,
        credential_reset_at: device.secretResetAt,
        online: session !== undefined,
        generation: session?.gen ?? null,
        created_at: device.createdAt,
        last_seen_at: device.lastSeenAt,
        crew:
          membership && crew
            ? { crew_id: crew.crewId, crew_code: crew.crewCode, crew_name: crew.crewName, is_owner: membership.isOwner, joined_at: membership.joinedAt }
            : null,
      });
    }),
  );

  api.post(
    '/devices/:deviceId/reset-credential',
    route(async (req, res) => {
      const deviceId = parse(DeviceId, req.params.deviceId, 'device id');
      // A reset would let the next hello take the id over: a Telegram member has no gadget to get the new secret.
      if ((await store.telegram.telegramDevices([deviceId])).has(deviceId)) {
        throw new ProtocolError(
          'conflict',
          `Device ${deviceId} is a Telegram user of the bot, not a gadget: it has no credential to reset. Remove it from its crew instead.`,
        );
      }
      const result = await identity.resetCredential(deviceId);
      if (!result) throw new ProtocolError('not_found', `No device "${deviceId}" is known to the relay.`);
      res.json({ device_id: deviceId, had_secret: result.hadSecret, disconnected: result.disconnected });
    }),
  );

  /** The crew's queue in a few numbers (one stored row); null when it has none or it cannot be read. */
  async function queueSummary(crewId: string) {
    try {
      const stored = await loadQueue(store.queue, crewId);
      if (!stored) return null;
      const { nowPlaying, pending, throwback, version } = stored.state;
      return {
        version,
        throwback,
        up_next: pending.length,
        now_playing: nowPlaying
          ? {
              item_id: nowPlaying.id,
              track: nowPlaying.track,
              artist: nowPlaying.artist,
              spotify_uri: nowPlaying.uri,
              added_by: nowPlaying.addedBy,
              paused: nowPlaying.clock.pausedAt !== null,
            }
          : null,
      };
    } catch (error) {
      log.warn({ err: error, crewId }, 'admin crew view: the queue could not be read');
      return null;
    }
  }

  const router = express.Router();
  router.use('/admin', requireAdminToken(deps.adminToken, log), api);
  return router;
}

function crewListItem(crew: CrewSummary, membersOnline: number) {
  return {
    crew_id: crew.crewId,
    crew_code: crew.crewCode,
    crew_name: crew.crewName,
    owner: { device_id: crew.ownerDeviceId, display_name: crew.ownerName },
    member_count: crew.memberCount,
    members_online: membersOnline,
    latest_seq: crew.latestSeq,
    created_at: crew.createdAt,
  };
}

function memberView(member: MemberRecord, lastSeenAt: number | null, session: Session | undefined) {
  return {
    device_id: member.deviceId,
    display_name: member.displayName,
    is_owner: member.isOwner,
    online: session !== undefined,
    generation: session?.gen ?? null,
    joined_at: member.joinedAt,
    last_seen_at: lastSeenAt,
  };
}
