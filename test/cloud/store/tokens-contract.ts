import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GrantRecord, SigninSessionRecord, TokenStore } from '../../../cloud/store/areas/tokens.js';

/** The tokens area's contract: SQLite and Redis both run it (tokens-store.test.ts). `open` gives an empty area. */
export interface TokenStoreFactory {
  readonly name: string;
  open(): Promise<TokenStore>;
  cleanup(): Promise<void>;
}

const grant = (deviceId: string, overrides: Partial<GrantRecord> = {}): GrantRecord => ({
  deviceId,
  spotifyUserId: `user-${deviceId}`,
  spotifyAccountId: null,
  displayName: null,
  clientId: 'app-1',
  refreshTokenEnc: `v1.refresh-${deviceId}`,
  accessTokenEnc: `v1.access-${deviceId}`,
  accessExpiresAt: 3_600_000,
  scope: 'user-read-playback-state playlist-modify-private',
  status: 'live',
  deadReason: null,
  notifyUntil: 5_000,
  updatedAt: 1_000,
  ...overrides,
});

const session = (code: string, deviceId: string, overrides: Partial<SigninSessionRecord> = {}): SigninSessionRecord => ({
  code,
  deviceId,
  deviceName: `Name of ${deviceId}`,
  crewId: null,
  crewCode: null,
  crewName: null,
  clientId: 'app-1',
  createdAt: 1_000,
  expiresAt: 10_000,
  stateHash: null,
  verifierEnc: null,
  status: 'open',
  ...overrides,
});

const update = (n: number) => ({ refreshTokenEnc: `v1.refresh-${n}`, accessTokenEnc: `v1.access-${n}`, accessExpiresAt: 7_000_000 + n });

