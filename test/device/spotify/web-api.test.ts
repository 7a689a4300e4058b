import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpotifyError, SpotifyHttp, type SpotifyHttpOptions } from '../../../spotify/spotify-http.js';
import { SpotifyWebApi } from '../../../spotify/web-api.js';
import { fakeTrack, signInThroughFake, startFakeSpotify, type FakeSpotify } from '../../fakes/fake-spotify.js';

let spotify: FakeSpotify;
const sleeps: number[] = [];

/** Signs a fake user in through the fake's own authorize + token endpoints; returns its tokens. */
const signIn = (userId: string) => signInThroughFake(spotify, userId);

function api(userId: string, access: string, options: SpotifyHttpOptions = {}, onRefresh?: () => Promise<string>) {
  const http = new SpotifyHttp({ sleep: async (ms) => void sleeps.push(ms), backoffBaseMs: 100, random: () => 1, ...options });
  return new SpotifyWebApi({
    http,
    apiUrl: () => spotify.apiUrl,
    limiterKey: userId,
    tokens: { token: async () => access, refresh: onRefresh ?? (async () => access) },
  });
}

beforeEach(async () => {
  sleeps.length = 0;
  spotify = await startFakeSpotify();
  spotify.registerApp('app-1');
  spotify.addUser({ id: 'anna' });
  spotify.addUser({ id: 'ben' });
});
afterEach(() => spotify.close());

