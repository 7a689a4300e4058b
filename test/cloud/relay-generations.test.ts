import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayProcess } from '../helpers/relay-process.js';
import { isType, OpenClients } from '../helpers/ws-client.js';

/** Both field generations and the current protocol, end to end against a real relay process. */
describe('relay generations end to end', () => {
  let relay: RelayProcess;
  const clients = new OpenClients(() => relay.connect());
  const connect = clients.connect;

  beforeAll(async () => {
    relay = await RelayProcess.start();
  });
  afterAll(async () => {
    await clients.closeAll();
    await relay.cleanup();
  });

  it('first generation: register, share_music, reaction, ping', async () => {
    const a = await connect();
    const b = await connect();
    a.send({ type: 'register', device_id: 'g1-alice', crew_code: 'LEELOO-AB2C', device_name: 'Alice' });
    expect(await a.next()).toEqual({ type: 'registered', device_id: 'g1-alice' });
    b.send({ type: 'register', device_id: 'g1-bob', crew_code: 'leeloo-ab2c ', device_name: 'Bob' });
    expect(await b.next()).toEqual({ type: 'registered', device_id: 'g1-bob' });

    a.send({ type: 'share_music', spotify_uri: 'spotify:track:abc123', artist: 'Daft Punk', track: 'One More Time', album: 'Discovery' });
    const shared = await b.next(isType('music_shared'));
    expect(shared).toMatchObject({ spotify_uri: 'spotify:track:abc123', artist: 'Daft Punk', track: 'One More Time', album: 'Discovery', pushed_by: 'Alice' });
    expect(typeof shared.timestamp).toBe('number');
    expect(shared).not.toHaveProperty('seq');

    b.send({ type: 'reaction', reaction_type: 'fire' });
    expect(await a.next(isType('reaction'))).toMatchObject({ reaction_type: 'fire', from: 'Bob' });

    a.send({ type: 'ping' });
    expect(await a.next(isType('pong'))).toMatchObject({ type: 'pong' });
    // The sender does not get its own share back, and first-generation gadgets see no presence frames.
    await a.expectQuiet();
    await b.expectQuiet();
  });

  it('second generation: create_crew answered by the very next frame, join, presence, message', async () => {
    const owner = await connect();
    owner.send({ type: 'create_crew', device_id: 'g2-owner', display_name: 'Olga' });
    const created = await owner.next();
    expect(created.type).toBe('crew_created');
    expect(created.device_id).toBe('g2-owner');
    expect(created.crew_code).toMatch(/^LEELOO-[A-HJ-NP-Z2-9]{4}$/);
    expect(created).not.toHaveProperty('crew');

    const guest = await connect();
    guest.send({ type: 'join_crew', crew_code: created.crew_code, display_name: 'Gus' });
    const joined = await guest.next();
    expect(joined.type).toBe('crew_joined');
    // As the field client reads it: a count of online devices (the joiner included) and the others' names.
    expect(joined.crew_members).toBe(2);
    expect(joined.member_names).toEqual(['Olga']);
    expect(joined.crew_id).toBe(created.crew_id);
    expect(String(joined.device_id)).toMatch(/^dev-/);

    expect(await owner.next(isType('member_joined'))).toEqual({ type: 'member_joined', device_id: joined.device_id, display_name: 'Gus' });

    guest.send({ type: 'message', msg_type: 'text', payload: { text: 'hi crew' } });
    const text = await owner.next(isType('message'));
    expect(text).toMatchObject({ from_device: joined.device_id, from_name: 'Gus', msg_type: 'text', payload: { text: 'hi crew' } });
    expect(text).not.toHaveProperty('seq');

    await guest.close();
    expect(await owner.next(isType('member_offline'))).toEqual({ type: 'member_offline', device_id: joined.device_id, display_name: 'Gus' });
  });

  it('second generation: a wrong code is answered with invalid_crew_code as the next frame', async () => {
    const c = await connect();
    c.send({ type: 'join_crew', crew_code: 'LEELOO-ZZZZ', display_name: 'Nobody' });
    expect(await c.next()).toMatchObject({ type: 'error', error: 'invalid_crew_code', code: 'invalid_crew_code' });
    c.send({ type: 'join_crew', crew_code: 'LEELOO-IO01', display_name: 'Nobody' });
    expect(await c.next()).toMatchObject({ type: 'error', error: 'invalid_crew_code' });
  });

  it('second generation: create_crew with the gadget code creates it when free, and joins it when taken', async () => {
    const first = await connect();
    first.send({ type: 'create_crew', device_id: 'g2-serial', display_name: 'Pi', crew_code: 'LEELOO-PQ7X' });
    const created = await first.next();
    expect(created).toMatchObject({ type: 'crew_created', crew_code: 'LEELOO-PQ7X' });
    await first.close();

    const again = await connect();
    again.send({ type: 'create_crew', device_id: 'g2-serial', display_name: 'Pi', crew_code: 'LEELOO-PQ7X' });
    expect(await again.next()).toMatchObject({ type: 'crew_created', crew_code: 'LEELOO-PQ7X', device_id: 'g2-serial', crew_id: created.crew_id });

    // A second gadget of the same crew boots with the stored code: it is put into that crew, as a member.
    const other = await connect();
    other.send({ type: 'create_crew', device_id: 'g2-other', display_name: 'Other', crew_code: 'LEELOO-PQ7X' });
    expect(await other.next()).toEqual({ type: 'crew_created', device_id: 'g2-other', crew_code: 'LEELOO-PQ7X', crew_id: created.crew_id });
    expect(await again.next(isType('member_joined'))).toMatchObject({ device_id: 'g2-other', display_name: 'Other' });
  });

  it('current protocol: hello issues a secret, acks carry seq, fan-out carries seq and crew_code', async () => {
    const a = await connect();
    const welcome = await a.request({ type: 'hello', protocol_version: 3, device_name: 'Ana' }, isType('welcome'));
    expect(welcome.device_secret).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    expect(welcome.crew).toBeNull();
    const created = await a.request({ type: 'create_crew', display_name: 'Ana', crew_name: 'Night owls', client_msg_id: 'c1' }, isType('crew_created'));
    expect(created.crew).toMatchObject({ crew_name: 'Night owls', owner_device_id: welcome.device_id });
    expect(await a.next(isType('ack'))).toMatchObject({ client_msg_id: 'c1' });

    const b = await connect();
    await b.request({ type: 'hello', protocol_version: 3, device_name: 'Ben' }, isType('welcome'));
    const joined = await b.request({ type: 'join_crew', crew_code: created.crew_code, display_name: 'Ben' }, isType('crew_joined'));
    expect((joined.crew as { members: { online: boolean }[] }).members.map((m) => m.online)).toEqual([true, true]);
    const presence = await a.next(isType('member_joined'));
    expect(presence.crew_code).toBe(created.crew_code);
    expect(typeof presence.seq).toBe('number');

    b.send({ type: 'message', msg_type: 'reaction', payload: { reaction: 'love', to_device: welcome.device_id }, client_msg_id: 'm1' });
    const ack = await b.next(isType('ack', { client_msg_id: 'm1' }));
    const got = await a.next(isType('message'));
    expect(got).toMatchObject({ msg_type: 'reaction', seq: ack.seq, crew_code: created.crew_code, client_msg_id: 'm1' });
    expect(got.seq).toBe((presence.seq as number) + 1);
  });
});
