import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FeedStore } from '../../device/feed-store.js';
import { FEED_LIMIT, REACTIONS_LIMIT, applyEvent, initialState, type DeviceState, type FeedItem } from '../../device/state.js';
import { ManualClock } from '../fakes/manual-clock.js';

const log = pino({ level: 'silent' });

function text(n: number): FeedItem {
  return { kind: 'text', key: `seq:${n}`, fromDevice: 'dev-ana', fromName: 'Ana', at: n, mine: false, read: false, text: `hi ${n}` };
}

describe('FeedStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'leeloo-feed-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('batches writes: many changes within the delay are one write of the newest feed', async () => {
    const clock = new ManualClock();
    const store = new FeedStore(dir, clock, log, 2000);
    store.save([text(1)]);
    store.save([text(1), text(2)]);
    expect(clock.pending()).toEqual([2000]);
    await expect(readFile(path.join(dir, 'feed.json'), 'utf8')).rejects.toThrow();
    clock.advance(2000);
    await store.flush();
    expect(await new FeedStore(dir, clock, log).load()).toEqual([text(1), text(2)]);
    expect(clock.pending()).toEqual([]);
  });

  it('reads a damaged file as empty and drops items of the wrong shape', async () => {
    const clock = new ManualClock();
    await writeFile(path.join(dir, 'feed.json'), '[{"kind":"text"');
    expect(await new FeedStore(dir, clock, log).load()).toEqual([]);
    const items = [text(1), { kind: 'share', key: 'seq:2' }, 'junk', ...Array.from({ length: FEED_LIMIT + 5 }, (_, i) => text(i + 3))];
    await writeFile(path.join(dir, 'feed.json'), JSON.stringify(items));
    const loaded = await new FeedStore(dir, clock, log).load();
    expect(loaded).toHaveLength(FEED_LIMIT);
    expect(loaded.every((item) => item.kind === 'text')).toBe(true);
    expect(loaded.at(-1)).toEqual(text(FEED_LIMIT + 7));
  });
});

describe('state bounds', () => {
  it('keeps at most REACTIONS_LIMIT reactions on one share', () => {
    const base = { type: 'message' as const, from_device: 'dev-ana', from_name: 'Ana', timestamp: 1 };
    let state: DeviceState = { ...initialState('Kitchen', 'ws://x'), deviceId: 'dev-me' };
    state = applyEvent(state, {
      ...base,
      seq: 1,
      msg_type: 'song_push',
      payload: { artist: 'a', track: 't', album: 'b', spotify_uri: 'spotify:track:1t7MU8NxS3ty4vMRq2sV5B', album_art_url: '', note: '' },
    } as never);
    for (let i = 0; i < REACTIONS_LIMIT + 20; i++) {
      state = applyEvent(state, {
        ...base,
        seq: i + 2,
        from_device: `dev-${i}`,
        msg_type: 'reaction',
        payload: { reaction: 'fire', to_device: 'dev-ana' },
      } as never);
    }
    const share = state.feed[0];
    expect(share?.kind === 'share' && share.reactions.length).toBe(REACTIONS_LIMIT);
    expect(share?.kind === 'share' && share.reactions.at(-1)?.fromDevice).toBe(`dev-${REACTIONS_LIMIT + 19}`);
  });
});

describe('reaction replay', () => {
  it('counts a reaction replayed after reconnect (same client_msg_id) once, and does not animate it again', () => {
    const base = { type: 'message' as const, from_device: 'dev-ana', from_name: 'Ana', timestamp: 1 };
    let state: DeviceState = { ...initialState('Kitchen', 'ws://x'), deviceId: 'dev-me' };
    state = applyEvent(state, {
      ...base,
      seq: 1,
      msg_type: 'song_push',
      payload: { artist: 'a', track: 't', album: 'b', spotify_uri: 'spotify:track:1t7MU8NxS3ty4vMRq2sV5B', album_art_url: '', note: '' },
    } as never);
    const reaction = {
      ...base,
      seq: 2,
      from_device: 'dev-bo',
      from_name: 'Bo',
      client_msg_id: 'c-1',
      msg_type: 'reaction',
      payload: { reaction: 'love', to_device: 'dev-ana' },
    };
    state = applyEvent(state, reaction as never);
    const flash = state.flash;
    expect(flash).not.toBeNull();
    const replayed = applyEvent(state, reaction as never);
    expect(replayed).toBe(state);
  });
});
