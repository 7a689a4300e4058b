import type { Actor } from '../../../cloud/ports.js';
import { describe, expect, it } from 'vitest';
import { ProtocolError, type ErrorCode } from '../../../protocol/errors.js';
import type { QueueTrack } from '../../../protocol/queue.js';
import { QueueSnapshot } from '../../../protocol/queue.js';
import {
  addThrowbacks,
  addTrack,
  advance,
  clear,
  dueAt,
  emptyQueue,
  jam,
  needsFiller,
  pause,
  removeTrack,
  resume,
  setThrowback,
  skip,
  skipVotesNeeded,
  snapshotOf,
  vote,
  voteSkip,
  type QueueState,
} from '../../../cloud/queue/crew-queue.js';
import { fairOrder, scoreOf } from '../../../cloud/queue/order.js';
import { parseStoredState, storedState } from '../../../cloud/queue/queue-state.js';

const T0 = 1_700_000_000_000;
const owner: Actor = { deviceId: 'owner', name: 'Olga', isOwner: true };
const ann: Actor = { deviceId: 'ann', name: 'Ann', isOwner: false };
const bob: Actor = { deviceId: 'bob', name: 'Bob', isOwner: false };

let trackNo = 0;
function track(durationMs?: number): QueueTrack {
  trackNo += 1;
  const id = String(trackNo).padStart(22, 'A');
  return { spotify_uri: `spotify:track:${id}`, track: `Song ${trackNo}`, artist: 'Band', album: '', album_art_url: '', duration_ms: durationMs };
}

function expectCode(fn: () => unknown, code: ErrorCode): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe(code);
    expect((error as ProtocolError).message.length).toBeGreaterThan(10);
    return;
  }
  throw new Error(`expected a ProtocolError ${code}`);
}

/** Adds tracks in order, one millisecond apart; returns the state and the item ids. */
function build(adds: Array<[Actor, number?]>): { state: QueueState; ids: string[] } {
  let state = emptyQueue();
  const ids: string[] = [];
  adds.forEach(([actor, duration], i) => {
    const result = addTrack(state, actor, track(duration ?? 200_000), T0 + i);
    state = result.state;
    ids.push(result.change.item_id!);
  });
  return { state, ids };
}

const upNextIds = (state: QueueState) => snapshotOf(state, T0).up_next.map((i) => i.item_id);

describe('adding', () => {
  it('starts the first track at once and queues the rest', () => {
    const { state, ids } = build([[ann, 180_000], [bob]]);
    expect(state.nowPlaying?.id).toBe(ids[0]);
    expect(state.nowPlaying?.clock).toEqual({ startedAt: T0, durationMs: 180_000, pausedAt: null });
    expect(upNextIds(state)).toEqual([ids[1]]);
    expect(state.version).toBe(2);
  });

  it('gives a track without duration the default clock duration', () => {
    const state = addTrack(emptyQueue(), ann, track(undefined), T0, {
      defaultDurationMs: 123_000,
      maxPending: 5,
      maxPendingPerMember: 5,
      maxLateMs: 2000,
    }).state;
    expect(state.nowPlaying?.clock.durationMs).toBe(123_000);
    expect(snapshotOf(state, T0).now_playing?.duration_ms).toBeNull();
  });

  it('refuses a track already queued or playing', () => {
    const t = track();
    const s1 = addTrack(emptyQueue(), ann, t, T0).state;
    expectCode(() => addTrack(s1, bob, t, T0 + 1), 'conflict');
    const s2 = addTrack(s1, bob, track(), T0 + 1).state;
    const queued = { ...track(), spotify_uri: s2.pending[0]!.uri };
    expectCode(() => addTrack(s2, ann, queued, T0 + 2), 'conflict');
  });

  it('limits the queue and each member', () => {
    const limits = { defaultDurationMs: 1000, maxPending: 3, maxPendingPerMember: 2, maxLateMs: 0 };
    let state = addTrack(emptyQueue(), ann, track(), T0, limits).state; // playing
    state = addTrack(state, ann, track(), T0, limits).state;
    state = addTrack(state, ann, track(), T0, limits).state;
    expectCode(() => addTrack(state, ann, track(), T0, limits), 'rate_limited');
    state = addTrack(state, bob, track(), T0, limits).state;
    expectCode(() => addTrack(state, bob, track(), T0, limits), 'conflict');
  });
});

