import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SQLITE_FILE_NAME } from '../../cloud/store/store.js';
import { relayForSuite } from '../helpers/relay-process.js';
import { waitUntil } from '../helpers/wait-until.js';
import { holdWriteLock } from '../helpers/write-lock.js';
import { hello, isType, type Frame } from '../helpers/ws-client.js';

/*
 * The relay commits crew events on its store's writer thread, so an event can be on its way to
 * the disk while other frames are handled. Another connection holding the store's write lock
 * keeps such an event in flight for as long as the test needs; the relay's frame counters say
 * when a frame sent meanwhile has been read.
 */
describe('frames handled while a crew event is being committed', () => {
  const suite = relayForSuite();
  const { clients } = suite;

  async function framesIn(type: string): Promise<number> {
    const metrics = await (await fetch(`${suite.relay.httpUrl}/metrics`)).text();
    return Number(new RegExp(`^leeloo_messages_in_total\\{type="${type}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
  }

  const storeFile = () => path.join(suite.relay.dataDir, SQLITE_FILE_NAME);

  async function crewOf(name: string) {
    const owner = await clients.connect();
    await hello(owner, name);
    const created = await owner.request({ type: 'create_crew', display_name: name }, isType('crew_created'));
    await owner.barrier();
    return { owner, code: String(created.crew_code) };
  }

  it('answers a ping only after the crew events sent before it, so a pong is a barrier', async () => {
    const { owner: ann, code } = await crewOf('Ann');
    const ben = await clients.connect();
    await hello(ben, 'Ben');
    await ben.request({ type: 'join_crew', crew_code: code, display_name: 'Ben' }, isType('crew_joined'));
    await ann.next(isType('member_joined'));
    await ben.barrier();

    const pings = await framesIn('ping');
    const release = holdWriteLock(storeFile());
    ann.send({ type: 'message', msg_type: 'text', payload: { text: 'in flight' }, client_msg_id: 'f1' });
    ben.send({ type: 'ping' });
    await waitUntil(async () => (await framesIn('ping')) > pings, 'the relay to read the ping');
    release();
    const first = await ben.next(() => true);
    const second = await ben.next(() => true);
    expect([first.type, second.type]).toEqual(['message', 'pong']);
    expect(first).toMatchObject({ payload: { text: 'in flight' } });
    expect(await ann.next(isType('ack'))).toMatchObject({ client_msg_id: 'f1', seq: first.seq });
  });

  it('lets a device that joins while an event is committed join after it: the event is in its crew state, not sent to it', async () => {
    const { owner: ann, code } = await crewOf('Ann');
    const ben = await clients.connect();
    await hello(ben, 'Ben');

    const joins = await framesIn('join_crew');
    const release = holdWriteLock(storeFile());
    ann.send({ type: 'message', msg_type: 'text', payload: { text: 'before Ben' }, client_msg_id: 'b1' });
    ben.send({ type: 'join_crew', crew_code: code, display_name: 'Ben' });
    await waitUntil(async () => (await framesIn('join_crew')) > joins, 'the relay to read the join');
    release();
    const ack = await ann.next(isType('ack'));
    const joined = await ben.next(isType('crew_joined'));
    expect((joined.crew as { latest_seq: number }).latest_seq).toBeGreaterThanOrEqual(Number(ack.seq));
    const after: Frame[] = await ben.barrier();
    expect(after.filter((f) => f.type === 'message')).toEqual([]);
  });

  it('asks an older gadget for one delivery proof per burst, for the newest seq in it, and counts it delivered', async () => {
    const { owner: ann, code } = await crewOf('Ann');
    const senders = [ann];
    for (const name of ['Bo', 'Cy', 'Di', 'Ed']) {
      const member = await clients.connect();
      await hello(member, name);
      await member.request({ type: 'join_crew', crew_code: code, display_name: name }, isType('crew_joined'));
      senders.push(member);
    }
    const old = await clients.connect();
    old.send({ type: 'join_crew', crew_code: code, device_id: 'old-gen2', display_name: 'Old' });
    await old.next(isType('crew_joined'));
    await ann.barrier();
    await old.barrier();
    old.drain();
    const proofs: string[] = [];
    old.ws.on('ping', (payload) => proofs.push(payload.toString()));

    // A text from each while the lock is held: two batches are handed to the store at most, the rest wait to make a third.
    const messages = await framesIn('message');
    const release = holdWriteLock(storeFile());
    senders.forEach((sender, n) => sender.send({ type: 'message', msg_type: 'text', payload: { text: `t${n}` }, client_msg_id: `p${n}` }));
    await waitUntil(async () => (await framesIn('message')) >= messages + 5, 'the relay to read the five texts');
    release();
    const texts = await Promise.all(senders.map(() => old.next(isType('message'))));
    expect(texts.map((t) => (t.payload as { text: string }).text).sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
    const acks = await Promise.all(senders.map((sender) => sender.next(isType('ack'))));
    await old.barrier();
    const newest = Math.max(...acks.map((a) => Number(a.seq)));
    expect(proofs.length).toBeLessThanOrEqual(3);
    expect(proofs.at(-1)).toMatch(new RegExp(`\\n${newest}$`));
    const db = new Database(storeFile(), { readonly: true });
    const delivered = db.prepare("SELECT delivered_seq FROM crew_members WHERE device_id = 'old-gen2'").pluck();
    await waitUntil(() => delivered.get() === newest, 'the newest seq to be marked delivered');
    db.close();
  });

  it('takes a gadget’s next crew messages while its first is committed: three texts, at most two commits', async () => {
    const { owner: ann, code } = await crewOf('Ann');
    const ben = await clients.connect();
    await hello(ben, 'Ben');
    await ben.request({ type: 'join_crew', crew_code: code, display_name: 'Ben' }, isType('crew_joined'));
    await ann.barrier();
    const commits = async () => Number(/^leeloo_store_write_seconds_count (\d+)$/m.exec(await (await fetch(`${suite.relay.httpUrl}/metrics`)).text())?.[1]);
    const before = await commits();
    const messages = await framesIn('message');
    const release = holdWriteLock(storeFile());
    for (const n of [1, 2, 3]) ann.send({ type: 'message', msg_type: 'text', payload: { text: `fast ${n}` }, client_msg_id: `fast-${n}` });
    await waitUntil(async () => (await framesIn('message')) >= messages + 3, 'the relay to read the three texts');
    release();
    const acks = [await ann.next(isType('ack')), await ann.next(isType('ack')), await ann.next(isType('ack'))];
    expect(acks.map((a) => a.client_msg_id)).toEqual(['fast-1', 'fast-2', 'fast-3']);
    expect(acks.map((a) => Number(a.seq))).toEqual([Number(acks[0]!.seq), Number(acks[0]!.seq) + 1, Number(acks[0]!.seq) + 2]);
    const texts = [await ben.next(isType('message')), await ben.next(isType('message')), await ben.next(isType('message'))];
    expect(texts.map((t) => (t.payload as { text: string }).text)).toEqual(['fast 1', 'fast 2', 'fast 3']);
    // One commit for the first (held by the lock), one for the two read meanwhile: not one each, one after the other.
    expect((await commits()) - before).toBeLessThanOrEqual(2);
  });
});
