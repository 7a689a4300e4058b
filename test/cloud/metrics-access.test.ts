import { afterEach, describe, expect, it } from 'vitest';
import { type ConfigError, loadConfig } from '../../cloud/config.js';
import { createRelayMetrics } from '../../cloud/metrics.js';
import { SpotifyHttp, type SpotifyCallOutcome } from '../../spotify/spotify-http.js';
import { SpotifyWebApi } from '../../spotify/web-api.js';
import { signInThroughFake, startFakeSpotify, type FakeSpotify } from '../fakes/fake-spotify.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';

/* /metrics answers a bearer METRICS_TOKEN or an address in METRICS_ALLOW; X-Forwarded-For only counts behind TRUST_PROXY. */

const TOKEN = 'metrics-token-0123456789abcdef';
let relay: InProcessRelay | undefined;
let spotify: FakeSpotify | undefined;

afterEach(async () => {
  await relay?.close();
  relay = undefined;
  await spotify?.close();
  spotify = undefined;
});

const scrape = (headers: Record<string, string> = {}) => fetch(`${relay!.httpUrl}/metrics`, { headers });

describe('/metrics access', () => {
  it('answers loopback by default, with the Prometheus content type and no caching', async () => {
    relay = await startInProcessRelay();
    const answer = await scrape();
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(await answer.text()).toMatch(/^leeloo_build_info\{version="0\.1\.0",node="[\d.]+"\} 1$/m);
  });

  it('outside METRICS_ALLOW: 401 without the token or with a wrong one, 200 with it', async () => {
    relay = await startInProcessRelay({ env: { METRICS_ALLOW: '10.0.0.0/8', METRICS_TOKEN: TOKEN } });
    const refused = await scrape();
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="leeloo-metrics"');
    expect(await refused.json()).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('METRICS_ALLOW') });
    expect((await scrape({ authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await scrape({ authorization: `Bearer ${TOKEN.slice(0, -1)}` })).status).toBe(401);
    const allowed = await scrape({ authorization: `Bearer ${TOKEN}` });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain('# TYPE leeloo_connections gauge');
  });

  it('an empty METRICS_ALLOW and no token closes /metrics to everyone', async () => {
    relay = await startInProcessRelay({ env: { METRICS_ALLOW: '' } });
    expect((await scrape()).status).toBe(401);
  });

  it('takes the address from X-Forwarded-For only when TRUST_PROXY trusts the proxy', async () => {
    relay = await startInProcessRelay({ env: { METRICS_ALLOW: '203.0.113.7' } });
    expect((await scrape({ 'x-forwarded-for': '203.0.113.7' })).status).toBe(401);
    await relay.close();
    relay = await startInProcessRelay({ env: { METRICS_ALLOW: '203.0.113.7', TRUST_PROXY: 'loopback' } });
    expect((await scrape({ 'x-forwarded-for': '203.0.113.7' })).status).toBe(200);
    expect((await scrape({ 'x-forwarded-for': '203.0.113.8' })).status).toBe(401);
    // Behind a trusted proxy the proxy's own address is not the client's.
    expect((await scrape({ 'x-forwarded-for': '198.51.100.1, 203.0.113.7' })).status).toBe(200);
  });

  it('refuses bad METRICS_ALLOW entries and short tokens with a sentence', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ METRICS_ALLOW: 'loopback,10.0.0.0/33' })).toEqual([expect.stringMatching(/^METRICS_ALLOW must be a comma-separated list/)]);
    expect(problems({ METRICS_ALLOW: 'example.org' })).toHaveLength(1);
    expect(problems({ METRICS_TOKEN: 'short' })).toEqual(['METRICS_TOKEN must be at least 24 characters (e.g. openssl rand -hex 24)']);
    expect(loadConfig({ METRICS_ALLOW: ' loopback , 10.0.0.0/8,::1 ' }).metrics).toEqual({ token: undefined, allow: ['loopback', '10.0.0.0/8', '::1'] });
  });
});

describe('Spotify outcomes on /metrics', () => {
  it('counts answers, 429s and development-mode quota refusals from the fake Spotify', async () => {
    spotify = await startFakeSpotify();
    spotify.registerApp('app-1');
    spotify.addUser({ id: 'anna' });
    const { access } = await signInThroughFake(spotify, 'anna');
    const metrics = createRelayMetrics({ connections: () => 0, devicesOnline: () => 0 });
    const outcomes: SpotifyCallOutcome[] = [];
    const http = new SpotifyHttp({
      sleep: async () => undefined,
      onOutcome: (outcome) => {
        outcomes.push(outcome);
        metrics.features.spotifyCall(outcome);
      },
    });
    const web = new SpotifyWebApi({
      http,
      apiUrl: () => spotify!.apiUrl,
      limiterKey: 'anna',
      tokens: { token: async () => access, refresh: async () => access },
    });
    spotify.rateLimit('currently-playing', 1, { userId: 'anna' });
    await web.currentlyPlaying();
    spotify.script('currently-playing', {
      status: 403,
      body: { error: { status: 403, message: 'Check settings on developer.spotify.com/dashboard, the user may not be registered.' } },
    });
    await expect(web.currentlyPlaying()).rejects.toMatchObject({ code: 'not_allowlisted' });
    expect(outcomes).toEqual(['rate_limited', 'ok', 'quota_exceeded']);
    const text = await metrics.registry.metrics();
    expect(text).toContain('leeloo_spotify_calls_total{outcome="rate_limited"} 1');
    expect(text).toContain('leeloo_spotify_calls_total{outcome="ok"} 1');
    expect(text).toContain('leeloo_spotify_calls_total{outcome="quota_exceeded"} 1');
  });
});
