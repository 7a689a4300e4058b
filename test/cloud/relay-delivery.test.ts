import { afterAll, describe, expect, it } from 'vitest';
import { RelayProcess, relayForSuite } from '../helpers/relay-process.js';
import { collectUntil, hello, isType, type Frame, type TestClient } from '../helpers/ws-client.js';

const song = { artist: 'Air', track: 'La femme d’argent', album: 'Moon Safari', spotify_uri: 'spotify:track:airmoon1', album_art_url: '', note: 'listen!' };

describe('delivery against a real relay process', () => {
  const { clients } = relayForSuite();
  const connect = clients.connect;

  it('a mixed-generation crew: each generation sees the others in its own dialect', async () => {
    const g1 = await connect();
    g1.send({ type: 'register', device_id: 'mix-g1', crew_code: 'LEELOO-MXX2', device_name: 'One' });
    await g1.next(isType('registered'));
    const g2 = await connect();
    g2.send({ type: 'join_crew', crew_code: 'LEELOO-MXX2', device_id: 'mix-g2', display_name: 'Two' });
    expect(await g2.next()).toMatchObject({ type: 'crew_joined', crew_members: 2, member_names: ['One'] });
    const g3 = await connect();
    await hello(g3, 'Three');
    await g3.request({ type: 'join_crew', crew_code: 'LEELOO-MXX2', display_name: 'Three' }, isType('crew_joined'));
    await g2.next(isType('member_joined', { display_name: 'Three' }));

    g1.send({ type: 'share_music', spotify_uri: 'spotify:track:g1share', artist: 'Björk', track: 'Joga', album: 'Homogenic' });
    expect(await g2.next(isType('message'))).toMatchObject({
      msg_type: 'song_push',
      from_device: 'mix-g1',
      from_name: 'One',
      payload: { spotify_uri: 'spotify:track:g1share', artist: 'Björk', track: 'Joga', album: 'Homogenic' },
    });
    const v3 = await g3.next(isType('message'));
    expect(v3).toMatchObject({ msg_type: 'song_push', crew_code: 'LEELOO-MXX2' });
    expect(typeof v3.seq).toBe('number');

    g2.send({ type: 'message', msg_type: 'song_push', payload: song });
    expect(await g1.next(isType('music_shared'))).toMatchObject({ spotify_uri: song.spotify_uri, track: song.track, pushed_by: 'Two' });
    const v3second = await g3.next(isType('message'));
    expect(v3second).toMatchObject({ msg_type: 'song_push', payload: { note: 'listen!' } });
    expect(v3second.seq as number).toBeGreaterThan(v3.seq as number);

    g3.send({ type: 'message', msg_type: 'reaction', payload: { reaction: 'fire' }, client_msg_id: 'r1' });
    expect(await g1.next(isType('reaction'))).toMatchObject({ reaction_type: 'fire', from: 'Three' });
    expect(await g2.next(isType('message'))).toMatchObject({ msg_type: 'reaction', payload: { reaction: 'fire' } });
    // A text has no first-generation form: the first generation gets nothing for it.
    g3.send({ type: 'message', msg_type: 'text', payload: { text: 'only for the new ones' }, client_msg_id: 't1' });
    expect(await g2.next(isType('message'))).toMatchObject({ msg_type: 'text' });
    expect((await g2.barrier()).length).toBe(0);
    await g1.expectQuiet();
  });

  it('a current device offline then back with resume gets what it missed, in order, once', async () => {
    const sender = await connect();
    await hello(sender, 'Sender');
    const created = await sender.request({ type: 'create_crew', display_name: 'Sender' }, isType('crew_created'));
    const code = created.crew_code as string;

    const away = await connect();
    const welcome = await hello(away, 'Away');
    const identity = { device_id: welcome.device_id as string, device_secret: welcome.device_secret as string };
    const joined = await away.request({ type: 'join_crew', crew_code: code, display_name: 'Away' }, isType('crew_joined'));
    const lastSeen = (joined.crew as { latest_seq: number }).latest_seq;
    await sender.next(isType('member_joined', { device_id: identity.device_id }));

    await away.terminate();
    await sender.next(isType('member_offline', { device_id: identity.device_id }));

    const seqs: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      sender.send({ type: 'message', msg_type: 'text', payload: { text: `missed ${i}` }, client_msg_id: `miss-${i}` });
      seqs.push((await sender.next(isType('ack', { client_msg_id: `miss-${i}` }))).seq as number);
    }
    // Re-sent after a "lost" ack: acknowledged again with the original seq and not stored twice.
    sender.send({ type: 'message', msg_type: 'text', payload: { text: 'missed 2' }, client_msg_id: 'miss-2' });
    expect(await sender.next(isType('ack', { client_msg_id: 'miss-2' }))).toEqual({ type: 'ack', client_msg_id: 'miss-2', seq: seqs[2], duplicate: true });

    const back = await connect();
    const again = await hello(back, 'Away', identity);
    expect(again.device_secret).toBeUndefined();
    expect((again.crew as { crew_code: string }).crew_code).toBe(code);
    back.send({ type: 'resume', crew_code: code, after_seq: lastSeen });
    const replay = await collectUntil(back, isType('resumed'));
    const texts = replay.filter((f) => f.type === 'message');
    expect(texts.map((f) => (f.payload as { text: string }).text)).toEqual([0, 1, 2, 3, 4].map((i) => `missed ${i}`));
    expect(texts.map((f) => f.seq)).toEqual(seqs);
    const replayedSeqs = replay.filter((f) => f.seq !== undefined).map((f) => f.seq as number);
    expect(replayedSeqs).toEqual([...replayedSeqs].sort((a, b) => a - b));
    expect(new Set(replayedSeqs).size).toBe(replayedSeqs.length);
    expect(replay.at(-1)).toMatchObject({ type: 'resumed', after_seq: lastSeen, replayed: replayedSeqs.length });
    await back.expectQuiet();

    sender.send({ type: 'message', msg_type: 'nudge', payload: {}, client_msg_id: 'live-1' });
    expect(await back.next(isType('message'))).toMatchObject({ msg_type: 'nudge' });
    await back.expectQuiet();
  });

  it('a crew event committed between welcome and resume does not overtake the replay', async () => {
    const sender = await connect();
    await hello(sender, 'Busy');
    const code = (await sender.request({ type: 'create_crew', display_name: 'Busy' }, isType('crew_created'))).crew_code as string;
    const away = await connect();
    const welcome = await hello(away, 'Back');
    const identity = { device_id: welcome.device_id as string, device_secret: welcome.device_secret as string };
    const lastSeen = ((await away.request({ type: 'join_crew', crew_code: code, display_name: 'Back' }, isType('crew_joined'))).crew as { latest_seq: number })
      .latest_seq;
    await sender.next(isType('member_joined', { device_id: identity.device_id }));
    await away.terminate();
    await sender.next(isType('member_offline', { device_id: identity.device_id }));
    for (const i of [0, 1, 2]) {
      await sender.request(
        { type: 'message', msg_type: 'text', payload: { text: `away ${i}` }, client_msg_id: `w-${i}` },
        isType('ack', { client_msg_id: `w-${i}` }),
      );
    }

    const back = await connect();
    await hello(back, 'Back', identity);
    await sender.next(isType('member_joined', { device_id: identity.device_id }));
    // The crew goes on before the device's resume arrives; the ack comes after the fan-out.
    await sender.request(
      { type: 'message', msg_type: 'text', payload: { text: 'meanwhile' }, client_msg_id: 'w-live' },
      isType('ack', { client_msg_id: 'w-live' }),
    );
    back.send({ type: 'resume', crew_code: code, after_seq: lastSeen });
    await collectUntil(back, isType('resumed'));
    await back.barrier();
    const seqs = back.received.filter((f) => typeof f.seq === 'number').map((f) => f.seq as number);
    // What a device that drops "seq <= last seen" would keep: everything, each once, in order.
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    const texts = back.received.filter((f) => f.type === 'message').map((f) => (f.payload as { text: string }).text);
    expect(texts).toEqual(['away 0', 'away 1', 'away 2', 'meanwhile']);
  });

  it('a returning device that does not resume gets live events from its next frame on', async () => {
    const sender = await connect();
    await hello(sender, 'Talker');
    const code = (await sender.request({ type: 'create_crew', display_name: 'Talker' }, isType('crew_created'))).crew_code as string;
    const other = await connect();
    const welcome = await hello(other, 'Quiet');
    const identity = { device_id: welcome.device_id as string, device_secret: welcome.device_secret as string };
    await other.request({ type: 'join_crew', crew_code: code, display_name: 'Quiet' }, isType('crew_joined'));
    await other.close();
    await sender.next(isType('member_offline', { device_id: identity.device_id }));
    const back = await connect();
    const again = await hello(back, 'Quiet', identity);
    await sender.next(isType('member_joined', { device_id: identity.device_id }));
    await sender.request({ type: 'message', msg_type: 'nudge', payload: {}, client_msg_id: 'q-1' }, isType('ack', { client_msg_id: 'q-1' }));
    const released = await back.barrier();
    expect(released.map((f) => [f.type, f.seq])).toEqual([['message', (again.crew as { latest_seq: number }).latest_seq + 2]]);
    await sender.request({ type: 'message', msg_type: 'nudge', payload: {}, client_msg_id: 'q-2' }, isType('ack', { client_msg_id: 'q-2' }));
    expect(await back.next(isType('message'))).toMatchObject({ msg_type: 'nudge', client_msg_id: 'q-2' });
  });

  it('resume beyond the relay is told to resync; resume of another crew is refused', async () => {
    const c = await connect();
    await hello(c, 'Ahead');
    const created = await c.request({ type: 'create_crew', display_name: 'Ahead' }, isType('crew_created'));
    c.send({ type: 'resume', crew_code: created.crew_code, after_seq: 10_000 });
    expect(await c.next(isType('resync'))).toMatchObject({ reason: 'ahead_of_relay', crew: { crew_code: created.crew_code } });
    c.send({ type: 'resume', crew_code: 'LEELOO-ZZZ9', after_seq: 0 });
    expect(await c.next(isType('error'))).toMatchObject({ code: 'not_in_crew' });
  });

  it('older-generation gadgets offline then back receive what they missed in their dialect', async () => {
    const g1 = await connect();
    g1.send({ type: 'register', device_id: 'away-g1', crew_code: 'LEELOO-AW4Y', device_name: 'Uno' });
    await g1.next(isType('registered'));
    const g2 = await connect();
    g2.send({ type: 'join_crew', crew_code: 'LEELOO-AW4Y', device_id: 'away-g2', display_name: 'Dos' });
    await g2.next(isType('crew_joined'));
    const g3 = await connect();
    await hello(g3, 'Tres');
    await g3.request({ type: 'join_crew', crew_code: 'LEELOO-AW4Y', display_name: 'Tres' }, isType('crew_joined'));
    await g1.close();
    await g2.close();
    await g3.next(isType('member_offline', { device_id: 'away-g1' }));
    await g3.next(isType('member_offline', { device_id: 'away-g2' }));

    for (const [i, body] of [
      { msg_type: 'song_push', payload: song },
      { msg_type: 'text', payload: { text: 'while you were out' } },
      { msg_type: 'reaction', payload: { reaction: 'love' } },
    ].entries()) {
      await g3.request({ type: 'message', ...body, client_msg_id: `o-${i}` }, isType('ack', { client_msg_id: `o-${i}` }));
    }

    const g1back = await connect();
    g1back.send({ type: 'register', device_id: 'away-g1', crew_code: 'LEELOO-AW4Y', device_name: 'Uno' });
    expect(await g1back.next()).toMatchObject({ type: 'registered' });
    expect(await g1back.next()).toMatchObject({ type: 'music_shared', track: song.track, pushed_by: 'Tres' });
    expect(await g1back.next()).toMatchObject({ type: 'reaction', reaction_type: 'love', from: 'Tres' });
    await g1back.expectQuiet();

    const g2back = await connect();
    g2back.send({ type: 'join_crew', crew_code: 'LEELOO-AW4Y', device_id: 'away-g2', display_name: 'Dos' });
    expect(await g2back.next()).toMatchObject({ type: 'crew_joined' });
    const missed = (await g2back.barrier()).filter((f) => f.type === 'message');
    expect(missed.map((f) => f.msg_type)).toEqual(['song_push', 'text', 'reaction']);
    expect(missed.every((f) => f.seq === undefined)).toBe(true);

    // Delivered once: reconnecting again brings nothing new.
    await g1back.close();
    const g1third = await connect();
    g1third.send({ type: 'register', device_id: 'away-g1', crew_code: 'LEELOO-AW4Y', device_name: 'Uno' });
    expect(await g1third.next()).toMatchObject({ type: 'registered' });
    await g1third.expectQuiet();
  });
});

