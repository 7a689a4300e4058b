import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crewPositionAt } from '../../device/crew-clock.js';
import { PlayAlong } from '../../device/features/queue/play-along.js';
import { TAKE_OVER_NOTICE } from '../../device/features/queue/play-along-sync.js';
import { NowPlayingPoller } from '../../device/features/spotify/now-playing-poller.js';
import type { NowPlaying } from '../../device/screens/now-playing.js';
import type { NowPlayingView } from '../../protocol/queue.js';
import { SpotifyHttp } from '../../spotify/spotify-http.js';
import { SpotifyWebApi } from '../../spotify/web-api.js';
import { fakeTrack, signInThroughFake, startFakeSpotify, type FakeSpotify } from '../fakes/fake-spotify.js';
import { ManualClock } from '../fakes/manual-clock.js';
import { waitUntil } from '../helpers/wait-until.js';

/*
 * Play along keeping the owner's Spotify with the crew clock, through the gadget's own
 * now-playing poller and Web API client, against the fake Spotify whose playback moves on the
 * same manual clock: drift is seeked back, the owner taking over is stepped out of with a
 * notice (never fought), one press rejoins, and a refused call is not a take-over.
 */

const id = (n: number) => `ALONG${String(n).padStart(17, '0')}`;
const uri = (n: number) => `spotify:track:${id(n)}`;

describe('play along in step with the crew clock', () => {
  let spotify: FakeSpotify;
  let dir: string;
  let clock: ManualClock;
  let along: PlayAlong;
  let poller: NowPlayingPoller;
  let answers: number;
  let crew: NowPlayingView;
  const notices: string[] = [];
  const serverNow = () => clock.now();

  /** The crew's now playing: track n, started `ago` ms before now on the (shared) clock. */
  const crewTrack = (n: number, ago: number): NowPlayingView =>
    ({
      item_id: `q_${String(n).padStart(16, 'A')}`,
      spotify_uri: uri(n),
      track: `Crew ${n}`,
      artist: 'Band',
      started_at: clock.now() - ago,
      paused_at: null,
      clock_duration_ms: 240_000,
    }) as unknown as NowPlayingView;

  /** Moves the clock by one playing-poll interval and waits for the poll's new answer. */
  async function pollAfter(ms: number): Promise<void> {
    const before = answers;
    clock.advance(ms);
    await waitUntil(() => answers > before, 'the next now-playing answer');
    await along.settled();
  }

  beforeEach(async () => {
    clock = new ManualClock();
    spotify = await startFakeSpotify();
    spotify.useClock(() => clock.now());
    spotify.registerApp('app-1');
    spotify.addUser({ id: 'anna' });
    for (const n of [1, 2, 3, 9]) spotify.addCatalogTrack(fakeTrack(id(n), { duration_ms: 240_000 }));
    const { access } = await signInThroughFake(spotify, 'anna');
    const web = new SpotifyWebApi({
      http: new SpotifyHttp({ maxAttempts: 1 }),
      apiUrl: () => spotify.apiUrl,
      tokens: { token: async () => access, refresh: async () => access },
      limiterKey: 'owner',
    });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leeloo-along-'));
    notices.length = 0;
    answers = 0;
    along = new PlayAlong({
      player: web,
      file: path.join(dir, 'play-along.json'),
      log: pino({ level: 'silent' }),
      onChange: () => undefined,
      notify: (text) => notices.push(text),
      now: () => clock.now(),
    });
    await along.load();
    poller = new NowPlayingPoller(web, clock, {
      onChange: (playing: NowPlaying | null) => {
        answers++;
        void along.observe(playing, crew, serverNow);
      },
      onError: () => undefined,
    });
    crew = crewTrack(1, 30_000);
    await along.setEnabled(true, crew, serverNow);
    await along.settled();
    poller.setPace('awake');
    await waitUntil(() => answers === 1, 'the first now-playing answer');
  });

  afterEach(async () => {
    poller.setPace('off');
    await spotify.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("joins at the crew's position and seeks back when the owner's player drifts more than 2 s", async () => {
    expect(spotify.playbackOf('anna')).toMatchObject({ track: { id: id(1) }, progress_ms: 30_000, is_playing: true });
    // Spotify's player falls 4 s behind (a stall while buffering).
    spotify.setCurrentlyPlaying('anna', {
      track: fakeTrack(id(1), { duration_ms: 240_000 }),
      progress_ms: crewPositionAt(crew, clock.now()) - 4_000,
      is_playing: true,
    });
    await pollAfter(5_000);
    expect(spotify.calls('seek', 'anna')).toBe(1);
    expect(Math.abs(spotify.playbackOf('anna')!.progress_ms - crewPositionAt(crew, clock.now()))).toBeLessThanOrEqual(0);
    // In step now: the next answers cause no call.
    await pollAfter(5_000);
    expect(spotify.calls('seek', 'anna')).toBe(1);
    expect(spotify.playRequestsOf('anna')).toHaveLength(1);
    expect(along.steppedOut).toBeNull();
  });

  it('steps out when the owner plays something else, follows nothing meanwhile, and rejoins with one press', async () => {
    clock.advance(6_000);
    spotify.setCurrentlyPlaying('anna', { track: fakeTrack(id(9)), progress_ms: 0, is_playing: true });
    await pollAfter(5_000);
    expect(along.steppedOut).toBe('other_track');
    expect(notices).toEqual([TAKE_OVER_NOTICE.other_track]);
    expect(along.status?.text).toBe('Play along stepped out: press to rejoin');

    // The crew moves on: the owner's own music is left alone.
    crew = crewTrack(2, 0);
    await along.follow(crew, serverNow);
    expect(spotify.playRequestsOf('anna')).toHaveLength(1);
    clock.advance(5_000);
    expect(spotify.playbackOf('anna')?.track.id).toBe(id(9));

    // One press: back on the crew's track, at the crew's position.
    clock.advance(12_000);
    along.rejoin(crew, serverNow);
    await along.settled();
    expect(along.steppedOut).toBeNull();
    expect(spotify.playRequestsOf('anna').at(-1)).toEqual({ uris: [uri(2)], position_ms: 17_000 });
    await pollAfter(6_000);
    expect(along.steppedOut).toBeNull();
  });

  it('steps out when the owner pauses or moves the track far away, not when its own call was refused', async () => {
    clock.advance(6_000);
    spotify.setCurrentlyPlaying('anna', { track: fakeTrack(id(1), { duration_ms: 240_000 }), progress_ms: 150_000, is_playing: true });
    await pollAfter(5_000);
    expect(along.steppedOut).toBe('seeked');

    along.rejoin(crew, serverNow);
    await along.settled();
    clock.advance(6_000);
    spotify.setCurrentlyPlaying('anna', {
      track: fakeTrack(id(1), { duration_ms: 240_000 }),
      progress_ms: crewPositionAt(crew, clock.now()),
      is_playing: false,
    });
    await pollAfter(5_000);
    expect(along.steppedOut).toBe('paused');
    expect(notices).toEqual([TAKE_OVER_NOTICE.seeked, TAKE_OVER_NOTICE.paused]);

    // No active player: the play is refused, the owner's player keeps showing the old track — that is no take-over.
    along.rejoin(crew, serverNow);
    await along.settled();
    spotify.setActiveDevice('anna', false);
    crew = crewTrack(3, 0);
    await along.follow(crew, serverNow);
    expect(along.status).toMatchObject({ tone: 'error', text: expect.stringMatching(/no active player/) });
    clock.advance(6_000);
    await pollAfter(15_000);
    expect(along.steppedOut).toBeNull();
    expect(notices).toHaveLength(2);
  });
});
