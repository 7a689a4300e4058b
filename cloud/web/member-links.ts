import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ProtocolError } from '../../protocol/errors.js';
import { firstVisibleSeq } from '../crew-visibility.js';
import type { Store } from '../store/store.js';

/**
 * Signed links that let a crew member open the crew's pages on a phone without a
 * password. A link is `v1.<payload>.<mac>`: the payload names the crew, the member, the
 * expiry and a fingerprint of the crew code, and the MAC is HMAC-SHA256 with the
 * relay's link secret. It stops working when it expires, when the crew code rotates
 * (the fingerprint no longer matches) or when the member leaves (membership is checked
 * on every use). The payload holds ids only: never the crew code itself, which would let
 * whoever sees a link join the crew.
 */

export interface LinkClaims {
  readonly crewId: string;
  readonly deviceId: string;
  readonly expiresAt: number;
  readonly codeFingerprint: string;
}

export interface CrewViewer {
  readonly crewId: string;
  readonly crewCode: string;
  readonly crewName: string;
  readonly deviceId: string;
  readonly displayName: string;
  readonly isOwner: boolean;
  readonly expiresAt: number;
  /** The first crew seq this member may read (cloud/crew-visibility.ts), as of this request. */
  readonly firstVisibleSeq: number;
  /** The owner's "share history with newcomers" setting, as of this request. */
  readonly shareHistory: boolean;
}

/**
 * An owner's invite for a person without a gadget (cloud/web/crew-invites.ts): `i1.<payload>.<mac>`,
 * MACed under its own prefix so a member link is never an invite nor the other way round. It
 * names the crew, the inviting owner, a random invite id (the phone member's device id is made
 * from it, so an invite makes one member) and the crew code's fingerprint.
 */
export interface InviteClaims {
  readonly crewId: string;
  readonly inviteId: string;
  readonly invitedBy: string;
  readonly expiresAt: number;
}

