import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { isType, OpenClients, type Frame, type TestClient } from '../helpers/ws-client.js';

describe('device credentials and crew operations', () => {
  let relay: InProcessRelay;
  const clients = new OpenClients(() => relay.connect());
  const connect = clients.connect;
  const hello = (c: TestClient, name: string, extra: Record<string, unknown> = {}) =>
    c.request({ type: 'hello', protocol_version: 3, device_name: name, ...extra }, isType('welcome'));

  beforeAll(async () => {
    relay = await startInProcessRelay();
  });
  afterEach(async () => {
    await clients.closeAll();
  });
  afterAll(async () => {
    await relay.close();
  });

  it("refuses an older gadget's own id that names a phone member (the crew page's invites make those)", async () => {
    for (const frame of [
      { type: 'register', device_id: 'phone:made-up', crew_code: 'LEELOO-PHON', device_name: 'Poser' },
      { type: 'create_crew', device_id: 'phone:made-up', display_name: 'Poser' },
      { type: 'join_crew', device_id: 'phone:made-up', crew_code: 'LEELOO-PHON', display_name: 'Poser' },
    ]) {
      const poser = await connect();
      const refused = await poser.request(
        frame,
        (f: Frame) => f.type === 'error' || f.type === 'registered' || f.type === 'crew_created' || f.type === 'crew_joined',
      );
      expect(refused, JSON.stringify(frame)).toMatchObject({ type: 'error', code: expect.stringMatching(/unauthorized|invalid_crew_code/) });
    }
    expect(await relay.store.crews.getDevice('phone:made-up')).toBeNull();
  });

  it('refuses a device id that holds a secret without it, in every generation', async () => {
    const owner = await connect();
    // A hello without a secret never adopts the id it names: the relay issues its own.
    const welcome = await hello(owner, 'Owner', { device_id: 'chosen-by-device' });
    const id = String(welcome.device_id);
    expect(id).not.toBe('chosen-by-device');
    expect(welcome.device_secret).toBeTruthy();
    expect(await relay.store.crews.getDevice('chosen-by-device')).toBeNull();
    const stored = await relay.store.crews.getDevice(id);
    expect(stored?.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored?.secretHash).not.toContain(welcome.device_secret);

    const attempts: Record<string, unknown>[] = [
      { type: 'hello', protocol_version: 3, device_name: 'Thief', device_id: id },
      { type: 'hello', protocol_version: 3, device_name: 'Thief', device_id: id, device_secret: 'x'.repeat(43) },
      { type: 'register', device_id: id, crew_code: 'LEELOO-THFF', device_name: 'Thief' },
      { type: 'create_crew', device_id: id, display_name: 'Thief' },
    ];
    for (const attempt of attempts) {
      const thief = await connect();
      thief.send(attempt);
      expect(await thief.next()).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect((await thief.closed).code).toBe(4001);
    }
    // The owner was not disturbed, and its own secret still works (replacing the old socket).
    await owner.barrier();
    const again = await connect();
    const back = await hello(again, 'Owner', { device_id: id, device_secret: welcome.device_secret });
    expect(back.device_id).toBe(id);
    expect((await owner.closed).code).toBe(4002);
  });

  it('first-generation ids stay secretless, bound to their crew: no other crew, no hello, no register v3 takes them', async () => {
    const g1 = await connect();
    g1.send({ type: 'register', device_id: 'legacy-1', crew_code: 'LEELOO-LGCY', device_name: 'Legacy' });
    expect(await g1.next()).toEqual({ type: 'registered', device_id: 'legacy-1' });
    await g1.close();
    const g1again = await connect();
    g1again.send({ type: 'register', device_id: 'legacy-1', crew_code: 'LEELOO-LGCY', device_name: 'Legacy' });
    expect(await g1again.next()).toEqual({ type: 'registered', device_id: 'legacy-1' });
    await g1again.close();
    // Knowing the id is not enough: no way into its crew, out of it, or a secret that would lock the gadget out.
    const thieves: Record<string, unknown>[] = [
      { type: 'register', protocol_version: 3, device_id: 'legacy-1', crew_code: 'LEELOO-THF2', device_name: 'Thief' },
      { type: 'register', protocol_version: 3, device_id: 'legacy-1', crew_code: 'LEELOO-LGCY', device_name: 'Thief' },
      { type: 'register', device_id: 'legacy-1', crew_code: 'LEELOO-THF2', device_name: 'Thief' },
      { type: 'register', device_id: 'legacy-1', device_name: 'Thief' },
      { type: 'join_crew', device_id: 'legacy-1', crew_code: 'LEELOO-THF2', display_name: 'Thief' },
      { type: 'create_crew', device_id: 'legacy-1', display_name: 'Thief' },
    ];
    const other = await connect();
    other.send({ type: 'register', device_id: 'other-1', crew_code: 'LEELOO-THF2', device_name: 'Other' });
    await other.next(isType('registered'));
    for (const attempt of thieves) {
      const thief = await connect();
      thief.send(attempt);
      expect(await thief.next(), JSON.stringify(attempt)).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect((await thief.closed).code).toBe(4001);
    }
    // A hello naming it is given an id of its own, in no crew.
    const stranger = await hello(await connect(), 'Thief', { device_id: 'legacy-1' });
    expect(stranger.device_id).not.toBe('legacy-1');
    expect(stranger.crew).toBeNull();
    expect((await relay.store.crews.getDevice('legacy-1'))?.secretHash ?? null).toBeNull();
    expect((await relay.store.crews.getMembership('legacy-1'))?.crewId).toBe((await relay.store.crews.getCrewByCode('LEELOO-LGCY'))?.crewId);
    const stillWorks = await connect();
    stillWorks.send({ type: 'register', device_id: 'legacy-1', crew_code: 'leeloo-lgcy', device_name: 'Legacy' });
    expect(await stillWorks.next()).toEqual({ type: 'registered', device_id: 'legacy-1' });
  });

  async function crewOfThree(): Promise<{ owner: TestClient; a: TestClient; b: TestClient; code: string; ids: string[] }> {
    const owner = await connect();
    const ow = await hello(owner, 'Boss');
    const created = await owner.request({ type: 'create_crew', display_name: 'Boss' }, isType('crew_created'));
    const code = created.crew_code as string;
    const members: [TestClient, Frame][] = [];
    for (const name of ['Ann', 'Bea']) {
      const c = await connect();
      const w = await hello(c, name);
      await c.request({ type: 'join_crew', crew_code: code, display_name: name }, isType('crew_joined'));
      await owner.next(isType('member_joined', { display_name: name }));
      members.push([c, w]);
    }
    await members[0]![0].next(isType('member_joined', { display_name: 'Bea' }));
    return { owner, a: members[0]![0], b: members[1]![0], code, ids: [ow.device_id as string, ...members.map(([, w]) => w.device_id as string)] };
  }

  it('only the owner renames, removes and rotates', async () => {
    const { owner, a, b, code, ids } = await crewOfThree();
    for (const message of [{ type: 'rename_crew', crew_name: 'Mine now' }, { type: 'rotate_code' }, { type: 'remove_member', device_id: ids[0] }]) {
      a.send({ ...message, client_msg_id: 'no' });
      expect(await a.next(isType('error'))).toMatchObject({ code: 'not_owner', client_msg_id: 'no' });
    }

    owner.send({ type: 'rename_crew', crew_name: 'Late shift', client_msg_id: 'rn' });
    expect(await owner.next(isType('ack', { client_msg_id: 'rn' }))).toMatchObject({ seq: expect.any(Number) });
    expect(await a.next(isType('crew_renamed'))).toMatchObject({ crew_name: 'Late shift' });

    owner.send({ type: 'rotate_code', client_msg_id: 'rot' });
    const changed = await b.next(isType('crew_code_changed'));
    expect(changed.old_crew_code).toBe(code);
    expect(changed.new_crew_code).not.toBe(code);
    expect(changed.crew_code).toBe(changed.new_crew_code);
    const stranger = await connect();
    await hello(stranger, 'Late');
    stranger.send({ type: 'join_crew', crew_code: code, display_name: 'Late' });
    expect(await stranger.next(isType('error'))).toMatchObject({ code: 'invalid_crew_code' });

    owner.send({ type: 'remove_member', device_id: ids[2], client_msg_id: 'rm' });
    expect(await b.next(isType('crew_left'))).toMatchObject({ removed: true });
    expect(await a.next(isType('member_left'))).toMatchObject({ device_id: ids[2], removed: true });
    owner.send({ type: 'remove_member', device_id: ids[2], client_msg_id: 'rm2' });
    expect(await owner.next(isType('error', { client_msg_id: 'rm2' }))).toMatchObject({ code: 'not_found' });
    b.send({ type: 'message', msg_type: 'nudge', payload: {} });
    expect(await b.next(isType('error'))).toMatchObject({ code: 'not_in_crew' });
  });

  it('leave, set_display_name, and joining another crew leaves the old one', async () => {
    const { owner, a, b, ids } = await crewOfThree();
    a.send({ type: 'set_display_name', display_name: 'Annie', client_msg_id: 'nm' });
    expect(await owner.next(isType('member_renamed'))).toMatchObject({ device_id: ids[1], display_name: 'Annie' });

    const other = await connect();
    await hello(other, 'Other');
    const otherCrew = await other.request({ type: 'create_crew', display_name: 'Other' }, isType('crew_created'));
    a.send({ type: 'join_crew', crew_code: otherCrew.crew_code, display_name: 'Annie' });
    expect(await a.next(isType('crew_joined'))).toMatchObject({ crew_code: otherCrew.crew_code });
    expect(await owner.next(isType('member_left'))).toMatchObject({ device_id: ids[1], removed: false });
    expect((await relay.store.crews.getMembership(ids[1]!))?.crewId).not.toBe((await relay.store.crews.getMembership(ids[0]!))?.crewId);

    owner.send({ type: 'leave_crew', client_msg_id: 'bye' });
    expect(await owner.next(isType('crew_left'))).toMatchObject({ removed: false });
    await owner.next(isType('ack', { client_msg_id: 'bye' }));
    expect(await b.next(isType('member_left', { device_id: ids[0] }))).toMatchObject({ removed: false });
    // Ownership passed to the longest-standing member still there.
    b.send({ type: 'rename_crew', crew_name: 'Bea rules', client_msg_id: 'own' });
    expect(await b.next(isType('ack', { client_msg_id: 'own' }))).toMatchObject({ seq: expect.any(Number) });
  });
});