describe('fair order', () => {
  it('plays everyone’s first track before anyone’s second', () => {
    const { state, ids } = build([[owner], [ann], [ann], [ann], [bob], [owner]]);
    // ids[0] (owner's round 1) is playing, so owner's next track is in round 2.
    expect(upNextIds(state)).toEqual([ids[1], ids[4], ids[2], ids[5], ids[3]]);
    expect(snapshotOf(state, T0).up_next.map((i) => i.round)).toEqual([1, 1, 2, 2, 3]);
  });

  it('moves a track within its round by votes and jams, never across rounds', () => {
    const { state, ids } = build([[owner], [ann], [bob], [owner], [ann]]);
    // Round 1: ann(1), bob(2); round 2: owner(3), ann(4).
    let s = vote(state, ann, ids[2]!, 'up').state;
    s = jam(s, owner, ids[2]!).state;
    expect(upNextIds(s)).toEqual([ids[2], ids[1], ids[3], ids[4]]);
    s = vote(s, owner, ids[4]!, 'up').state;
    s = vote(s, bob, ids[4]!, 'up').state;
    s = vote(s, ann, ids[4]!, 'up').state;
    expect(upNextIds(s).slice(2)).toEqual([ids[4], ids[3]]);
    s = vote(s, owner, ids[2]!, 'down').state;
    s = vote(s, bob, ids[2]!, 'down').state;
    s = vote(s, ann, ids[2]!, 'down').state;
    expect(upNextIds(s)).toEqual([ids[1], ids[2], ids[4], ids[3]]);
  });

  it('keeps add order on equal scores and puts throwback tracks last', () => {
    const { state, ids } = build([[owner], [ann], [bob]]);
    const withFiller = addThrowbacks(state, [track(), track()], T0 + 10)!.state;
    const order = upNextIds(withFiller);
    expect(order.slice(0, 2)).toEqual([ids[1], ids[2]]);
    const views = snapshotOf(withFiller, T0).up_next;
    expect(views.slice(2).every((v) => v.throwback && v.added_by === null)).toBe(true);
    const late = addTrack(withFiller, bob, track(), T0 + 20).state;
    expect(snapshotOf(late, T0).up_next.map((v) => v.throwback)).toEqual([false, false, false, true, true]);
  });

  // Seeded so a failure can be replayed.
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it.each([1, 2, 3, 42, 1234])('drains round-robin with 12 members and random votes (seed %i)', (seed) => {
    const random = rng(seed);
    const members: Actor[] = Array.from({ length: 12 }, (_, i) => ({ deviceId: `m${i}`, name: `M${i}`, isOwner: i === 0 }));
    const limits = { defaultDurationMs: 1000, maxPending: 500, maxPendingPerMember: 200, maxLateMs: 0 };
    let state = addTrack(emptyQueue(), members[0]!, track(1000), T0, limits).state;
    for (let i = 0; i < 150; i += 1) {
      const adder = members[Math.floor(random() ** 2 * members.length)]!;
      state = addTrack(state, adder, track(1000), T0 + i, limits).state;
    }
    for (let i = 0; i < 400; i += 1) {
      const entry = state.pending[Math.floor(random() * state.pending.length)]!;
      const voter = members[Math.floor(random() * members.length)]!;
      state = random() < 0.2 ? jam(state, voter, entry.id).state : vote(state, voter, entry.id, random() < 0.6 ? 'up' : 'down').state;
    }
    const playedBy = new Map<string, number>([[members[0]!.deviceId, 1]]);
    let now = T0 + 1000;
    while (state.pending.length > 0) {
      const order = fairOrder(state.pending);
      const waiting = new Set(state.pending.map((e) => e.addedBy!));
      const next = order[0]!;
      const fewest = Math.min(...[...waiting].map((m) => playedBy.get(m) ?? 0));
      expect(playedBy.get(next.addedBy!) ?? 0).toBe(fewest);
      const sameRound = state.pending.filter((e) => e.round === next.round);
      expect(next.round).toBe(Math.min(...state.pending.map((e) => e.round)));
      expect(scoreOf(next)).toBe(Math.max(...sameRound.map(scoreOf)));
      expect(new Set(sameRound.map((e) => e.addedBy)).size).toBe(sameRound.length);
      now += 1000;
      const result = advance(state, now, limits)!;
      expect(result.state.nowPlaying?.id).toBe(next.id);
      playedBy.set(next.addedBy!, (playedBy.get(next.addedBy!) ?? 0) + 1);
      state = result.state;
    }
    expect([...playedBy.values()].reduce((a, b) => a + b, 0)).toBe(151);
  });
});