const SECRET_FILE = 'link-secret';
const TOKEN_PATTERN = /^v1\.([A-Za-z0-9_-]{10,400})\.([A-Za-z0-9_-]{43})$/;
const INVITE_PATTERN = /^i1\.([A-Za-z0-9_-]{10,400})\.([A-Za-z0-9_-]{43})$/;
const INVITE_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** LEELOO_LINK_SECRET when set; otherwise 32 random bytes generated once and kept in the data dir (mode 0600). */
export async function loadLinkSecret(configured: string | undefined, dataDir: string): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'utf8');
  const file = path.join(dataDir, SECRET_FILE);
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  try {
    await fs.writeFile(file, randomBytes(32).toString('base64url'), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stored = (await fs.readFile(file, 'utf8')).trim();
  if (stored.length < 32) throw new Error(`${file} holds a link secret shorter than 32 characters; delete it to make a new one.`);
  return Buffer.from(stored, 'utf8');
}

export class MemberLinks {
  private readonly secret: Buffer;
  private readonly ttlMs: number;

  constructor(secret: Buffer, ttlMs: number) {
    this.secret = secret;
    this.ttlMs = ttlMs;
  }

  issue(crewId: string, deviceId: string, crewCode: string, now: number): { token: string; expiresAt: number } {
    const expiresAt = now + this.ttlMs;
    return { token: this.sign('v1', { c: crewId, d: deviceId, e: expiresAt, f: this.fingerprint(crewCode) }), expiresAt };
  }

  /** An owner's single-use invite to the crew, working for ttlMs. */
  issueInvite(crewId: string, invitedBy: string, crewCode: string, now: number, ttlMs: number): { token: string; inviteId: string; expiresAt: number } {
    const expiresAt = now + ttlMs;
    const inviteId = randomBytes(16).toString('base64url');
    return { token: this.sign('i1', { c: crewId, n: inviteId, b: invitedBy, e: expiresAt, f: this.fingerprint(crewCode) }), inviteId, expiresAt };
  }

  /**
   * Checks an invite's MAC and expiry, that its crew still has the code it was made under and
   * that whoever made it still owns the crew; throws link_invalid or link_expired. Whether it
   * was used already is the caller's (the phone member's device exists).
   */
  async authorizeInvite(store: Store, token: string, now: number): Promise<InviteClaims & { readonly crewCode: string; readonly crewName: string }> {
    const match = INVITE_PATTERN.exec(token);
    const claims =
      match && this.macMatches('i1', match[1]!, match[2]!)
        ? (JSON.parse(Buffer.from(match[1]!, 'base64url').toString('utf8')) as Record<string, unknown>)
        : null;
    if (!claims || typeof claims.n !== 'string' || !INVITE_ID_PATTERN.test(claims.n)) {
      throw new ProtocolError('link_invalid', 'This invite link is not valid (it may have been cut short when copied); ask the crew owner for a new one.');
    }
    if (!((claims.e as number) > now)) throw new ProtocolError('link_expired', 'This invite link has expired; ask the crew owner for a new one.');
    const [crew, inviter] = await Promise.all([store.crews.getCrew(String(claims.c)), store.crews.getMembership(String(claims.b))]);
    if (!crew || this.fingerprint(crew.crewCode) !== claims.f || inviter?.crewId !== crew.crewId || !inviter.isOwner) {
      throw new ProtocolError(
        'link_expired',
        'This invite no longer works (the crew code changed, or whoever made it no longer owns the crew); ask the crew owner for a new one.',
      );
    }
    return {
      crewId: crew.crewId,
      inviteId: claims.n,
      invitedBy: inviter.deviceId,
      expiresAt: claims.e as number,
      crewCode: crew.crewCode,
      crewName: crew.crewName,
    };
  }

  /** Checks the MAC and the expiry; throws link_invalid or link_expired. */
  verify(token: string, now: number): LinkClaims {
    const match = TOKEN_PATTERN.exec(token);
    if (!match || !this.macMatches('v1', match[1]!, match[2]!)) {
      throw new ProtocolError('link_invalid', 'This crew link is not valid (it may have been cut short when copied); ask the gadget for a new one.');
    }
    const claims = JSON.parse(Buffer.from(match[1]!, 'base64url').toString('utf8')) as { c: string; d: string; e: number; f: string };
    if (!(claims.e > now)) throw new ProtocolError('link_expired', 'This crew link has expired; ask the gadget for a new one.');
    return { crewId: claims.c, deviceId: claims.d, expiresAt: claims.e, codeFingerprint: claims.f };
  }

  /** Verifies a link and checks it still names a member of the crew under its current code. */
  async authorize(store: Store, token: string, now: number): Promise<CrewViewer> {
    const claims = this.verify(token, now);
    const [crew, membership] = await Promise.all([store.crews.getCrew(claims.crewId), store.crews.getMembership(claims.deviceId)]);
    if (!crew || membership?.crewId !== crew.crewId) {
      throw new ProtocolError('link_expired', 'This crew link belongs to a member who has left the crew; ask the gadget for a new one.');
    }
    if (this.fingerprint(crew.crewCode) !== claims.codeFingerprint) {
      throw new ProtocolError('link_expired', 'The crew code has changed since this link was made; ask the gadget for a new one.');
    }
    return {
      crewId: crew.crewId,
      crewCode: crew.crewCode,
      crewName: crew.crewName,
      deviceId: membership.deviceId,
      displayName: membership.displayName,
      isOwner: membership.isOwner,
      expiresAt: claims.expiresAt,
      firstVisibleSeq: firstVisibleSeq(membership, crew),
      shareHistory: crew.shareHistory,
    };
  }

  private fingerprint(crewCode: string): string {
    return createHmac('sha256', this.secret).update(`crew-code:${crewCode}`).digest('base64url').slice(0, 12);
  }

  private sign(prefix: 'v1' | 'i1', claims: Record<string, unknown>): string {
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${prefix}.${payload}.${this.mac(prefix, payload)}`;
  }

  private mac(prefix: string, payload: string): string {
    return createHmac('sha256', this.secret).update(`${prefix}.${payload}`).digest('base64url');
  }

  private macMatches(prefix: string, payload: string, mac: string): boolean {
    const expected = Buffer.from(this.mac(prefix, payload));
    const given = Buffer.from(mac);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
