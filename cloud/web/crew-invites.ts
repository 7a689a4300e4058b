import { createHash, randomBytes } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { CrewInviteAcceptRequest, type CrewInviteResponse, type CrewMemberRemoveResponse } from '../../protocol/crew-pages.js';
import { ProtocolError } from '../../protocol/errors.js';
import { describeIssues } from '../../protocol/parse.js';
import type { RelayContext } from '../feature.js';
import { sendJson } from '../http-errors.js';
import { KeyedBuckets } from '../token-bucket.js';
import { escapeHtml, pageShell } from './crew-page.js';
import type { CrewViewer, MemberLinks } from './member-links.js';
import { PHONE_DEVICE_ID_PREFIX } from '../device-credentials.js';

/**
 * Phone members: the crew owner invites a person who has no gadget. The owner's page makes a
 * signed, expiring invite (POST /crew/api/invites, a few per crew and hour); the person opens
 * it (GET /i/<invite>), gives a name (POST /i/<invite>) and becomes a crew member as a gadget
 * joining would — a device row `phone:<invite id>` holding a secret nobody is given (so no
 * socket can speak as it), a membership with its joined seq (the newcomer rule applies) and
 * `member_joined` for the crew — then gets the ordinary member link cookie and lands on /crew.
 * The device id comes from the invite, so an invite makes one member: a second use finds the
 * device. The owner removes phone and Telegram members from the page (DELETE
 * /crew/api/members/:deviceId); gadgets are removed from a gadget (`remove_member`), which
 * also tells the gadget's socket.
 */

export const PHONE_DEVICE_PREFIX = PHONE_DEVICE_ID_PREFIX;
const DEFAULT_HINT = 'Ask the crew owner for a new invite link.';
// The invite page runs no script and posts only to itself.
const FORM_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

export interface CrewInvitesDeps {
  readonly context: RelayContext;
  readonly links: MemberLinks;
  readonly now: () => number;
  /** Hands the new member the member link's cookie and sends the phone to /crew (crew-pages.ts). */
  readonly signIn: (req: Request, res: Response, token: string, expiresAt: number) => void;
  /** Answers a refused invite with the crew pages' error page. */
  readonly refuse: (res: Response, error: unknown, hint: string) => void;
}

export function isPhoneMember(deviceId: string): boolean {
  return deviceId.startsWith(PHONE_DEVICE_PREFIX);
}

export class CrewInvites {
  /** GET and POST /i/:token, for the person invited (no cookie yet). */
  readonly pageRouter = express.Router();
  /** Mounted at /crew/api behind the member link, with res.locals.viewer set. */
  readonly apiRouter = express.Router();
  private readonly deps: CrewInvitesDeps;
  /** Invites per crew and hour. */
  private readonly buckets: KeyedBuckets;
  /** Invites being accepted right now: two submits of one invite make one member. */
  private readonly accepting = new Set<string>();

  constructor(deps: CrewInvitesDeps) {
    this.deps = deps;
    const { invitesPerHour } = deps.context.config.queue;
    this.buckets = new KeyedBuckets(invitesPerHour / 3600, invitesPerHour, deps.now);
    this.pageRouter.get('/i/:token', (req, res) => void this.form(req, res));
    this.pageRouter.post('/i/:token', express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => void this.accept(req, res));
    this.apiRouter.post('/invites', (_req, res) => sendJson(res, () => this.invite(res.locals.viewer as CrewViewer), this.deps.context.log));
    this.apiRouter.delete('/members/:deviceId', (req, res) =>
      sendJson(res, () => this.remove(res.locals.viewer as CrewViewer, String(req.params.deviceId)), this.deps.context.log),
    );
  }

  private async invite(viewer: CrewViewer): Promise<CrewInviteResponse> {
    if (!viewer.isOwner) throw new ProtocolError('not_owner', 'Only the crew owner may invite someone.');
    const taken = this.buckets.take(viewer.crewId);
    if (!taken.ok) {
      throw new ProtocolError(
        'rate_limited',
        `This crew has made enough invites for now; try again in ${Math.ceil(taken.retryAfterMs / 60_000)} min.`,
        taken.retryAfterMs,
      );
    }
    const { context, links, now } = this.deps;
    const { token, expiresAt } = links.issueInvite(viewer.crewId, viewer.deviceId, viewer.crewCode, now(), context.config.queue.inviteTtlMs);
    context.log.info({ crewId: viewer.crewId, by: viewer.deviceId }, 'crew invite made');
    return { url: `${context.publicUrl()}/i/${token}`, expires_at: expiresAt };
  }

