import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../protocol/index.js';
import type { Store } from '../../../cloud/store/store.js';
import { openSqliteStore } from '../../../cloud/store/sqlite-store.js';
import { MemberLinks } from '../../../cloud/web/member-links.js';

/*
 * The owner's invite token (cloud/web/member-links.ts, issueInvite / authorizeInvite): signed
 * with the relay's link secret under its own prefix, expiring, tied to the crew code and to
 * the inviter still owning the crew. Checked against a real store.
 */

const SECRET = Buffer.from('an-invite-test-secret-of-32-chars-or-more');
const HOUR = 3_600_000;
const NOW = 1_800_000_000_000;

let dir: string;
let store: Store;
let links: MemberLinks;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leeloo-invite-'));
  store = openSqliteStore(path.join(dir, 'leeloo.db'));
  await store.crews.saveDevice({ deviceId: 'dev-olga', displayName: 'Olga' });
  await store.crews.saveDevice({ deviceId: 'dev-ben', displayName: 'Ben' });
  await store.crews.createCrew({ crewId: 'crew-1', crewCode: 'LEELOO-AAAA', crewName: 'Tuesday', ownerDeviceId: 'dev-olga' });
  await store.crews.addMember('crew-1', 'dev-ben');
  links = new MemberLinks(SECRET, 24 * HOUR);
});

afterEach(async () => {
  await store.close();
  await fs.rm(dir, { recursive: true, force: true });
});

async function refusal(token: string, now = NOW): Promise<string> {
  const error = await links.authorizeInvite(store, token, now).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProtocolError);
  return (error as ProtocolError).code;
}

describe('invite tokens', () => {
  it('names the crew, the inviter and a fresh invite id until it expires', async () => {
    const first = links.issueInvite('crew-1', 'dev-olga', 'LEELOO-AAAA', NOW, 2 * HOUR);
    const second = links.issueInvite('crew-1', 'dev-olga', 'LEELOO-AAAA', NOW, 2 * HOUR);
    expect(first.token).toMatch(/^i1\./);
    expect(first.expiresAt).toBe(NOW + 2 * HOUR);
    expect(first.inviteId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(second.inviteId).not.toBe(first.inviteId);
    expect(await links.authorizeInvite(store, first.token, NOW + 2 * HOUR - 1)).toEqual({
      crewId: 'crew-1',
      inviteId: first.inviteId,
      invitedBy: 'dev-olga',
      expiresAt: NOW + 2 * HOUR,
      crewCode: 'LEELOO-AAAA',
      crewName: 'Tuesday',
    });
    // The payload holds ids, never the crew code.
    expect(Buffer.from(first.token.split('.')[1]!, 'base64url').toString()).not.toContain('LEELOO-AAAA');
    expect(await refusal(first.token, NOW + 2 * HOUR)).toBe('link_expired');
  });

  it('refuses a tampered, truncated or foreign token as link_invalid', async () => {
    const { token } = links.issueInvite('crew-1', 'dev-olga', 'LEELOO-AAAA', NOW, HOUR);
    const [prefix, payload, mac] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), e: NOW + 100 * HOUR })).toString('base64url');
    expect(await refusal(`${prefix}.${forged}.${mac}`)).toBe('link_invalid');
    expect(await refusal(token.slice(0, -1))).toBe('link_invalid');
    expect(
      await refusal(
        new MemberLinks(Buffer.from('another-secret-that-is-32-chars-long!!'), HOUR).issueInvite('crew-1', 'dev-olga', 'LEELOO-AAAA', NOW, HOUR).token,
      ),
    ).toBe('link_invalid');
    // A member link is not an invite, even with the same payload and secret.
    const member = links.issue('crew-1', 'dev-olga', 'LEELOO-AAAA', NOW).token;
    expect(await refusal(member)).toBe('link_invalid');
    expect(await refusal(`i1.${member.split('.')[1]}.${member.split('.')[2]}`)).toBe('link_invalid');
  });

  it('stops working when the crew code rotates or the inviter no longer owns the crew', async () => {
    const { token } = links.issueInvite('crew-1', 'dev-olga', 'LEELOO-AAAA', NOW, HOUR);
    await store.crews.changeCrewCode('crew-1', 'LEELOO-BBBB');
    expect(await refusal(token)).toBe('link_expired');

    const fresh = links.issueInvite('crew-1', 'dev-olga', 'LEELOO-BBBB', NOW, HOUR).token;
    expect(await links.authorizeInvite(store, fresh, NOW)).toMatchObject({ crewCode: 'LEELOO-BBBB' });
    await store.crews.transferOwnership('crew-1', 'dev-ben');
    expect(await refusal(fresh)).toBe('link_expired');
    // Made by a member who never owned it: refused the same way.
    expect(await refusal(links.issueInvite('crew-1', 'dev-nobody', 'LEELOO-BBBB', NOW, HOUR).token)).toBe('link_expired');
  });
});