describe('Spotify HTTP client and Web API', () => {
  it('reads currently-playing, then gets 304 with the ETag, and idle as 204', async () => {
    const { access } = await signIn('anna');
    spotify.setCurrentlyPlaying('anna', { track: fakeTrack('T1', { name: 'Song' }), progress_ms: 1000, is_playing: true });
    const web = api('anna', access);
    const first = await web.currentlyPlaying();
    expect(first.kind).toBe('playing');
    if (first.kind !== 'playing') return;
    expect(first.playing.item?.name).toBe('Song');
    expect(first.etag).toBeTruthy();
    expect((await web.currentlyPlaying(first.etag)).kind).toBe('unchanged');
    spotify.setCurrentlyPlaying('anna', null);
    expect((await web.currentlyPlaying(first.etag)).kind).toBe('idle');
  });

  it('waits out a short Retry-After and retries', async () => {
    const { access } = await signIn('anna');
    spotify.rateLimit('currently-playing', 2, { userId: 'anna' });
    const result = await api('anna', access).currentlyPlaying();
    expect(result.kind).toBe('idle');
    expect(spotify.calls('currently-playing')).toBe(2);
    expect(sleeps[0]).toBeGreaterThan(1900);
    expect(sleeps[0]).toBeLessThanOrEqual(2000);
  });

  it('fails fast on a long Retry-After, keeps the user blocked, and does not block another user', async () => {
    const anna = await signIn('anna');
    const ben = await signIn('ben');
    const http = new SpotifyHttp({ sleep: async (ms) => void sleeps.push(ms), maxRetryAfterWaitMs: 30_000 });
    const make = (userId: string, access: string) =>
      new SpotifyWebApi({ http, apiUrl: () => spotify.apiUrl, limiterKey: userId, tokens: { token: async () => access, refresh: async () => access } });
    spotify.rateLimit('currently-playing', 3600, { userId: 'anna' });
    const error = await make('anna', anna.access)
      .currentlyPlaying()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpotifyError);
    expect((error as SpotifyError).code).toBe('rate_limited');
    expect((error as SpotifyError).retryAfterMs).toBeGreaterThan(3_590_000);
    // Anna's next call does not even reach Spotify; Ben's goes through.
    await expect(make('anna', anna.access).currentlyPlaying()).rejects.toMatchObject({ code: 'rate_limited' });
    expect(spotify.calls('currently-playing', 'anna')).toBe(1);
    expect((await make('ben', ben.access).currentlyPlaying()).kind).toBe('idle');
    expect(sleeps).toEqual([]);
  });

  it('retries 5xx with growing backoff, bounded', async () => {
    const { access } = await signIn('anna');
    spotify.serverError('recently-played', 2, 502);
    const page = await api('anna', access).recentlyPlayed();
    expect(page.items).toEqual([]);
    expect(sleeps).toEqual([100, 200]);
    spotify.serverError('recently-played', 5, 503);
    await expect(api('anna', access).recentlyPlayed()).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    expect(spotify.calls('recently-played')).toBe(3 + 3);
  });

  it('does not keep the connections of retried answers open', async () => {
    const { access } = await signIn('anna');
    const web = api('anna', access, { maxAttempts: 5 });
    await web.me();
    // A proxy's error page, larger than what the HTTP client reads ahead.
    spotify.script('me', { status: 503, body: `<html>${'unavailable '.repeat(200_000)}</html>` }, { times: 4 });
    expect((await web.me()).id).toBe('anna');
    // The answer that was read keeps its keep-alive connection; the four unread ones are let go.
    const deadline = Date.now() + 5_000;
    while (spotify.openConnections > 2 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(spotify.openConnections).toBeLessThanOrEqual(2);
  });

  it('times out a hanging request and retries it', async () => {
    const { access } = await signIn('anna');
    spotify.delay('me', 1500);
    const me = await api('anna', access, { timeoutMs: 200 }).me();
    expect(me.id).toBe('anna');
    expect(sleeps).toHaveLength(1);
  });

  it('refreshes once after a 401 and retries with the new token', async () => {
    const old = await signIn('anna');
    const fresh = await signIn('anna');
    spotify.expireAccessTokens('anna');
    await expect(api('anna', old.access).me()).rejects.toMatchObject({ code: 'unauthorized' });
    const newer = await signIn('anna');
    let refreshes = 0;
    const me = await api('anna', fresh.access, {}, async () => {
      refreshes += 1;
      return newer.access;
    }).me();
    expect(me.id).toBe('anna');
    expect(refreshes).toBe(1);
  });

  it('maps player refusals to NO_ACTIVE_DEVICE and PREMIUM_REQUIRED with sentences', async () => {
    const { access } = await signIn('anna');
    const web = api('anna', access);
    await web.addToQueue('spotify:track:abc123');
    expect(spotify.queueOf('anna')).toEqual(['spotify:track:abc123']);
    spotify.setActiveDevice('anna', false);
    const noDevice = await web.play(['spotify:track:abc123']).catch((e: unknown) => e as SpotifyError);
    expect(noDevice).toMatchObject({ code: 'no_active_device', status: 404 });
    expect((noDevice as SpotifyError).message).toMatch(/open Spotify/);
    spotify.setPremium('anna', false);
    await expect(web.addToQueue('spotify:track:abc123')).rejects.toMatchObject({ code: 'premium_required', status: 403 });
  });

  it('refuses a malformed Spotify answer with bad_response', async () => {
    const { access } = await signIn('anna');
    spotify.script('currently-playing', { status: 200, body: { is_playing: 'yes' } });
    await expect(api('anna', access).currentlyPlaying()).rejects.toMatchObject({ code: 'bad_response' });
    spotify.script('me', { status: 200, body: 'not json' });
    await expect(api('anna', access).me()).rejects.toMatchObject({ code: 'bad_response' });
  });

  it('pages recently-played with before and after cursors', async () => {
    const { access } = await signIn('anna');
    const base = Date.parse('2026-03-01T10:00:00Z');
    spotify.setRecentlyPlayed(
      'anna',
      Array.from({ length: 5 }, (_, i) => ({ track: fakeTrack(`R${i}`), played_at: new Date(base + i * 60_000).toISOString() })),
    );
    const web = api('anna', access);
    const newest = await web.recentlyPlayed({ limit: 2 });
    expect(newest.items.map((i) => i.track.id)).toEqual(['R4', 'R3']);
    expect(newest.next).toContain('before=');
    const older = await web.recentlyPlayed({ limit: 2, before: Number(newest.cursors!.before) });
    expect(older.items.map((i) => i.track.id)).toEqual(['R2', 'R1']);
    const after = await web.recentlyPlayed({ limit: 2, after: base });
    expect(after.items.map((i) => i.track.id)).toEqual(['R2', 'R1']);
    expect(after.next).toContain(`after=${after.cursors!.after}`);
  });
});