  /**
   * The invite's claims, refused when it was used already. With `reserve` the invite is held
   * (in `accepting`, before the store is asked) until the caller lets it go: of two submits at
   * once, one makes the member and the other is refused.
   */
  private async unused(token: string, reserve: boolean) {
    const claims = await this.deps.links.authorizeInvite(this.deps.context.store, token, this.deps.now());
    const deviceId = `${PHONE_DEVICE_PREFIX}${claims.inviteId}`;
    const used = () => new ProtocolError('link_expired', 'This invite link has been used already: an invite makes one member.');
    if (this.accepting.has(deviceId)) throw used();
    if (reserve) this.accepting.add(deviceId);
    try {
      if (await this.deps.context.store.crews.getDevice(deviceId)) throw used();
    } catch (error) {
      if (reserve) this.accepting.delete(deviceId);
      throw error;
    }
    return { ...claims, deviceId };
  }

  private async form(req: Request, res: Response): Promise<void> {
    try {
      const token = String(req.params.token);
      const invite = await this.unused(token, false);
      res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', 'Content-Security-Policy': FORM_CSP });
      res.type('html').send(invitePageHtml(invite.crewName, token, null));
    } catch (error) {
      this.deps.refuse(res, error, DEFAULT_HINT);
    }
  }

  private async accept(req: Request, res: Response): Promise<void> {
    const token = String(req.params.token);
    const parsed = CrewInviteAcceptRequest.safeParse(req.body ?? {});
    let reserved: string | null = null;
    try {
      const invite = await this.unused(token, parsed.success);
      if (!parsed.success) {
        res
          .status(400)
          .set({ 'Cache-Control': 'no-store', 'Content-Security-Policy': FORM_CSP })
          .type('html')
          .send(invitePageHtml(invite.crewName, token, `Your name ${describeIssues(parsed.error).replace(/^display_name /, '')}.`));
        return;
      }
      const { deviceId } = invite;
      reserved = deviceId;
      const name = parsed.data.display_name;
      const { context, links, now } = this.deps;
      const { crews } = context.store;
      const unknowable = createHash('sha256').update(randomBytes(32)).digest('hex');
      await crews.saveDevice({ deviceId, displayName: name, secretHash: unknowable });
      await crews.addMember(invite.crewId, deviceId);
      await context.publish(invite.crewId, { type: 'member_joined', device_id: deviceId, display_name: name }, { deviceId });
      context.log.info({ crewId: invite.crewId, deviceId, by: invite.invitedBy }, 'phone member joined by invite');
      const link = links.issue(invite.crewId, deviceId, invite.crewCode, now());
      this.deps.signIn(req, res, link.token, link.expiresAt);
    } catch (error) {
      this.deps.refuse(res, error, DEFAULT_HINT);
    } finally {
      if (reserved) this.accepting.delete(reserved);
    }
  }

  /** The owner takes a phone or Telegram member out of the crew; every gadget (the owner's too) hears member_left. */
  private async remove(viewer: CrewViewer, deviceId: string): Promise<CrewMemberRemoveResponse> {
    if (!viewer.isOwner) throw new ProtocolError('not_owner', 'Only the crew owner may remove a member.');
    if (deviceId === viewer.deviceId) throw new ProtocolError('conflict', 'The owner cannot remove themselves.');
    const { store, publish } = this.deps.context;
    const target = (await store.crews.listMembers(viewer.crewId)).find((m) => m.deviceId === deviceId);
    if (!target) throw new ProtocolError('not_found', 'Nobody in your crew has that device id.');
    const telegram = await store.telegram.telegramDevices([deviceId]);
    if (!isPhoneMember(deviceId) && !telegram.has(deviceId)) {
      throw new ProtocolError('conflict', 'A member with a gadget is removed from the owner’s gadget (Crew → Members), so their gadget hears it.');
    }
    await store.crews.removeMember(viewer.crewId, deviceId);
    const { seq } = await publish(viewer.crewId, { type: 'member_left', device_id: deviceId, display_name: target.displayName, removed: true });
    return { ok: true, seq };
  }
}

function invitePageHtml(crewName: string, token: string, problem: string | null): string {
  const title = `Join ${crewName || 'a crew'} · LEELOO`;
  const body = `
<main class="error-page">
  <div class="card">
    <div class="eyebrow">LEELOO crew</div>
    <h1>You are invited to ${escapeHtml(crewName || 'a crew')}</h1>
    <p class="hint">No gadget needed: from this phone you can see what the crew plays, add tracks, and write to the crew.</p>
    <form id="invite-form" class="add" method="post" action="/i/${escapeHtml(token)}" autocomplete="off">
      <label class="field"><span>Your name in the crew</span><input id="invite-name" name="display_name" maxlength="32" required autofocus></label>
      <button type="submit" class="primary">Join the crew</button>
      <p class="form-error" id="invite-error" role="alert">${problem ? escapeHtml(problem) : ''}</p>
    </form>
  </div>
</main>`;
  return pageShell(title, body);
}
