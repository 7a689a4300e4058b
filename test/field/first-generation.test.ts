import { describe, expect, it } from 'vitest';
import { relayForSuite } from '../helpers/relay-process.js';
import { isType } from '../helpers/ws-client.js';
import { gen1, gen2, sharedTracks } from './field-frames.js';

/**
 * First-generation `register` as the fleet's first relay took it: device_id optional (the
 * relay makes one), any crew word compared without case (a crew that does not exist yet is
 * created), no crew at all (the Spotify sign-in script), and device_name defaulting to LEELOO.
 */
describe('field conformance: first generation', () => {
  const suite = relayForSuite();
  const { clients } = suite;

  it('a crew word such as alpha, any case: the crew is created on first use and shared by everyone naming it', async () => {
    const a = await clients.connect();
    a.send(gen1.register({ device_id: 'leeloo_a1b2c3d4e5f6', crew_code: 'alpha', device_name: 'Kitchen' }));
    expect(await a.next()).toEqual({ type: 'registered', device_id: 'leeloo_a1b2c3d4e5f6' });
    const b = await clients.connect();
    b.send(gen1.register({ device_id: 'leeloo_0f1e2d3c4b5a', crew_code: ' ALPHA', device_name: 'Garage' }));
    expect(await b.next()).toEqual({ type: 'registered', device_id: 'leeloo_0f1e2d3c4b5a' });

    a.send(gen1.shareMusic('spotify:track:6rqhFgbbKwnb9MLmUQDhG6', 'Daft Punk', 'Digital Love', 'Discovery'));
    expect(await b.next(isType('music_shared'))).toEqual({
      type: 'music_shared',
      spotify_uri: 'spotify:track:6rqhFgbbKwnb9MLmUQDhG6',
      artist: 'Daft Punk',
      track: 'Digital Love',
      album: 'Discovery',
      pushed_by: 'Kitchen',
      timestamp: expect.any(Number),
    });
    b.send(gen1.reaction('love'));
    expect(await a.next(isType('reaction'))).toEqual({ type: 'reaction', reaction_type: 'love', from: 'Garage', timestamp: expect.any(Number) });

    // A second-generation gadget can join the word crew too.
    const c = await clients.connect();
    c.send(gen2.joinCrew('Alpha', '', 'Newer'));
    expect(await c.next()).toMatchObject({ type: 'crew_joined', crew_code: 'ALPHA', crew_members: 3, member_names: ['Kitchen', 'Garage'] });
  });

  it('without a device_id the relay makes one and returns it; without a device_name the gadget is LEELOO', async () => {
    const a = await clients.connect();
    a.send(gen1.register({ crew_code: 'bravo' }));
    const registered = await a.next();
    expect(Object.keys(registered).sort()).toEqual(['device_id', 'type']);
    expect(registered.type).toBe('registered');
    expect(typeof registered.device_id).toBe('string');
    const b = await clients.connect();
    b.send(gen1.register({ crew_code: 'BRAVO', device_name: 'Other' }));
    const other = await b.next(isType('registered'));
    expect(other.device_id).not.toBe(registered.device_id);
    a.send(gen1.shareMusic('spotify:track:0DiWol3AO6WpXZgp0goxAV', 'Queen', 'One Vision', 'A Kind of Magic'));
    expect(await b.next(isType('music_shared'))).toMatchObject({ pushed_by: 'LEELOO' });
  });

  it('without a crew_code (the Spotify sign-in script): registered, in no crew, shares refused with not_in_crew', async () => {
    const script = await clients.connect();
    script.send(gen1.register({ device_id: 'leeloo_5f2a9c1e', device_name: 'LEELOO' }));
    expect(await script.next()).toEqual({ type: 'registered', device_id: 'leeloo_5f2a9c1e' });
    script.send(gen1.shareMusic('spotify:track:0DiWol3AO6WpXZgp0goxAV', 'Queen', 'One Vision', 'A Kind of Magic'));
    expect(await script.next(isType('error'))).toMatchObject({ code: 'not_in_crew' });
    script.send(gen1.ping());
    expect(await script.next(isType('pong'))).toMatchObject({ type: 'pong' });
    // An empty code is no code, as the fleet's relay read it.
    const empty = await clients.connect();
    empty.send(gen1.register({ device_id: 'leeloo_5f2a9c1f', crew_code: '', device_name: 'LEELOO' }));
    expect(await empty.next()).toEqual({ type: 'registered', device_id: 'leeloo_5f2a9c1f' });
    empty.send(gen1.reaction('love'));
    expect(await empty.next(isType('error'))).toMatchObject({ code: 'not_in_crew' });
  });

  it('a crew word longer than 64 characters or with control characters is refused with invalid_crew_code', async () => {
    for (const word of ['w'.repeat(65), 'tab\there', '   ']) {
      const c = await clients.connect();
      c.send(gen1.register({ device_id: 'leeloo_badword', crew_code: word, device_name: 'Bad' }));
      expect(await c.next(), word).toMatchObject({ type: 'error', code: 'invalid_crew_code', error: 'invalid_crew_code' });
    }
  });

  // A crew with a past: the newcomer cannot resume, and is sent what follows its join, never the crew's earlier history.
  it('register into a crew with shares gets none of them, then what follows, and what it missed while away', async () => {
    const owner = await clients.connect();
    owner.send(gen1.register({ device_id: 'nc-g1-owner', crew_code: 'newcomers-one', device_name: 'Owner' }));
    await owner.next(isType('registered'));
    owner.send(gen1.shareMusic('spotify:track:past1', 'Band', 'PastOne', 'Album'));
    owner.send(gen1.shareMusic('spotify:track:past2', 'Band', 'PastTwo', 'Album'));
    await owner.barrier();

    let newcomer = await clients.connect();
    newcomer.send(gen1.register({ device_id: 'nc-g1-new', crew_code: 'newcomers-one', device_name: 'New' }));
    await newcomer.next(isType('registered'));
    expect(sharedTracks(await newcomer.barrier())).toEqual([]);

    owner.send(gen1.shareMusic('spotify:track:after1', 'Band', 'AfterOne', 'Album'));
    expect(await newcomer.next(isType('music_shared'))).toMatchObject({ track: 'AfterOne' });
    // Its pong to the relay's delivery proof is what marks it delivered: a barrier lets the relay see it.
    await newcomer.barrier();
    await newcomer.close();

    owner.send(gen1.shareMusic('spotify:track:away1', 'Band', 'WhileAway', 'Album'));
    await owner.barrier();
    newcomer = await clients.connect();
    newcomer.send(gen1.register({ device_id: 'nc-g1-new', crew_code: 'newcomers-one', device_name: 'New' }));
    await newcomer.next(isType('registered'));
    await newcomer.next(isType('music_shared', { track: 'WhileAway' }));
    const rest = await newcomer.barrier();
    expect(sharedTracks(rest).filter((t) => t.startsWith('Past'))).toEqual([]);
  });
});
