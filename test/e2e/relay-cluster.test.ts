import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gen1, gen2 } from '../field/field-frames.js';
import { deleteKeys, TEST_REDIS_URL } from '../helpers/redis.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { waitUntil } from '../helpers/wait-until.js';
import { collectUntil, hello, isType, type TestClient } from '../helpers/ws-client.js';
import { Redis } from 'ioredis';

/*
 * Three relay processes on loopback sharing one Redis (their own key prefix), with gadgets of
 * all three generations spread over them, as a deployment behind a load balancer has them.
 */

const prefix = `leeloo-test:${randomBytes(6).toString('hex')}:`;
const env = { REDIS_URL: TEST_REDIS_URL, LEELOO_REDIS_PREFIX: prefix };
let relays: RelayProcess[] = [];
const open: TestClient[] = [];

async function connect(relay: RelayProcess): Promise<TestClient> {
  const client = await relay.connect();
  open.push(client);
  return client;
}

beforeAll(async () => {
  relays = await Promise.all([0, 1, 2].map(() => RelayProcess.start({ env })));
}, 90_000);

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.terminate().catch(() => undefined)));
});

afterAll(async () => {
  await Promise.all(relays.map((r) => r.cleanup()));
  const redis = new Redis(TEST_REDIS_URL);
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

describe('three relay processes on one Redis', () => {
  it('a crew spread over the processes: shares and reactions reach every generation, in seq order, once', async () => {
    const owner = await connect(relays[0]!);
    await hello(owner, 'Owner');
    const code = (await owner.request({ type: 'create_crew', display_name: 'Owner' }, isType('crew_created'))).crew_code as string;
    const g2 = await connect(relays[1]!);
    g2.send(gen2.joinCrew(code, '', 'Two'));
    expect(await g2.next(isType('crew_joined'))).toMatchObject({ crew_code: code });
    const g1 = await connect(relays[2]!);
    g1.send(gen1.register({ device_id: `g1-${randomBytes(3).toString('hex')}`, crew_code: code, device_name: 'One' }));
    await g1.next(isType('registered'));
    const g3 = await connect(relays[2]!);
    await hello(g3, 'Three');
    await g3.request({ type: 'join_crew', crew_code: code, display_name: 'Three' }, isType('crew_joined'));
    await owner.next(isType('member_joined', { display_name: 'Three' }));

    g1.send(gen1.shareMusic('spotify:track:cluster1', 'Björk', 'Joga', 'Homogenic'));
    expect(await g2.next(isType('message'))).toMatchObject({ msg_type: 'song_push', payload: { spotify_uri: 'spotify:track:cluster1' } });
    expect(await owner.next(isType('message'))).toMatchObject({ msg_type: 'song_push', crew_code: code });
    g2.send(gen2.reaction('fire'));
    expect(await g1.next(isType('reaction'))).toMatchObject({ reaction_type: 'fire', from: 'Two' });

    // Twenty texts from senders on all three processes at once: every current member sees each once, in seq order.
    const senders = [owner, g3];
    for (let i = 0; i < 10; i += 1) {
      for (const [n, sender] of senders.entries())
        sender.send({ type: 'message', msg_type: 'text', payload: { text: `t${n}-${i}` }, client_msg_id: `c${n}-${i}` });
      g2.send(gen2.text(`g2-${i}`));
    }
    const seen = new Map<TestClient, number[]>();
    for (const member of [owner, g3]) {
      const seqs: number[] = [];
      // Each sees the other's 10 and g2's 10 (its own texts are not echoed).
      while (seqs.length < 20) {
        const frame = await member.next(isType('message', { msg_type: 'text' }), 15_000);
        seqs.push(frame.seq as number);
      }
      seen.set(member, seqs);
    }
    for (const seqs of seen.values()) {
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
    }
    // Everything the owner received with a seq, over the whole test: in seq order, each once.
    await owner.barrier();
    const all = owner.received.filter((f) => typeof f.seq === 'number' && f.type !== 'ack').map((f) => f.seq as number);
    expect(all).toEqual([...new Set(all)].sort((a, b) => a - b));
  }, 60_000);

  it('presence spans the processes: a member on another process is online; moving process is not going offline', async () => {
    const a = await connect(relays[0]!);
    await hello(a, 'Ana');
    const code = (await a.request({ type: 'create_crew', display_name: 'Ana' }, isType('crew_created'))).crew_code as string;
    const b = await connect(relays[1]!);
    const welcome = await hello(b, 'Bo');
    const identity = { device_id: welcome.device_id as string, device_secret: welcome.device_secret as string };
    await b.request({ type: 'join_crew', crew_code: code, display_name: 'Bo' }, isType('crew_joined'));
    await a.next(isType('member_joined', { device_id: identity.device_id }));

    // A member joining on Ana's process sees Bo online although Bo's socket is on another process.
    const c = await connect(relays[0]!);
    await hello(c, 'Cy');
    const state = await c.request({ type: 'join_crew', crew_code: code, display_name: 'Cy' }, isType('crew_joined'));
    expect((state.crew as { members: { device_id: string; online: boolean }[] }).members).toContainEqual(
      expect.objectContaining({ device_id: identity.device_id, online: true }),
    );
    await a.next(isType('member_joined', { display_name: 'Cy' }));

    // Bo comes back on a third process before its old socket is gone: the old one is replaced, nobody hears member_offline.
    const moved = await connect(relays[2]!);
    await hello(moved, 'Bo', identity);
    expect((await b.closed).code).toBe(4002);
    await a.expectQuiet((f) => f.type !== 'member_offline', 1500);

    // Bo's socket closes for good: Ana, on another process, hears it.
    await moved.terminate();
    await a.next(isType('member_offline', { device_id: identity.device_id }), 10_000);
  }, 60_000);

  it('resume works on whichever process the device reconnects to', async () => {
    const sender = await connect(relays[0]!);
    await hello(sender, 'Sender');
    const code = (await sender.request({ type: 'create_crew', display_name: 'Sender' }, isType('crew_created'))).crew_code as string;
    const away = await connect(relays[1]!);
    const welcome = await hello(away, 'Away');
    const identity = { device_id: welcome.device_id as string, device_secret: welcome.device_secret as string };
    const joined = await away.request({ type: 'join_crew', crew_code: code, display_name: 'Away' }, isType('crew_joined'));
    const lastSeen = (joined.crew as { latest_seq: number }).latest_seq;
    await away.terminate();
    await sender.next(isType('member_offline', { device_id: identity.device_id }));
    const seqs: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      sender.send({ type: 'message', msg_type: 'text', payload: { text: `missed ${i}` }, client_msg_id: `m-${i}` });
      seqs.push((await sender.next(isType('ack', { client_msg_id: `m-${i}` }))).seq as number);
    }
    const back = await connect(relays[2]!);
    await hello(back, 'Away', identity);
    back.send({ type: 'resume', crew_code: code, after_seq: lastSeen, epoch: (joined.crew as { epoch: string }).epoch });
    const replay = await collectUntil(back, isType('resumed'));
    expect(replay.filter((f) => f.type === 'message').map((f) => f.seq)).toEqual(seqs);
    expect(replay.at(-1)).toMatchObject({ type: 'resumed', after_seq: lastSeen });
    sender.send({ type: 'message', msg_type: 'nudge', payload: {}, client_msg_id: 'live' });
    expect(await back.next(isType('message'))).toMatchObject({ msg_type: 'nudge' });
  }, 60_000);

  it('a process killed with SIGKILL: its gadgets are announced offline by another process', async () => {
    const victim = await RelayProcess.start({ env });
    try {
      const a = await connect(relays[0]!);
      await hello(a, 'Ana');
      const code = (await a.request({ type: 'create_crew', display_name: 'Ana' }, isType('crew_created'))).crew_code as string;
      const b = await connect(victim);
      const welcome = await hello(b, 'Bo');
      await b.request({ type: 'join_crew', crew_code: code, display_name: 'Bo' }, isType('crew_joined'));
      await a.next(isType('member_joined', { device_id: welcome.device_id }));
      await victim.kill();
      // Its liveness key expires (6 s) and the next sweep (every 2 s) of a live process takes its devices.
      await a.next(isType('member_offline', { device_id: welcome.device_id }), 20_000);
    } finally {
      await victim.cleanup();
    }
  }, 60_000);

  it('the queue clock moves to another process when its holder is killed with SIGKILL', async () => {
    // Two processes of their own, with tracks of a few seconds (no Spotify: the default duration).
    // A prefix of their own: the three relays above would hold the lease otherwise.
    const queuePrefix = `${prefix}q:`;
    const queueEnv = {
      ...env,
      LEELOO_REDIS_PREFIX: queuePrefix,
      LEELOO_QUEUE_DEFAULT_DURATION_MS: '3000',
      LEELOO_QUEUE_STATE_INTERVAL_MS: '0',
      LEELOO_LINK_SECRET: 'q'.repeat(40),
    };
    const pair = await Promise.all([RelayProcess.start({ env: queueEnv }), RelayProcess.start({ env: queueEnv })]);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const owner = await connect(pair[0]!);
      await hello(owner, 'Ana');
      const code = (await owner.request({ type: 'create_crew', display_name: 'Ana' }, isType('crew_created'))).crew_code as string;
      const other = await connect(pair[1]!);
      await hello(other, 'Bo');
      await other.request({ type: 'join_crew', crew_code: code, display_name: 'Bo' }, isType('crew_joined'));
      // The clock runs in the process holding the queue-clock lease (one of all the relay's processes).
      const holderPid = async () => {
        const grant = await redis.get(`${queuePrefix}lease:queue-clock`);
        return grant === null ? null : Number(/-(\d+)-[0-9a-f]+$/.exec(grant)?.[1]);
      };
      let pid: number | null = null;
      await waitUntil(async () => (pid = await holderPid()) !== null, 'a holder of the queue clock');
      const victim = pair.find((r) => r.child.pid === pid);
      const survivor = pair.find((r) => r !== victim)!;
      const watcher = survivor === pair[0] ? owner : other;
      const sharer = await connect(survivor);
      await hello(sharer, 'Cy');
      await sharer.request({ type: 'join_crew', crew_code: code, display_name: 'Cy' }, isType('crew_joined'));
      for (const [i, uri] of ['spotify:track:first', 'spotify:track:second'].entries()) {
        sharer.send({ type: 'message', msg_type: 'song_push', payload: { spotify_uri: uri, track: `T${i}`, artist: 'A' }, client_msg_id: `share-${i}` });
        await sharer.next(isType('ack', { client_msg_id: `share-${i}` }));
      }
      await victim?.kill();
      // Whoever held it, the second track comes on once the first's 3 s are up, from a live process.
      const next = await watcher.next(
        (f) => f.type === 'queue_state' && (f.queue as { now_playing?: { spotify_uri?: string } }).now_playing?.spotify_uri === 'spotify:track:second',
        20_000,
      );
      expect(next.change).toMatchObject({ kind: expect.stringMatching(/advanced|ended|next/) });
      expect(await holderPid()).toBe(survivor.child.pid);
    } finally {
      redis.disconnect();
      await Promise.all(pair.map((r) => r.cleanup()));
    }
  }, 60_000);
});
