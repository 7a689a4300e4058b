import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../cloud/log.js';
import { storedState } from '../../cloud/queue/queue-state.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { isType, OpenClients, type TestClient } from '../helpers/ws-client.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

interface Answer {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

describe('admin API', () => {
  let relay: InProcessRelay;
  let logLines: string[];
  const clients = new OpenClients(() => relay.connect());
  const connect = clients.connect;

  beforeEach(async () => {
    logLines = [];
    const log = createLogger('info', { write: (line: string) => void logLines.push(line) });
    relay = await startInProcessRelay({ env: { ADMIN_TOKEN }, log });
  });
  afterEach(async () => {
    await clients.closeAll();
    await relay.close();
  });

  async function admin(method: string, path: string, authorization: string | null = `Bearer ${ADMIN_TOKEN}`): Promise<Answer> {
    const res = await fetch(`${relay.httpUrl}${path}`, { method, headers: authorization === null ? {} : { authorization } });
    return { status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers };
  }

  const hello = (c: TestClient, name: string, extra: Record<string, unknown> = {}) =>
    c.request({ type: 'hello', protocol_version: 3, device_name: name, ...extra }, (f) => f.type === 'welcome' || f.type === 'error');

  /**
   * The relay issues current-protocol ids (a hello without a secret never adopts one it names):
   * the tests call each gadget by a name and look its issued id up here.
   */
  const ids = new Map<string, string>();
  const id = (name: string): string => {
    const issued = ids.get(name);
    if (!issued) throw new Error(`no device called ${name} said hello yet`);
    return issued;
  };
  async function helloAs(c: TestClient, label: string, name: string) {
    const welcome = await hello(c, name);
    ids.set(label, welcome.device_id as string);
    return welcome;
  }

  /** A current-protocol gadget called `label`, owner of a new crew; returns its socket, secret and crew code. */
  async function owner(label: string, name: string) {
    const c = await connect();
    const welcome = await helloAs(c, label, name);
    const created = await c.request({ type: 'create_crew', display_name: name }, isType('crew_created'));
    // Its member_joined follows the answer: a pong comes after it is stored.
    await c.barrier();
    return { c, secret: welcome.device_secret as string, code: created.crew_code as string };
  }

  async function member(label: string, name: string, code: string) {
    const c = await connect();
    await helloAs(c, label, name);
    await c.request({ type: 'join_crew', crew_code: code, display_name: name }, isType('crew_joined'));
    await c.barrier();
    return c;
  }

  describe('authorization', () => {
    it('needs the bearer token on every admin path, the history routes included', async () => {
      const missing = await admin('GET', '/admin/crews', null);
      expect(missing.status).toBe(401);
      expect(missing.body).toMatchObject({ code: 'unauthorized', error: 'unauthorized' });
      expect(missing.body.message).toMatch(/Authorization: Bearer/);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);

      const wrongSameLength = `Bearer ${ADMIN_TOKEN.slice(0, -1)}X`;
      for (const header of [wrongSameLength, 'Bearer short', `Basic ${ADMIN_TOKEN}`, ADMIN_TOKEN, 'Bearer ']) {
        expect((await admin('GET', '/admin/crews', header)).status, header).toBe(401);
      }
      // A probe learns nothing about which admin paths exist, nor reaches a device.
      expect((await admin('POST', '/admin/devices/someone/reset-credential', wrongSameLength)).status).toBe(401);
      expect((await admin('GET', '/admin/no-such-thing', null)).status).toBe(401);
      expect((await admin('GET', '/admin/history/members/someone/history', wrongSameLength)).status).toBe(401);

      const right = await admin('GET', '/admin/crews');
      expect(right.status).toBe(200);
      expect(right.headers.get('cache-control')).toBe('no-store');
      expect(right.body).toEqual({ crews: [], total: 0, next_cursor: null });
      expect((await admin('GET', '/admin/crews', `bearer ${ADMIN_TOKEN}`)).status).toBe(200);
      const unknownPath = await admin('GET', '/admin/no-such-thing');
      expect(unknownPath.status).toBe(404);
      expect(unknownPath.body).toMatchObject({ code: 'not_found', error: 'not_found' });
    });

    it('is off (503 unavailable) when ADMIN_TOKEN is unset', async () => {
      const off = await startInProcessRelay();
      try {
        for (const [method, path] of [
          ['GET', '/admin/crews'],
          ['GET', '/admin/devices/x'],
          ['POST', '/admin/devices/x/reset-credential'],
          ['DELETE', '/admin/crews/LEELOO-ABCD/members/x'],
          ['POST', '/admin/crews/LEELOO-ABCD/rotate-code'],
          ['GET', '/admin/history/members/x/history'],
        ] as const) {
          const res = await fetch(`${off.httpUrl}${path}`, { method, headers: { authorization: 'Bearer anything-at-all-0123456789' } });
          expect(res.status, `${method} ${path}`).toBe(503);
          const body = await res.json();
          expect(body).toMatchObject({ code: 'unavailable', error: 'unavailable' });
          expect(body.message).toMatch(/ADMIN_TOKEN/);
        }
      } finally {
        await off.close();
      }
    });
  });

  describe('crews and devices', () => {
    it('lists crews in pages with owner, members, who is online and the latest seq', async () => {
      const a = await owner('owner-a', 'Ana');
      await member('member-a2', 'Bo', a.code);
      const b = await owner('owner-b', 'Cy');
      const bGone = await member('member-b2', 'Di', b.code);
      await bGone.close();
      await b.c.next(isType('member_offline', { device_id: id('member-b2') }));
      const c = await owner('owner-c', 'Ed');

      const first = await admin('GET', '/admin/crews?limit=2');
      expect(first.status).toBe(200);
      expect(first.body.total).toBe(3);
      expect(first.body.crews).toHaveLength(2);
      expect(first.body.next_cursor).toEqual(expect.any(String));
      const second = await admin('GET', `/admin/crews?limit=2&cursor=${first.body.next_cursor}`);
      expect(second.body.crews).toHaveLength(1);
      expect(second.body.next_cursor).toBeNull();

      // Each crew exactly once, in creation order (crews made in the same millisecond may come either way).
      const all = [...first.body.crews, ...second.body.crews];
      expect(all.map((x) => x.crew_code).sort()).toEqual([a.code, b.code, c.code].sort());
      const created = all.map((x) => x.created_at as number);
      expect(created).toEqual([...created].sort((x, y) => x - y));
      const byCode = (code: string) => all.find((x) => x.crew_code === code);
      expect(byCode(a.code)).toMatchObject({
        crew_name: "Ana's crew",
        owner: { device_id: id('owner-a'), display_name: 'Ana' },
        member_count: 2,
        members_online: 2,
      });
      expect(byCode(b.code)).toMatchObject({ owner: { device_id: id('owner-b') }, member_count: 2, members_online: 1 });
      expect(byCode(c.code)).toMatchObject({ owner: { device_id: id('owner-c') }, member_count: 1, members_online: 1, latest_seq: 1 });
      // Ana's crew: at least the member_joined of each.
      expect(byCode(a.code).latest_seq).toBeGreaterThanOrEqual(2);
    });

    it('shows one crew (any case of its code) with members online or not, and one device', async () => {
      const a = await owner('owner-a', 'Ana');
      const bo = await member('member-bo', 'Bo', a.code);
      await member('member-cy', 'Cy', a.code);
      await bo.close();
      await a.c.next(isType('member_offline', { device_id: id('member-bo') }));

      const crew = await admin('GET', `/admin/crews/${a.code.toLowerCase()}`);
      expect(crew.status).toBe(200);
      expect(crew.body).toMatchObject({ crew_code: a.code, owner_device_id: id('owner-a'), member_count: 3, members_online: 2, queue: null });
      expect(crew.body.latest_seq).toBe((await relay.store.crews.getCrewByCode(a.code))!.latestSeq);
      expect(crew.body.first_seq).toBe(1);
      expect(crew.body.members.map((m: any) => [m.device_id, m.is_owner, m.online, m.generation])).toEqual([
        [id('owner-a'), true, true, 3],
        [id('member-bo'), false, false, null],
        [id('member-cy'), false, true, 3],
      ]);
      expect(crew.body.members[1].last_seen_at).toEqual(expect.any(Number));

      const device = await admin('GET', `/admin/devices/${id('member-cy')}`);
      expect(device.status).toBe(200);
      expect(device.body).toMatchObject({
        device_id: id('member-cy'),
        display_name: 'Cy',
        has_secret: true,
        credential_reset_at: null,
        online: true,
        generation: 3,
        crew: { crew_code: a.code, crew_name: "Ana's crew", is_owner: false },
      });
      expect(JSON.stringify(device.body)).not.toMatch(/secret_hash|[0-9a-f]{64}/);

      const legacy = await connect();
      legacy.send({ type: 'register', device_id: 'legacy-1', crew_code: 'LEELOO-LGCY', device_name: 'Old' });
      await legacy.next(isType('registered'));
      expect((await admin('GET', '/admin/devices/legacy-1')).body).toMatchObject({
        has_secret: false,
        online: true,
        generation: 1,
        crew: { crew_code: 'LEELOO-LGCY', is_owner: true },
      });
    });

    it('summarises the crew queue from its stored state', async () => {
      const a = await owner('owner-a', 'Ana');
      const crew = (await relay.store.crews.getCrewByCode(a.code))!;
      const entry = {
        id: 'item-1',
        uri: 'spotify:track:abc',
        track: 'Song',
        artist: 'Band',
        album: '',
        albumArtUrl: '',
        durationMs: 1000,
        addedBy: id('owner-a'),
        addedByName: 'Ana',
        addedAt: 1,
        addIndex: 1,
        round: 1,
        votes: {},
        jams: [],
        throwback: false,
      };
      const state = {
        version: 3,
        nowPlaying: { ...entry, clock: { startedAt: 1, durationMs: 1000, pausedAt: 5 } },
        pending: [{ ...entry, id: 'item-2', addIndex: 2 }],
        played: [],
        throwback: true,
        addCounter: 2,
        currentRound: 1,
        playedRounds: {},
        applied: [],
      };
      expect(await relay.store.queue.save(crew.crewId, storedState(state), 0, null)).toBe(true);
      expect((await admin('GET', `/admin/crews/${a.code}`)).body.queue).toEqual({
        version: 3,
        throwback: true,
        up_next: 1,
        now_playing: { item_id: 'item-1', track: 'Song', artist: 'Band', spotify_uri: 'spotify:track:abc', added_by: id('owner-a'), paused: true },
      });
    });
  });

  describe('reset-credential', () => {
    it('lets a gadget that lost its secret back in with its id: a new secret, the same crew, the old socket closed', async () => {
      const kitchen = await owner('gadget-1', 'Kitchen');
      const friend = await member('friend-1', 'Friend', kitchen.code);
      await kitchen.c.next(isType('member_joined', { device_id: id('friend-1') }));

      // Without its secret the id is refused, in every generation.
      const lost = await connect();
      expect(await hello(lost, 'Kitchen', { device_id: id('gadget-1') })).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect((await lost.closed).code).toBe(4001);

      const reset = await admin('POST', `/admin/devices/${id('gadget-1')}/reset-credential`);
      expect(reset.status).toBe(200);
      expect(reset.body).toEqual({ device_id: id('gadget-1'), had_secret: true, disconnected: true });
      expect((await kitchen.c.closed).code).toBe(4003);
      await friend.next(isType('member_offline', { device_id: id('gadget-1') }));
      expect(await relay.store.crews.getDevice(id('gadget-1'))).toMatchObject({ secretHash: null, secretResetAt: expect.any(Number) });
      expect((await admin('GET', `/admin/devices/${id('gadget-1')}`)).body).toMatchObject({
        has_secret: false,
        credential_reset_at: expect.any(Number),
        online: false,
      });

      // The reset waits for a current-protocol gadget: an older one could never hold the new secret.
      const old = await connect();
      old.send({ type: 'register', device_id: id('gadget-1'), crew_code: kitchen.code, device_name: 'Kitchen' });
      expect(await old.next()).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect((await old.closed).code).toBe(4001);

      const back = await connect();
      const welcome = await hello(back, 'Kitchen', { device_id: id('gadget-1') });
      expect(welcome).toMatchObject({ type: 'welcome', device_id: id('gadget-1'), crew: { crew_code: kitchen.code } });
      expect(welcome.device_secret).toEqual(expect.any(String));
      expect(welcome.device_secret).not.toBe(kitchen.secret);
      expect((welcome.crew as { members: { device_id: string }[] }).members.map((m) => m.device_id)).toEqual([id('gadget-1'), id('friend-1')]);
      await friend.next(isType('member_joined', { device_id: id('gadget-1') }));
      const device = await relay.store.crews.getDevice(id('gadget-1'));
      expect(device).toMatchObject({ secretResetAt: null, secretHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect((await relay.store.crews.getMembership(id('gadget-1')))?.isOwner).toBe(true);

      // It is a member again: what it sends reaches the crew.
      const sent = await back.request({ type: 'message', msg_type: 'text', payload: { text: 'back again' }, client_msg_id: 'm-1' }, isType('ack'));
      expect(await friend.next(isType('message'))).toMatchObject({ from_device: id('gadget-1'), payload: { text: 'back again' }, seq: sent.seq });

      // The old secret is dead; the new one works (and replaces the socket as usual).
      const thief = await connect();
      expect(await hello(thief, 'Kitchen', { device_id: id('gadget-1'), device_secret: kitchen.secret })).toMatchObject({
        type: 'error',
        code: 'unauthorized',
      });
      const again = await connect();
      const second = await hello(again, 'Kitchen', { device_id: id('gadget-1'), device_secret: welcome.device_secret });
      expect(second).toMatchObject({ type: 'welcome', device_id: id('gadget-1') });
      expect(second.device_secret).toBeUndefined();
      expect((await back.closed).code).toBe(4002);

      // Logged, without any secret or hash.
      const resetLines = logLines.filter((line) => line.includes('device credential reset'));
      expect(resetLines).toHaveLength(1);
      expect(JSON.parse(resetLines[0]!)).toMatchObject({ deviceId: id('gadget-1'), hadSecret: true, disconnected: true });
      const logged = logLines.join('\n');
      for (const secret of [kitchen.secret, welcome.device_secret as string, device!.secretHash!]) expect(logged).not.toContain(secret);
    });

    it('answers 404 for an unknown device, 409 for an older gadget without a secret, and resets an offline one', async () => {
      const unknown = await admin('POST', '/admin/devices/nobody/reset-credential');
      expect(unknown.status).toBe(404);
      expect(unknown.body).toMatchObject({ code: 'not_found', error: 'not_found' });

      const legacy = await connect();
      legacy.send({ type: 'register', device_id: 'legacy-1', crew_code: 'LEELOO-LGCY', device_name: 'Old' });
      await legacy.next(isType('registered'));
      const refused = await admin('POST', '/admin/devices/legacy-1/reset-credential');
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('conflict');
      await legacy.expectQuiet();

      const c = await connect();
      await helloAs(c, 'lone-1', 'Lone');
      await c.close();
      const offline = await admin('POST', `/admin/devices/${id('lone-1')}/reset-credential`);
      expect(offline.body).toMatchObject({ had_secret: true });
      // Twice is harmless: nothing left to clear.
      expect((await admin('POST', `/admin/devices/${id('lone-1')}/reset-credential`)).body).toEqual({
        device_id: id('lone-1'),
        had_secret: false,
        disconnected: false,
      });
      // The README's way back: identity.json with the old id and a placeholder secret.
      const back = await connect();
      const placeholder = 'placeholder-placeholder-placeholder';
      const welcome = await hello(back, 'Lone', { device_id: id('lone-1'), device_secret: placeholder });
      expect(welcome).toMatchObject({ type: 'welcome', device_id: id('lone-1'), device_secret: expect.any(String), crew: null });
      expect(welcome.device_secret).not.toBe(placeholder);
    });
  });

  describe('member removal and code rotation', () => {
    it('removes a member: it hears crew_left, the crew member_left, and it is out of the crew', async () => {
      const o = await owner('owner-a', 'Ana');
      const bo = await member('member-bo', 'Bo', o.code);
      const cy = await member('member-cy', 'Cy', o.code);
      await o.c.barrier();
      await bo.barrier();

      const removed = await admin('DELETE', `/admin/crews/${o.code}/members/${id('member-bo')}`);
      expect(removed.status).toBe(200);
      expect(removed.body).toMatchObject({ crew_code: o.code, device_id: id('member-bo'), removed: true, seq: expect.any(Number), new_owner_device_id: null });
      expect(await bo.next(isType('crew_left'))).toMatchObject({ crew_code: o.code, removed: true });
      for (const c of [o.c, cy]) {
        expect(await c.next(isType('member_left'))).toMatchObject({ device_id: id('member-bo'), removed: true, seq: removed.body.seq });
      }
      expect(await relay.store.crews.getMembership(id('member-bo'))).toBeNull();
      // Out of the fan-out: the crew's next message does not reach it.
      await o.c.request({ type: 'message', msg_type: 'text', payload: { text: 'after' }, client_msg_id: 'x-1' }, isType('ack'));
      await cy.next(isType('message'));
      await bo.expectQuiet();

      const again = await admin('DELETE', `/admin/crews/${o.code}/members/${id('member-bo')}`);
      expect(again.status).toBe(404);
      expect(again.body).toMatchObject({ code: 'not_found', error: 'not_found' });

      // The operator may remove the owner too: ownership passes to the longest-standing member.
      const ownerGone = await admin('DELETE', `/admin/crews/${o.code}/members/${id('owner-a')}`);
      expect(ownerGone.body.new_owner_device_id).toBe(id('member-cy'));
      await o.c.next(isType('crew_left'));
      await cy.next(isType('member_left', { device_id: id('owner-a') }));
      // Cy's socket is the owner's now: an owner-only message is accepted.
      const rotated = await cy.request({ type: 'rotate_code', client_msg_id: 'r-1' }, (f) => f.type === 'ack' || f.type === 'error');
      expect(rotated.type).toBe('ack');
    });

    it('rotates the code: every member hears crew_code_changed, the old code stops working', async () => {
      const o = await owner('owner-a', 'Ana');
      const bo = await member('member-bo', 'Bo', o.code);
      await o.c.barrier();

      const rotated = await admin('POST', `/admin/crews/${o.code}/rotate-code`);
      expect(rotated.status).toBe(200);
      const newCode = rotated.body.new_crew_code as string;
      expect(rotated.body).toMatchObject({ old_crew_code: o.code, seq: expect.any(Number) });
      expect(newCode).toMatch(/^LEELOO-[A-HJ-NP-Z2-9]{4}$/);
      expect(newCode).not.toBe(o.code);
      // Nobody sent it, so the owner hears it too.
      for (const c of [o.c, bo]) {
        expect(await c.next(isType('crew_code_changed'))).toMatchObject({
          old_crew_code: o.code,
          new_crew_code: newCode,
          crew_code: newCode,
          seq: rotated.body.seq,
        });
      }

      expect((await admin('GET', `/admin/crews/${o.code}`)).status).toBe(404);
      expect((await admin('GET', `/admin/crews/${newCode}`)).body.members).toHaveLength(2);
      const late = await connect();
      await helloAs(late, 'late-1', 'Late');
      expect(await late.request({ type: 'join_crew', crew_code: o.code, display_name: 'Late' }, isType('error'))).toMatchObject({ code: 'invalid_crew_code' });
      expect(await late.request({ type: 'join_crew', crew_code: newCode, display_name: 'Late' }, isType('crew_joined'))).toMatchObject({ crew_code: newCode });
    });
  });

  describe('not found and bad input', () => {
    it('answers 404 not_found for unknown crews and devices', async () => {
      for (const [method, path] of [
        ['GET', '/admin/crews/LEELOO-ZZZZ'],
        ['POST', '/admin/crews/LEELOO-ZZZZ/rotate-code'],
        ['DELETE', '/admin/crews/LEELOO-ZZZZ/members/someone'],
        ['GET', '/admin/devices/nobody'],
        ['POST', '/admin/devices/nobody/reset-credential'],
      ] as const) {
        const res = await admin(method, path);
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body).toMatchObject({ code: 'not_found', error: 'not_found', message: expect.any(String) });
      }
      const o = await owner('owner-a', 'Ana');
      expect((await admin('DELETE', `/admin/crews/${o.code}/members/stranger`)).status).toBe(404);
    });

    it('answers 400 invalid_message for a malformed code, device id, limit or cursor', async () => {
      for (const [method, path] of [
        ['GET', '/admin/crews/not-a-code'],
        ['GET', '/admin/crews/LEELOO-IOIO'],
        ['POST', '/admin/crews/xyz/rotate-code'],
        ['DELETE', '/admin/crews/LEELOO-ABCD/members/%20bad'],
        ['GET', `/admin/devices/${'x'.repeat(65)}`],
        ['POST', '/admin/devices/-starts-with-dash/reset-credential'],
        ['GET', '/admin/devices/semi%3Bcolon'],
        ['GET', '/admin/crews?limit=0'],
        ['GET', '/admin/crews?limit=201'],
        ['GET', '/admin/crews?limit=many'],
        ['GET', '/admin/crews?cursor=garbage'],
        ['GET', `/admin/crews?cursor=${Buffer.from('["x","y"]').toString('base64url')}`],
      ] as const) {
        const res = await admin(method, path);
        expect(res.status, `${method} ${path}`).toBe(400);
        expect(res.body).toMatchObject({ code: 'invalid_message', error: 'invalid_message' });
      }
    });
  });
});