describe('votes and jams', () => {
  it('keeps one vote per member, changeable and retractable', () => {
    const { state, ids } = build([[owner], [ann]]);
    let s = vote(state, bob, ids[1]!, 'up').state;
    s = vote(s, bob, ids[1]!, 'up').state;
    expect(snapshotOf(s, T0).up_next[0]).toMatchObject({ score: 1, voted_up: ['bob'], voted_down: [] });
    s = vote(s, bob, ids[1]!, 'down').state;
    expect(snapshotOf(s, T0).up_next[0]).toMatchObject({ score: -1, voted_up: [], voted_down: ['bob'] });
    s = vote(s, bob, ids[1]!, 'none').state;
    expect(snapshotOf(s, T0).up_next[0]).toMatchObject({ score: 0, voted_up: [], voted_down: [] });
  });

  it('toggles a jam, sets it explicitly, and allows it on the playing track', () => {
    const { state, ids } = build([[owner], [ann]]);
    let s = jam(state, bob, ids[0]!).state;
    expect(s.nowPlaying?.jams).toEqual(['bob']);
    s = jam(s, bob, ids[0]!).state;
    expect(s.nowPlaying?.jams).toEqual([]);
    s = jam(s, bob, ids[1]!, true).state;
    s = jam(s, bob, ids[1]!, true).state;
    expect(s.pending[0]?.jams).toEqual(['bob']);
    s = jam(s, bob, ids[1]!, false).state;
    expect(s.pending[0]?.jams).toEqual([]);
  });

  it('says not_found for an unknown item', () => {
    const { state } = build([[owner]]);
    expectCode(() => vote(state, ann, 'q_doesnotexist00', 'up'), 'not_found');
    expectCode(() => jam(state, ann, 'q_doesnotexist00'), 'not_found');
    expectCode(() => removeTrack(state, ann, 'q_doesnotexist00'), 'not_found');
  });
});

describe('permissions', () => {
  it('lets only the adder or the owner remove a waiting track', () => {
    const { state, ids } = build([[owner], [ann], [bob]]);
    expectCode(() => removeTrack(state, bob, ids[1]!), 'not_owner');
    expect(upNextIds(removeTrack(state, ann, ids[1]!).state)).toEqual([ids[2]]);
    expect(upNextIds(removeTrack(state, owner, ids[1]!).state)).toEqual([ids[2]]);
    expectCode(() => removeTrack(state, owner, ids[0]!), 'conflict');
  });

  it('lets only the owner skip, pause, resume, clear and switch throwback', () => {
    const { state } = build([[ann], [bob]]);
    expectCode(() => skip(state, ann, T0), 'not_owner');
    expectCode(() => pause(state, ann, T0), 'not_owner');
    expectCode(() => resume(state, bob, T0), 'not_owner');
    expectCode(() => clear(state, ann), 'not_owner');
    expectCode(() => setThrowback(state, bob, true), 'not_owner');
    expect(clear(state, owner).state.pending).toEqual([]);
    expect(clear(state, owner).state.nowPlaying).not.toBeNull();
    expect(setThrowback(state, owner, true).state.throwback).toBe(true);
  });

  it('skips only the expected track and refuses on an empty queue', () => {
    const { state, ids } = build([[ann], [bob]]);
    expectCode(() => skip(state, owner, T0 + 5, ids[1]), 'conflict');
    const skipped = skip(state, owner, T0 + 5, ids[0]).state;
    expect(skipped.nowPlaying?.id).toBe(ids[1]);
    expect(skipped.nowPlaying?.clock.startedAt).toBe(T0 + 5);
    expect(skipped.played.map((p) => p.itemId)).toEqual([ids[0]]);
    expectCode(() => skip(emptyQueue(), owner, T0), 'conflict');
    expectCode(() => pause(emptyQueue(), owner, T0), 'conflict');
  });
});

