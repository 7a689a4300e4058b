import { describe, expect, it } from 'vitest';
import { END_MARGIN_MS, IN_STEP_MS, judgeSync, OWNER_SEEK_MS, SETTLE_MS, type SyncInput } from '../../device/features/queue/play-along-sync.js';
import type { NowPlaying } from '../../device/screens/now-playing.js';
import type { NowPlayingView } from '../../protocol/queue.js';

/* Play along's rule for the owner's player against the crew clock, as a table. */

const CREW_URI = 'spotify:track:CREWCREWCREWCREWCREW01';
const crew = (paused = false): NowPlayingView =>
  ({
    item_id: 'q_AAAAAAAAAAAAAAAA',
    spotify_uri: CREW_URI,
    track: 'Crew song',
    artist: 'Band',
    started_at: 0,
    paused_at: paused ? 60_000 : null,
    clock_duration_ms: 240_000,
  }) as unknown as NowPlayingView;
const owner = (over: Partial<NowPlaying> = {}): NowPlaying => ({
  uri: CREW_URI,
  track: 'Crew song',
  artist: 'Band',
  album: '',
  artUrl: null,
  durationMs: 240_000,
  progressMs: 60_000,
  isPlaying: true,
  fetchedAt: 0,
  ...over,
});
const input = (over: Partial<SyncInput>): SyncInput => ({
  crew: crew(),
  crewPositionMs: 60_000,
  owner: owner(),
  ownerPositionMs: 60_000,
  sinceOwnCallMs: 60_000,
  ...over,
});

describe('judgeSync', () => {
  it.each<[string, Partial<SyncInput>, ReturnType<typeof judgeSync>]>([
    ['in step', {}, { kind: 'in_step' }],
    ['just inside the 2 s', { ownerPositionMs: 60_000 + IN_STEP_MS }, { kind: 'in_step' }],
    ['drifted behind', { ownerPositionMs: 57_500 }, { kind: 'seek', positionMs: 60_000, offByMs: -2_500 }],
    ['drifted ahead', { ownerPositionMs: 70_000 }, { kind: 'seek', positionMs: 60_000, offByMs: 10_000 }],
    ['moved far away: the owner seeked', { ownerPositionMs: 60_000 + OWNER_SEEK_MS + 1 }, { kind: 'taken_over', reason: 'seeked' }],
    ['moved far back', { ownerPositionMs: 5_000 }, { kind: 'taken_over', reason: 'seeked' }],
    ['another track', { owner: owner({ uri: 'spotify:track:OTHEROTHEROTHEROTHER01' }) }, { kind: 'taken_over', reason: 'other_track' }],
    ['paused by the owner', { owner: owner({ isPlaying: false }) }, { kind: 'taken_over', reason: 'paused' }],
    ['played while the crew is paused', { crew: crew(true) }, { kind: 'taken_over', reason: 'resumed' }],
    ['paused with the crew', { crew: crew(true), owner: owner({ isPlaying: false }) }, { kind: 'in_step' }],
    ['Spotify plays nothing', { owner: null }, { kind: 'wait' }],
    ['right after its own call', { owner: owner({ uri: 'spotify:track:OTHEROTHEROTHEROTHER01' }), sinceOwnCallMs: SETTLE_MS - 1 }, { kind: 'wait' }],
    ['the crew track ending', { crewPositionMs: 240_000 - END_MARGIN_MS, owner: owner({ uri: 'spotify:track:NEXTNEXTNEXTNEXTNEXT01' }) }, { kind: 'wait' }],
    ['the owner track ended', { owner: owner({ isPlaying: false }), ownerPositionMs: 239_000 }, { kind: 'wait' }],
  ])('%s', (_what, over, verdict) => {
    expect(judgeSync(input(over))).toEqual(verdict);
  });
});
