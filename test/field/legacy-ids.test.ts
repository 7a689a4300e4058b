import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { isType, OpenClients, type TestClient } from '../helpers/ws-client.js';
import { gen1, gen2 } from './field-frames.js';

const ADMIN_TOKEN = 'admin-token-field-legacy-0123456789';

/**
 * Field gadgets cannot hold a secret: their ids are protected as far as their firmware
 * allows (bound to their crew's code), their crew's code cannot rotate away from them, and
 * the fleet's scripts read /health as the old relay served it.
 */
describe('field conformance: legacy ids, code rotation, health', () => {
  let relay: InProcessRelay;
  const clients = new OpenClients(() => relay.connect());
  const hello = (c: TestClient, name: string, extra: Record<string, unknown> = {}) =>
    c.request({ type: 'hello', protocol_version: 3, device_name: name, ...extra }, isType('welcome'));

  beforeEach(async () => {
    relay = await startInProcessRelay({ env: { ADMIN_TOKEN } });
  });
  afterEach(async () => {
    await clients.closeAll();
    await relay.close();
  });

  it('no hello or register v3 can take a field gadget id before the gadget reconnects', async () => {
    const squatter = await clients.connect();
    const welcome = await hello(squatter, 'Squatter', { device_id: 'leeloo_9a8b7c6d5e4f' });
    expect(welcome.device_id).not.toBe('leeloo_9a8b7c6d5e4f');
    const madeUp = await hello(await clients.connect(), 'Squatter', { device_id: 'leeloo_9a8b7c6d5e4f', device_secret: 's'.repeat(43) });
    expect(madeUp.device_id).not.toBe('leeloo_9a8b7c6d5e4f');
    const viaRegister = await clients.connect();
    viaRegister.send({ type: 'register', protocol_version: 3, device_id: 'leeloo_9a8b7c6d5e4f', crew_code: 'echo', device_name: 'Squatter' });
    const registered = await viaRegister.next(isType('registered'));
    expect(registered.device_id).not.toBe('leeloo_9a8b7c6d5e4f');
    expect(registered.device_secret).toEqual(expect.any(String));
    expect(await relay.store.crews.getDevice('leeloo_9a8b7c6d5e4f')).toBeNull();
    // The gadget comes back later with its own id and crew, untouched.
    const gadget = await clients.connect();
    gadget.send(gen1.register({ device_id: 'leeloo_9a8b7c6d5e4f', crew_code: 'echo', device_name: 'Kitchen' }));
    expect(await gadget.next()).toEqual({ type: 'registered', device_id: 'leeloo_9a8b7c6d5e4f' });
    expect((await squatter.barrier()).length).toBe(0);
  });

  it('a second-generation id is bound to its crew: another crew, a new crew, hello or register v3 cannot take it', async () => {
    const gadget = await clients.connect();
    gadget.send(gen2.createCrew('', 'Kitchen'));
    const created = await gadget.next();
    const id = created.device_id as string;
    const code = created.crew_code as string;
    await gadget.close();
    const other = await clients.connect();
    other.send(gen2.createCrew('', 'Elsewhere'));
    const otherCode = (await other.next()).crew_code as string;

    const attempts = [
      gen2.joinCrew(otherCode, id, 'Thief'),
      gen2.createCrew(id, 'Thief'),
      gen2.createCrew(id, 'Thief', otherCode),
      gen1.register({ device_id: id, crew_code: otherCode, device_name: 'Thief' }),
      JSON.stringify({ type: 'register', protocol_version: 3, device_id: id, crew_code: code, device_name: 'Thief' }),
    ];
    for (const attempt of attempts) {
      const thief = await clients.connect();
      thief.send(attempt);
      expect(await thief.next(), attempt).toMatchObject({ type: 'error', code: 'unauthorized', message: expect.stringContaining(id) });
      expect((await thief.closed).code).toBe(4001);
    }
    const stranger = await hello(await clients.connect(), 'Thief', { device_id: id });
    expect(stranger.device_id).not.toBe(id);
    expect(stranger.crew).toBeNull();

    // Still secretless, still in its crew, and its own rejoin works.
    expect(await relay.store.crews.getDevice(id)).toMatchObject({ secretHash: null });
    const back = await clients.connect();
    back.send(gen2.joinCrew(code, id, 'Kitchen'));
    expect(await back.next()).toMatchObject({ type: 'crew_joined', device_id: id, crew_code: code, crew_members: 1 });
  });

  it('rotation is refused, naming them, while older gadgets are members; after they are removed it works', async () => {
    const owner = await clients.connect();
    await hello(owner, 'Olga');
    const code = (await owner.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'))).crew_code as string;
    const old = await clients.connect();
    old.send(gen2.joinCrew(code, '', 'Kitchen Pi'));
    const oldId = (await old.next()).device_id as string;
    await owner.next(isType('member_joined'));

    const refused = await owner.request({ type: 'rotate_code', client_msg_id: 'r1' }, isType('error'));
    expect(refused).toMatchObject({ code: 'conflict', client_msg_id: 'r1', message: expect.stringContaining('Kitchen Pi') });
    const viaAdmin = await fetch(`${relay.httpUrl}/admin/crews/${code}/rotate-code`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(viaAdmin.status).toBe(409);
    expect(await viaAdmin.json()).toMatchObject({ code: 'conflict', message: expect.stringContaining('Kitchen Pi') });
    expect((await relay.store.crews.getCrewByCode(code))?.crewId).toBeTruthy();

    await owner.request({ type: 'remove_member', device_id: oldId, client_msg_id: 'rm' }, isType('ack', { client_msg_id: 'rm' }));
    const changed = await owner.request({ type: 'rotate_code', client_msg_id: 'r2' }, isType('crew_code_changed'));
    expect(changed).toMatchObject({ old_crew_code: code, new_crew_code: expect.stringMatching(/^LEELOO-/) });
  });

  it('/health carries devices online, crews and uptime seconds as numbers', async () => {
    const gadget = await clients.connect();
    gadget.send(gen1.register({ device_id: 'leeloo_health', crew_code: 'foxtrot', device_name: 'Health' }));
    await gadget.next(isType('registered'));
    const health = (await (await fetch(`${relay.httpUrl}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', devices: 1, crews: 1 });
    expect(typeof health.uptime).toBe('number');
    expect(health.uptime as number).toBeGreaterThanOrEqual(0);
  });
});