describe('clock', () => {
  it('pauses and resumes with the position kept to the millisecond', () => {
    const { state } = build([[ann, 200_000]]);
    const paused = pause(state, owner, T0 + 50_123).state;
    expectCode(() => pause(paused, owner, T0 + 50_200), 'conflict');
    expect(dueAt(paused)).toBeNull();
    expect(snapshotOf(paused, T0 + 90_000).now_playing?.position_ms).toBe(50_123);
    expect(advance(paused, T0 + 900_000)).toBeNull();
    const resumed = resume(paused, owner, T0 + 100_000).state;
    expectCode(() => resume(resumed, owner, T0 + 100_001), 'conflict');
    expect(snapshotOf(resumed, T0 + 100_500).now_playing?.position_ms).toBe(50_623);
    expect(dueAt(resumed)).toBe(T0 + 100_000 + 200_000 - 50_123);
  });

  it('advances at the end exactly, starting the next track at the previous end', () => {
    const { state, ids } = build([
      [ann, 10_000],
      [bob, 20_000],
    ]);
    expect(advance(state, T0 + 9_999)).toBeNull();
    const next = advance(state, T0 + 10_040)!;
    expect(next.change).toEqual({ kind: 'advanced', item_id: ids[0], by: null });
    expect(next.state.nowPlaying?.clock.startedAt).toBe(T0 + 10_000);
    const dry = advance(next.state, T0 + 30_000)!;
    expect(dry.state.nowPlaying).toBeNull();
    expect(dry.state.played.map((p) => p.itemId)).toEqual([ids[0], ids[1]]);
  });

  it('starts the next track now when the relay was away longer than maxLateMs', () => {
    const { state, ids } = build([
      [ann, 10_000],
      [bob, 20_000],
      [owner, 20_000],
    ]);
    const late = advance(state, T0 + 600_000)!.state;
    expect(late.nowPlaying?.id).toBe(ids[1]);
    expect(late.nowPlaying?.clock.startedAt).toBe(T0 + 600_000);
    expect(advance(late, T0 + 600_000)).toBeNull();
  });

  it('asks for throwback filler only when on and about to run dry', () => {
    const { state } = build([[ann, 10_000]]);
    expect(needsFiller(state, T0 + 20_000)).toBe(false);
    const on = setThrowback(state, owner, true).state;
    expect(needsFiller(on, T0 + 5_000)).toBe(false);
    expect(needsFiller(on, T0 + 10_000)).toBe(true);
    const filled = addThrowbacks(on, [track(30_000)], T0 + 10_000)!.state;
    const after = advance(filled, T0 + 10_000)!.state;
    expect(after.nowPlaying?.throwback).toBe(true);
    expect(addThrowbacks(after, [], T0)).toBeNull();
  });
});

describe('snapshot', () => {
  it('matches the wire schema', () => {
    const { state, ids } = build([[owner], [ann], [bob]]);
    const s = vote(jam(state, ann, ids[2]!).state, bob, ids[1]!, 'down').state;
    const snapshot = snapshotOf(s, T0 + 1234);
    expect(QueueSnapshot.parse(snapshot)).toEqual(snapshot);
    expect(snapshot.now_playing?.position_ms).toBe(1234);
  });
});