export function tokensContract(factory: TokenStoreFactory): void {
  describe(`TokenStore contract: ${factory.name}`, () => {
    let tokens: TokenStore;

    beforeEach(async () => {
      tokens = await factory.open();
    });
    afterEach(async () => {
      await factory.cleanup();
    });

    describe('grants', () => {
      it('saves a grant with its nulls and replaces it whole on a new sign-in', async () => {
        expect(await tokens.getGrant('dev-a')).toBeNull();
        await tokens.saveGrant(grant('dev-a'));
        expect(await tokens.getGrant('dev-a')).toEqual(grant('dev-a'));
        const full = grant('dev-a', { spotifyAccountId: 'acct-a', displayName: 'Ana ✨', deadReason: null, notifyUntil: null, scope: '' });
        await tokens.saveGrant(full);
        expect(await tokens.getGrant('dev-a')).toEqual(full);
        const again = grant('dev-a', { accessTokenEnc: null, refreshTokenEnc: 'v1.new' });
        await tokens.saveGrant(again);
        expect(await tokens.getGrant('dev-a')).toEqual(again);
      });

      it('lists live grants in device id order, dead ones left out', async () => {
        await tokens.saveGrant(grant('dev-c'));
        await tokens.saveGrant(grant('dev-a'));
        await tokens.saveGrant(grant('dev-b', { status: 'dead', deadReason: 'revoked' }));
        await tokens.saveGrant(grant('Dev-Z'));
        expect(await tokens.listLiveGrants()).toEqual(['Dev-Z', 'dev-a', 'dev-c']);
        await tokens.saveGrant(grant('dev-c', { status: 'dead', deadReason: 'app_changed' }));
        await tokens.saveGrant(grant('dev-b'));
        expect(await tokens.listLiveGrants()).toEqual(['Dev-Z', 'dev-a', 'dev-b']);
      });

      it('stores refreshed tokens only over the expected refresh ciphertext of a live grant', async () => {
        await tokens.saveGrant(grant('dev-a'));
        const before = Date.now();
        expect(await tokens.updateTokens('dev-a', 'v1.someone-else', update(1))).toBe(false);
        expect(await tokens.getGrant('dev-a')).toEqual(grant('dev-a'));
        expect(await tokens.updateTokens('dev-a', 'v1.refresh-dev-a', update(1))).toBe(true);
        const updated = (await tokens.getGrant('dev-a'))!;
        expect(updated).toMatchObject({ ...update(1), status: 'live', notifyUntil: 5_000, spotifyUserId: 'user-dev-a' });
        expect(updated.updatedAt).toBeGreaterThanOrEqual(before);
        expect(await tokens.updateTokens('dev-a', 'v1.refresh-dev-a', update(2))).toBe(false);
        expect(await tokens.updateTokens('dev-none', 'v1.refresh-dev-none', update(2))).toBe(false);
        expect(await tokens.getGrant('dev-none')).toBeNull();
        await tokens.saveGrant(grant('dev-b', { status: 'dead', deadReason: 'revoked' }));
        expect(await tokens.updateTokens('dev-b', 'v1.refresh-dev-b', update(3))).toBe(false);
        expect((await tokens.getGrant('dev-b'))?.refreshTokenEnc).toBe('v1.refresh-dev-b');
      });

      it('lets exactly one of two processes refreshing the same grant store its tokens', async () => {
        await tokens.saveGrant(grant('dev-a'));
        const results = await Promise.all([
          tokens.updateTokens('dev-a', 'v1.refresh-dev-a', update(1)),
          tokens.updateTokens('dev-a', 'v1.refresh-dev-a', update(2)),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await tokens.getGrant('dev-a'))?.refreshTokenEnc).toBe(results[0] ? 'v1.refresh-1' : 'v1.refresh-2');
      });

      it('marks a grant dead unless it changed since it was read', async () => {
        await tokens.saveGrant(grant('dev-a'));
        expect(await tokens.markGrantDead('dev-a', 'revoked', 'v1.older')).toBe(false);
        expect((await tokens.getGrant('dev-a'))?.status).toBe('live');
        const before = Date.now();
        expect(await tokens.markGrantDead('dev-a', 'revoked', 'v1.refresh-dev-a')).toBe(true);
        const dead = (await tokens.getGrant('dev-a'))!;
        expect(dead).toMatchObject({ status: 'dead', deadReason: 'revoked', accessTokenEnc: null, notifyUntil: null, refreshTokenEnc: 'v1.refresh-dev-a' });
        expect(dead.updatedAt).toBeGreaterThanOrEqual(before);
        expect(await tokens.listLiveGrants()).toEqual([]);
        expect(await tokens.markGrantDead('dev-a', 'app_changed')).toBe(false);
        expect((await tokens.getGrant('dev-a'))?.deadReason).toBe('revoked');
        expect(await tokens.markGrantDead('dev-none', 'revoked')).toBe(false);
        expect(await tokens.getGrant('dev-none')).toBeNull();
      });

      it('marks a live grant dead without an expected ciphertext', async () => {
        await tokens.saveGrant(grant('dev-a'));
        await tokens.saveGrant(grant('dev-b'));
        expect(await tokens.markGrantDead('dev-a', 'app_changed')).toBe(true);
        expect(await tokens.getGrant('dev-a')).toMatchObject({ status: 'dead', deadReason: 'app_changed' });
        expect(await tokens.listLiveGrants()).toEqual(['dev-b']);
      });

      it('refresh and revocation of one grant at once: exactly one of them happens', async () => {
        await tokens.saveGrant(grant('dev-a'));
        const [refreshed, killed] = await Promise.all([
          tokens.updateTokens('dev-a', 'v1.refresh-dev-a', update(1)),
          tokens.markGrantDead('dev-a', 'revoked', 'v1.refresh-dev-a'),
        ]);
        expect([refreshed, killed].filter(Boolean)).toHaveLength(1);
        const stored = (await tokens.getGrant('dev-a'))!;
        expect(stored.status).toBe(killed ? 'dead' : 'live');
        expect(stored.refreshTokenEnc).toBe(refreshed ? 'v1.refresh-1' : 'v1.refresh-dev-a');
      });

      it('clears the notice and fills in the account id of an existing grant only', async () => {
        await tokens.saveGrant(grant('dev-a'));
        await tokens.clearNotify('dev-a');
        await tokens.setAccountId('dev-a', 'acct-a');
        expect(await tokens.getGrant('dev-a')).toEqual(grant('dev-a', { notifyUntil: null, spotifyAccountId: 'acct-a' }));
        await tokens.clearNotify('dev-none');
        await tokens.setAccountId('dev-none', 'acct-x');
        expect(await tokens.getGrant('dev-none')).toBeNull();
        expect(await tokens.listLiveGrants()).toEqual(['dev-a']);
      });
    });

    describe('sign-in sessions', () => {
      it('stores a session as given; unknown codes and states find nothing', async () => {
        const crewed = session('ABCD-EFGH', 'dev-a', { crewId: 'crew-1', crewCode: 'LEELOO-AAAA', crewName: 'Crew 🎧' });
        await tokens.createSession(crewed);
        expect(await tokens.getSession('ABCD-EFGH')).toEqual(crewed);
        expect(await tokens.getSession('ZZZZ-ZZZZ')).toBeNull();
        expect(await tokens.getSessionByState('no-such-state')).toBeNull();
      });

      it("replaces the device's older open and redirected sessions, not others", async () => {
        await tokens.createSession(session('AAAA-0001', 'dev-a'));
        await tokens.createSession(session('AAAA-0002', 'dev-b'));
        await tokens.createSession(session('AAAA-0003', 'dev-a'));
        expect(await tokens.beginAttempt('AAAA-0003', 'state-3', 'verifier-3')).toBe(true);
        await tokens.createSession(session('AAAA-0004', 'dev-a', { status: 'completed' }));
        await tokens.createSession(session('AAAA-0005', 'dev-a'));
        expect((await tokens.getSession('AAAA-0001'))?.status).toBe('replaced');
        expect(await tokens.getSession('AAAA-0003')).toMatchObject({ status: 'replaced', verifierEnc: null, stateHash: 'state-3' });
        // A replaced session keeps its state hash so that its late callback can say so; it cannot be taken.
        expect((await tokens.getSessionByState('state-3'))?.code).toBe('AAAA-0003');
        expect(await tokens.takeSessionByState('state-3')).toBeNull();
        expect(await tokens.beginAttempt('AAAA-0003', 'state-3b', 'verifier')).toBe(false);
        expect((await tokens.getSession('AAAA-0004'))?.status).toBe('completed');
        expect((await tokens.getSession('AAAA-0005'))?.status).toBe('open');
        expect((await tokens.getSession('AAAA-0002'))?.status).toBe('open');
      });

      it('refuses a second session with the same code and then replaces nothing', async () => {
        await tokens.createSession(session('AAAA-0001', 'dev-a'));
        await tokens.createSession(session('AAAA-0002', 'dev-b'));
        await expect(tokens.createSession(session('AAAA-0002', 'dev-a'))).rejects.toThrow(/UNIQUE/);
        expect(await tokens.getSession('AAAA-0001')).toEqual(session('AAAA-0001', 'dev-a'));
        expect(await tokens.getSession('AAAA-0002')).toEqual(session('AAAA-0002', 'dev-b'));
      });

      it('records attempts on open and redirected sessions; a new attempt retires the old state', async () => {
        await tokens.createSession(session('AAAA-0001', 'dev-a'));
        expect(await tokens.beginAttempt('AAAA-0001', 'state-1', 'verifier-1')).toBe(true);
        expect(await tokens.getSession('AAAA-0001')).toMatchObject({ status: 'redirected', stateHash: 'state-1', verifierEnc: 'verifier-1' });
        expect(await tokens.beginAttempt('AAAA-0001', 'state-2', 'verifier-2')).toBe(true);
        expect(await tokens.getSessionByState('state-1')).toBeNull();
        expect(await tokens.takeSessionByState('state-1')).toBeNull();
        expect(await tokens.getSessionByState('state-2')).toMatchObject({ code: 'AAAA-0001', verifierEnc: 'verifier-2' });
        expect(await tokens.beginAttempt('ZZZZ-ZZZZ', 'state-3', 'verifier-3')).toBe(false);
        expect(await tokens.getSessionByState('state-3')).toBeNull();
      });

      it('takes a session by its state once: the taker gets it exchanging, nobody else does', async () => {
        await tokens.createSession(session('AAAA-0001', 'dev-a'));
        await tokens.beginAttempt('AAAA-0001', 'state-1', 'verifier-1');
        const taken = await tokens.takeSessionByState('state-1');
        expect(taken).toEqual(session('AAAA-0001', 'dev-a', { status: 'exchanging', stateHash: 'state-1', verifierEnc: 'verifier-1' }));
        expect(await tokens.takeSessionByState('state-1')).toBeNull();
        expect(await tokens.beginAttempt('AAAA-0001', 'state-2', 'verifier-2')).toBe(false);
        expect(await tokens.takeSessionByState('no-such-state')).toBeNull();
      });

      it('two callbacks with the same state at once: exactly one takes the session', async () => {
        await tokens.createSession(session('AAAA-0001', 'dev-a'));
        await tokens.beginAttempt('AAAA-0001', 'state-1', 'verifier-1');
        const results = await Promise.all([tokens.takeSessionByState('state-1'), tokens.takeSessionByState('state-1'), tokens.takeSessionByState('state-1')]);
        expect(results.filter((r) => r !== null)).toHaveLength(1);
        expect((await tokens.getSession('AAAA-0001'))?.status).toBe('exchanging');
      });

      it('does not take an open session, even one that had a state', async () => {
        await tokens.createSession(session('AAAA-0001', 'dev-a', { stateHash: 'state-0' }));
        expect(await tokens.takeSessionByState('state-0')).toBeNull();
        expect((await tokens.getSessionByState('state-0'))?.status).toBe('open');
      });

      it('finishes an exchange: completed keeps the state, a failure reopens the session with the state cleared', async () => {
        await tokens.createSession(session('AAAA-0001', 'dev-a'));
        await tokens.beginAttempt('AAAA-0001', 'state-1', 'verifier-1');
        await tokens.takeSessionByState('state-1');
        await tokens.finishSession('AAAA-0001', 'open');
        expect(await tokens.getSession('AAAA-0001')).toEqual(session('AAAA-0001', 'dev-a'));
        expect(await tokens.getSessionByState('state-1')).toBeNull();
        expect(await tokens.takeSessionByState('state-1')).toBeNull();

        expect(await tokens.beginAttempt('AAAA-0001', 'state-2', 'verifier-2')).toBe(true);
        expect((await tokens.takeSessionByState('state-2'))?.code).toBe('AAAA-0001');
        await tokens.finishSession('AAAA-0001', 'completed');
        expect(await tokens.getSession('AAAA-0001')).toMatchObject({ status: 'completed', verifierEnc: null, stateHash: 'state-2' });
        expect((await tokens.getSessionByState('state-2'))?.status).toBe('completed');
        expect(await tokens.beginAttempt('AAAA-0001', 'state-3', 'verifier-3')).toBe(false);

        await tokens.finishSession('ZZZZ-ZZZZ', 'completed');
        expect(await tokens.getSession('ZZZZ-ZZZZ')).toBeNull();
      });

      it('prunes sessions and held tokens expired before the cutoff, and says how many sessions', async () => {
        await tokens.createSession(session('AAAA-0001', 'dev-a', { expiresAt: 100 }));
        await tokens.beginAttempt('AAAA-0001', 'state-1', 'verifier-1');
        await tokens.createSession(session('AAAA-0002', 'dev-b', { expiresAt: 200 }));
        await tokens.createSession(session('AAAA-0003', 'dev-c', { expiresAt: 300 }));
        await tokens.holdLegacyTokens('dev-a', 'held-a', 150);
        await tokens.holdLegacyTokens('dev-b', 'held-b', 200);
        expect(await tokens.pruneSessions(200)).toBe(1);
        expect(await tokens.getSession('AAAA-0001')).toBeNull();
        expect(await tokens.getSessionByState('state-1')).toBeNull();
        expect(await tokens.takeSessionByState('state-1')).toBeNull();
        expect((await tokens.getSession('AAAA-0002'))?.code).toBe('AAAA-0002');
        expect(await tokens.takeLegacyTokens('dev-a', 0)).toBeNull();
        expect(await tokens.takeLegacyTokens('dev-b', 0)).toBe('held-b');
        expect(await tokens.pruneSessions(200)).toBe(0);
        // The device starts again after its session was pruned.
        await tokens.createSession(session('AAAA-0004', 'dev-a', { expiresAt: 1_000 }));
        expect((await tokens.getSession('AAAA-0004'))?.status).toBe('open');
        expect(await tokens.pruneSessions(Number.MAX_SAFE_INTEGER)).toBe(3);
        expect(await tokens.getSession('AAAA-0003')).toBeNull();
      });

      it('prunes more sessions than one pass takes', async () => {
        const count = 1_100;
        await Promise.all(
          Array.from({ length: count }, (_, i) => tokens.createSession(session(`P${String(i).padStart(4, '0')}`, `dev-${i}`, { expiresAt: i }))),
        );
        expect(await tokens.pruneSessions(count)).toBe(count);
        expect(await tokens.getSession('P0000')).toBeNull();
        expect(await tokens.getSession('P1099')).toBeNull();
      });
    });

    describe('legacy hand-off', () => {
      it('hands held tokens over once, within their time; a newer hold replaces the older', async () => {
        expect(await tokens.takeLegacyTokens('dev-a', 0)).toBeNull();
        await tokens.holdLegacyTokens('dev-a', 'held-1', 1_000);
        await tokens.holdLegacyTokens('dev-a', 'held-2', 2_000);
        expect(await tokens.takeLegacyTokens('dev-a', 1_500)).toBe('held-2');
        expect(await tokens.takeLegacyTokens('dev-a', 1_500)).toBeNull();
      });

      it('drops held tokens whose time is up when they are asked for', async () => {
        await tokens.holdLegacyTokens('dev-a', 'held-1', 1_000);
        expect(await tokens.takeLegacyTokens('dev-a', 1_000)).toBeNull();
        expect(await tokens.takeLegacyTokens('dev-a', 0)).toBeNull();
      });

      it('two takers at once: one gets the tokens', async () => {
        await tokens.holdLegacyTokens('dev-a', 'held-1', 1_000);
        const results = await Promise.all([tokens.takeLegacyTokens('dev-a', 0), tokens.takeLegacyTokens('dev-a', 0)]);
        expect(results.filter((r) => r !== null)).toEqual(['held-1']);
      });
    });

    describe("crews' own apps", () => {
      it('saves, replaces and removes a crew app', async () => {
        expect(await tokens.getCrewApp('crew-1')).toBeNull();
        const app = { crewId: 'crew-1', clientId: 'client-1', clientSecretEnc: 'v1.secret', updatedAt: 5 };
        await tokens.saveCrewApp(app);
        expect(await tokens.getCrewApp('crew-1')).toEqual(app);
        const publicOnly = { ...app, clientId: 'client-2', clientSecretEnc: null, updatedAt: 6 };
        await tokens.saveCrewApp(publicOnly);
        expect(await tokens.getCrewApp('crew-1')).toEqual(publicOnly);
        expect(await tokens.removeCrewApp('crew-1')).toBe(true);
        expect(await tokens.removeCrewApp('crew-1')).toBe(false);
        expect(await tokens.getCrewApp('crew-1')).toBeNull();
      });
    });
  });
}