describe('crash safety: SIGKILL while messages are in flight', () => {
  let relay: RelayProcess | undefined;
  const open: TestClient[] = [];

  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    await relay?.cleanup();
  });

  it('everything acknowledged before the kill is there after a restart, in order', async () => {
    const env = { RATE_LIMIT_PER_SECOND: '5000', RATE_LIMIT_BURST: '5000' };
    relay = await RelayProcess.start({ env });
    const sender = await relay.connect();
    open.push(sender);
    const welcome = await hello(sender, 'Crash');
    const identity = { device_id: welcome.device_id as string, device_secret: welcome.device_secret as string };
    const created = await sender.request({ type: 'create_crew', display_name: 'Crash' }, isType('crew_created'));

    const acked = new Map<string, number>();
    const enough = new Promise<void>((resolve) => {
      sender.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        if (frame.type === 'ack' && String(frame.client_msg_id).startsWith('k-')) acked.set(frame.client_msg_id as string, frame.seq as number);
        if (acked.size === 150) resolve();
      });
    });
    for (let i = 0; i < 1000; i += 1) sender.send({ type: 'message', msg_type: 'text', payload: { text: `n${i}` }, client_msg_id: `k-${i}` });
    await enough;
    await relay.kill();
    const ackedAtKill = new Map(acked);
    expect(ackedAtKill.size).toBeGreaterThanOrEqual(150);

    const restarted = await relay.restart({ env });
    relay = restarted;
    const reader = await restarted.connect();
    open.push(reader);
    const back = await hello(reader, 'Crash', identity);
    expect((back.crew as { crew_code: string }).crew_code).toBe(created.crew_code);
    reader.send({ type: 'resume', crew_code: created.crew_code, after_seq: 0 });
    const replay = await collectUntil(reader, isType('resumed'));
    const stored = new Map(replay.filter((f) => f.type === 'message').map((f) => [f.client_msg_id as string, f.seq as number]));
    for (const [id, seq] of ackedAtKill) expect(stored.get(id), id).toBe(seq);
    const seqs = replay.filter((f) => f.seq !== undefined).map((f) => f.seq as number);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  });
});