describe('rounds over time', () => {
  it('puts a newcomer into the current round and a member who just played into the next', () => {
    const { state, ids } = build([
      [ann, 1000],
      [bob, 1000],
      [owner, 1000],
      [ann, 1000],
    ]);
    // ann's first is playing (round 1); bob and owner round 1, ann's second round 2.
    let s = advance(state, T0 + 1000)!.state; // bob starts (round 1)
    expect(s.nowPlaying?.id).toBe(ids[1]);
    s = addTrack(s, bob, track(1000), T0 + 1001).state; // bob already had round 1: round 2
    const carol: Actor = { deviceId: 'carol', name: 'Carol', isOwner: false };
    s = addTrack(s, carol, track(1000), T0 + 1002).state; // newcomer: round 1, before round 2
    expect(snapshotOf(s, T0).up_next.map((i) => [i.added_by, i.round])).toEqual([
      ['owner', 1],
      ['carol', 1],
      ['ann', 2],
      ['bob', 2],
    ]);
  });

  it('frees a removed track’s round for the member’s next add', () => {
    const { state, ids } = build([[owner], [ann], [ann]]);
    const removed = removeTrack(state, ann, ids[2]!).state;
    const readded = addTrack(removed, ann, track(), T0 + 10).state;
    expect(snapshotOf(readded, T0).up_next.map((i) => i.round)).toEqual([1, 2]);
  });
});

describe('vote to skip', () => {
  it.each([
    // [members online, percent, votes needed]
    [1, 50, 1],
    [2, 50, 2],
    [3, 50, 2],
    [4, 50, 3],
    [5, 50, 3],
    [8, 50, 5],
    [8, 25, 3],
    [8, 75, 7],
    [3, 99, 3],
    [0, 50, 1],
  ])('%i online at %i %% needs %i votes', (online, percent, needed) => {
    expect(skipVotesNeeded(online, percent)).toBe(needed);
  });

  it('counts each member once, skips at the votes needed, and the next track starts with none', () => {
    const { state, ids } = build([[ann], [bob], [owner]]);
    const one = voteSkip(state, ann, ids[0]!, true, 2, T0 + 10);
    expect(one.change).toEqual({ kind: 'skip_voted', item_id: ids[0], by: 'ann' });
    expect(snapshotOf(one.state, T0 + 10).now_playing?.skip_votes).toEqual(['ann']);
    // The same member again, and taking it back: nothing is skipped.
    const again = voteSkip(one.state, ann, ids[0]!, true, 2, T0 + 11);
    expect(again.state.nowPlaying?.id).toBe(ids[0]);
    expect(snapshotOf(again.state, T0 + 11).now_playing?.skip_votes).toEqual(['ann']);
    const back = voteSkip(again.state, ann, ids[0]!, false, 2, T0 + 12);
    expect(snapshotOf(back.state, T0 + 12).now_playing?.skip_votes).toEqual([]);

    const bobs = voteSkip(voteSkip(back.state, ann, ids[0]!, true, 2, T0 + 13).state, bob, ids[0]!, true, 2, T0 + 14);
    expect(bobs.change).toEqual({ kind: 'skipped', item_id: ids[0], by: 'bob' });
    expect(bobs.state.nowPlaying?.id).toBe(ids[1]);
    expect(snapshotOf(bobs.state, T0 + 14).now_playing?.skip_votes).toEqual([]);
    expect(bobs.state.played.at(-1)).toMatchObject({ itemId: ids[0], endedAt: T0 + 14 });
  });

  it('counts nothing for a track that no longer plays, or when nothing plays', () => {
    const { state, ids } = build([[ann], [bob]]);
    expectCode(() => voteSkip(state, bob, ids[1]!, true, 1, T0 + 5), 'conflict');
    expectCode(() => voteSkip(emptyQueue(), bob, 'q_AAAAAAAAAAAAAAAA', true, 1, T0), 'conflict');
  });

  it('keeps the votes through a stored round trip, and reads a queue stored before votes existed', () => {
    const { state, ids } = build([[ann], [bob]]);
    const voted = voteSkip(state, ann, ids[0]!, true, 3, T0 + 5).state;
    const restored = parseStoredState('c1', storedState(voted));
    expect(restored.nowPlaying?.skipVotes).toEqual(['ann']);
    const { skipVotes: _none, ...before } = voted.nowPlaying!;
    const old = parseStoredState('c1', storedState({ ...voted, nowPlaying: before }));
    expect(snapshotOf(old, T0 + 6).now_playing?.skip_votes).toEqual([]);
  });
});
