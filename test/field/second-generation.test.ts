import { describe, expect, it } from 'vitest';
import { relayForSuite } from '../helpers/relay-process.js';
import { isType, TestClient, type Frame } from '../helpers/ws-client.js';
import { gen2, sharedTracks } from './field-frames.js';

/**
 * A second-generation gadget as leeloo_client.py and leeloo_brain.py run it, against the
 * relay started as the README says. The client reads the very next frame as the answer and
 * then `data['device_id']`, `data.get('crew_id', data.get('crew_code'))`, `data['crew_code']`
 * and prints `data.get('crew_members', 1)` as a number of members.
 */
describe('field conformance: second generation', () => {
  const suite = relayForSuite();
  const { clients } = suite;

  // The brain connects to wss://…/ws; the client's own default is the relay's root.
  const connectRoot = async (): Promise<TestClient> => TestClient.connect(suite.relay.wsUrl.replace(/\/ws$/, '/'));

  /** What create_crew/join_crew store from the answer, with the types the client relies on. */
  function expectSavable(answer: Frame, type: 'crew_created' | 'crew_joined'): { deviceId: string; crewId: string; crewCode: string } {
    expect(answer.type).toBe(type);
    expect(typeof answer.device_id).toBe('string');
    expect(typeof answer.crew_code).toBe('string');
    expect(typeof answer.crew_id).toBe('string');
    expect(answer).not.toHaveProperty('seq');
    return { deviceId: answer.device_id as string, crewId: answer.crew_id as string, crewCode: answer.crew_code as string };
  }

  it('first boot: create_crew with device_id null gets a relay-issued id and a code, as the next frame', async () => {
    const gadget = await clients.connect();
    gadget.send(gen2.createCrew('', 'Nathan'));
    const saved = expectSavable(await gadget.next(), 'crew_created');
    expect(saved.deviceId).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/);
    expect(saved.crewCode).toMatch(/^LEELOO-[A-HJ-NP-Z2-9]{4}$/);
  });

  it('first boot of a friend: join_crew with device_id null, crew_members a number, member_names the others online', async () => {
    const owner = await clients.connect();
    owner.send(gen2.createCrew('', 'Nathan'));
    const crew = expectSavable(await owner.next(), 'crew_created');

    const friend = await clients.connect();
    friend.send(gen2.joinCrew(crew.crewCode, '', 'Amy'));
    const joined = await friend.next();
    const saved = expectSavable(joined, 'crew_joined');
    expect(saved.crewId).toBe(crew.crewId);
    expect(saved.deviceId).not.toBe(crew.deviceId);
    expect(joined.crew_members).toBe(2);
    expect(joined.member_names).toEqual(['Nathan']);
    expect(await owner.next(isType('member_joined'))).toEqual({ type: 'member_joined', device_id: saved.deviceId, display_name: 'Amy' });

    // A third, connected at the relay's root: it counts itself and the two others.
    const third = await connectRoot();
    third.send(gen2.joinCrew(crew.crewCode.toLowerCase(), '', 'Bo'));
    const answer = await third.next();
    expect(answer).toMatchObject({ type: 'crew_joined', crew_code: crew.crewCode, crew_members: 3, member_names: ['Nathan', 'Amy'] });
    await third.close();
  });

  it('rejoin after a restart: join_crew with the saved id and code finds the same crew and id', async () => {
    const owner = await clients.connect();
    owner.send(gen2.createCrew('', 'Nathan'));
    const crew = expectSavable(await owner.next(), 'crew_created');
    await owner.close();

    const back = await clients.connect();
    back.send(gen2.joinCrew(crew.crewCode, crew.deviceId, 'Nathan'));
    const joined = await back.next();
    expect(expectSavable(joined, 'crew_joined')).toEqual(crew);
    expect(joined.crew_members).toBe(1);
    expect(joined.member_names).toEqual([]);
  });

  it('a saved code that the relay does not know: join is refused as the next frame, then create_crew with it creates it', async () => {
    // leeloo_brain: rejoin_crew() fails, and an is_creator gadget calls create_crew, which passes its saved code.
    const gadget = await clients.connect();
    gadget.send(gen2.joinCrew('LEELOO-K7WQ', '', 'Nathan'));
    const refused = await gadget.next();
    expect(refused).toMatchObject({ type: 'error', error: 'invalid_crew_code' });
    expect(typeof refused.message).toBe('string');
    gadget.send(gen2.createCrew('', 'Nathan', 'LEELOO-K7WQ'));
    const created = await gadget.next();
    expect(expectSavable(created, 'crew_created').crewCode).toBe('LEELOO-K7WQ');
  });

  it('two gadgets of one crew booting together with the stored code: both are in the crew under that code', async () => {
    const a = await clients.connect();
    const b = await clients.connect();
    a.send(gen2.createCrew('', 'Kitchen', 'LEELOO-TW2N'));
    b.send(gen2.createCrew('', 'Garage', 'LEELOO-TW2N'));
    const [first, second] = await Promise.all([a.next(), b.next()]);
    const fa = expectSavable(first, 'crew_created');
    const fb = expectSavable(second, 'crew_created');
    expect([fa.crewCode, fb.crewCode]).toEqual(['LEELOO-TW2N', 'LEELOO-TW2N']);
    expect(fa.crewId).toBe(fb.crewId);
    // They hear each other: one crew, not two.
    a.send(gen2.text('anyone home?'));
    expect(await b.next(isType('message'))).toMatchObject({ msg_type: 'text', from_name: 'Kitchen', payload: { text: 'anyone home?' } });
  });

  it('a code in another case, as typed in the captive portal, is the same crew', async () => {
    const owner = await clients.connect();
    owner.send(gen2.createCrew('', 'Nathan', 'leeloo-m4pz'));
    expect((await owner.next()).crew_code).toBe('LEELOO-M4PZ');
    const friend = await clients.connect();
    friend.send(gen2.joinCrew('Leeloo-M4pz', '', 'Amy'));
    expect(await friend.next()).toMatchObject({ type: 'crew_joined', crew_code: 'LEELOO-M4PZ', crew_members: 2 });
  });

  it('ping is answered with pong', async () => {
    const gadget = await clients.connect();
    gadget.send(gen2.createCrew('', 'Nathan'));
    await gadget.next();
    gadget.send(gen2.ping());
    expect(await gadget.next(isType('pong'))).toMatchObject({ type: 'pong' });
  });

  // A crew with a past: the newcomer cannot resume, and is sent what follows its join, never the crew's earlier history.
  it('join_crew into a crew with shares and texts gets none of them, even with the owner sharing history', async () => {
    const owner = await clients.connect();
    await owner.request({ type: 'hello', protocol_version: 3, device_name: 'Owner' }, isType('welcome'));
    const created = await owner.request({ type: 'create_crew', display_name: 'Owner' }, isType('crew_created'));
    const code = String(created.crew_code);
    for (const [i, track] of ['PastOne', 'PastTwo'].entries()) {
      await owner.request(
        {
          type: 'message',
          msg_type: 'song_push',
          client_msg_id: `p${i}`,
          payload: { artist: 'Band', track, album: '', spotify_uri: `spotify:track:${track}`, album_art_url: '', note: '' },
        },
        isType('ack'),
      );
    }
    await owner.request({ type: 'message', msg_type: 'text', payload: { text: 'old secret' }, client_msg_id: 't1' }, isType('ack'));

    const friend = await clients.connect();
    friend.send(gen2.joinCrew(code, '', 'Amy'));
    expect(await friend.next()).toMatchObject({ type: 'crew_joined', crew_code: code });
    const atJoin = await friend.barrier();
    expect(sharedTracks(atJoin)).toEqual([]);
    expect(JSON.stringify(atJoin)).not.toContain('old secret');

    // The owner's setting lets members read the past (crew page, history); it does not push it onto older gadgets' screens.
    await owner.request({ type: 'set_crew_settings', share_history: true, client_msg_id: 's1' }, isType('ack'));
    const other = await clients.connect();
    other.send(gen2.joinCrew(code, '', 'Bea'));
    expect(await other.next()).toMatchObject({ type: 'crew_joined' });
    expect(sharedTracks(await other.barrier())).toEqual([]);
    expect(sharedTracks(await friend.barrier())).toEqual([]);

    friend.send(gen2.pushSong('spotify:track:AfterOne', 'Band', 'AfterOne'));
    expect(await other.next(isType('message'))).toMatchObject({ msg_type: 'song_push', payload: { track: 'AfterOne' } });
  });
});
