import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeFeatures } from '../../../cloud/compose.js';
import type { QueueSnapshot } from '../../../protocol/queue.js';
import { fakeTrack, startFakeSpotify, type FakeSpotify } from '../../fakes/fake-spotify.js';
import { launchChromium } from '../../helpers/chromium.js';
import { freeLoopbackPort } from '../../helpers/free-port.js';
import { signInOnPhone } from '../../helpers/phone-sign-in.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type TestClient } from '../../helpers/ws-client.js';

/*
 * "Search Spotify" and "Play on" on the crew page, in headless Chromium, on a relay composed as
 * cloud/main.ts composes it, against the fake Spotify: results with art, one tap to queue (the
 * gadgets get the queue_state), a member without a Spotify sign-in searching with the owner's,
 * and the member's own Connect devices with "Play here".
 */

const id = (n: number) => `SEARCH${String(n).padStart(16, '0')}`;

let spotify: FakeSpotify;
let relay: InProcessRelay;
let browser: Browser;
let owner: TestClient;
let mate: TestClient;
let ownerLink: string;
let mateLink: string;
let publicUrl: string;

async function gadget(name: string): Promise<TestClient> {
  const client = await relay.connect();
  await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  return client;
}

async function pageAt(link: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(link);
  return page;
}

beforeAll(async () => {
  spotify = await startFakeSpotify();
  spotify.registerApp('leeloo-relay-app');
  spotify.addUser({ id: 'olga', displayName: 'Olga' });
  for (const n of [1, 2, 3])
    spotify.addCatalogTrack(fakeTrack(id(n), { name: `Midnight City ${n}`, artists: ['M83'], album: 'Hurry Up', duration_ms: 240_000 + n }));
  spotify.addCatalogTrack(fakeTrack(id(9), { name: 'Something else', artists: ['Other'], album: 'Other' }));
  const port = await freeLoopbackPort();
  publicUrl = `http://127.0.0.1:${port}`;
  relay = await startInProcessRelay({
    env: {
      PORT: String(port),
      PUBLIC_URL: publicUrl,
      SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
      LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 4).toString('base64'),
      SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
      SPOTIFY_API_URL: spotify.apiUrl,
    },
    features: [composeFeatures],
  });
  owner = await gadget('Olga');
  const crew = await owner.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'));
  const session = await owner.request({ type: 'spotify_signin_start', client_msg_id: 'signin-1' }, isType('spotify_signin_session'));
  await signInOnPhone(String(session.url), publicUrl, relay.httpUrl);
  await owner.next(isType('spotify_auth_complete'));
  mate = await gadget('Ben');
  await mate.request({ type: 'join_crew', crew_code: crew.crew_code, display_name: 'Ben' }, isType('crew_joined'));
  ownerLink = String((await owner.request({ type: 'crew_link' }, isType('crew_link_issued'))).url);
  mateLink = String((await mate.request({ type: 'crew_link' }, isType('crew_link_issued'))).url);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await owner?.close();
  await mate?.close();
  await relay?.close();
  await spotify?.close();
});

describe('Search Spotify on the crew page', () => {
  it("shows results with art and queues one with a tap; the crew's gadgets get it", async () => {
    const page = await pageAt(ownerLink);
    await page.locator('#search-q').fill('midnight m83');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#search-results li[data-uri]').count()).toBe(3);
    expect(await page.locator('#search-results li').first().textContent()).toContain('Midnight City 1');
    expect(await page.locator('#search-results img.thumb').first().getAttribute('src')).toContain(spotify.origin);
    // (The fake's art is served over http on loopback, which the page's CSP, img-src https:, does not load; Spotify's is https.)

    // The page acts as Olga (whose own gadget is not echoed her change): Ben's gadget gets it.
    const added = mate.next((f) => f.type === 'queue_state' && (f.change as { kind: string }).kind === 'added');
    await page.getByRole('button', { name: 'Queue Midnight City 2' }).click();
    const queue = (await added).queue as QueueSnapshot;
    expect(queue.now_playing).toMatchObject({
      spotify_uri: `spotify:track:${id(2)}`,
      track: 'Midnight City 2',
      artist: 'M83',
      album: 'Hurry Up',
      duration_ms: 240_002,
    });
    await expect.poll(() => page.getByRole('button', { name: 'Queue Midnight City 2' }).textContent()).toBe('Queued ✓');
    await expect.poll(() => page.locator('#now').textContent()).toContain('Midnight City 2');
    await page.context().close();
  });

  it("searches with the crew owner's Spotify for a member without a sign-in, and says so", async () => {
    const page = await pageAt(mateLink);
    await page.locator('#search-q').fill('something');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#search-results li[data-uri]').count()).toBe(1);
    expect(await page.locator('#search-results').textContent()).toContain('Searched with your crew owner’s Spotify');
    await page.context().close();
  });

  it('answers a refusal from Spotify in the form, not with a broken page', async () => {
    const page = await pageAt(ownerLink);
    spotify.serverError('search', 1, 503);
    await page.locator('#search-q').fill('midnight');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#search-error').textContent()).toMatch(/Spotify/);
    expect(await page.locator('#search-results li').count()).toBe(0);
    const bad = await page.evaluate(() => fetch('/crew/api/spotify/search?q=%20&limit=50').then(async (r) => ({ status: r.status, body: await r.json() })));
    expect(bad).toMatchObject({ status: 400, body: { code: 'invalid_message' } });
    await page.context().close();
  });
});

describe('Play on (Spotify Connect) on the crew page', () => {
  it("lists the member's own devices and moves playback to one", async () => {
    spotify.setDevices('olga', [
      { id: 'olga-phone', name: 'Olga’s phone', type: 'Smartphone', is_active: true },
      { id: 'olga-desk', name: 'Desk speaker', type: 'Speaker' },
    ]);
    spotify.setCurrentlyPlaying('olga', { track: fakeTrack(id(1)), progress_ms: 0, is_playing: false });
    const page = await pageAt(ownerLink);
    await page.getByRole('button', { name: 'Show my devices' }).click();
    await expect.poll(() => page.locator('#devices li').count()).toBe(2);
    expect(await page.locator('#devices li[data-device="olga-phone"]').textContent()).toContain('playing here');
    await page.locator('#devices li[data-device="olga-desk"]').getByRole('button', { name: 'Play here' }).click();
    await expect.poll(() => page.locator('#devices li[data-device="olga-desk"]').textContent()).toContain('playing here');
    expect(spotify.playbackOf('olga')?.is_playing).toBe(true);

    // Ben has no Spotify sign-in: his devices are his own to list, so he is told to sign in.
    const benPage = await pageAt(mateLink);
    await benPage.getByRole('button', { name: 'Show my devices' }).click();
    await expect.poll(() => benPage.locator('#devices-error').textContent()).toMatch(/sign/i);
    await benPage.context().close();
    await page.context().close();
  });
});

describe('Vote to skip on the crew page', () => {
  it('lets a member vote (and take it back) on the playing track; the owner sees the votes', async () => {
    const page = await pageAt(mateLink);
    const button = page.locator('#skip-vote');
    await expect.poll(() => button.textContent()).toContain('Vote to skip');
    await button.click();
    // Olga and Ben are online: Ben's vote alone is not a majority, the track plays on.
    await expect.poll(() => button.getAttribute('aria-pressed')).toBe('true');
    expect(await button.textContent()).toContain('Voted to skip1');
    const ownerPage = await pageAt(ownerLink);
    await expect.poll(() => ownerPage.locator('#skip-votes').textContent()).toBe('1 vote to skip');
    expect(await ownerPage.locator('#skip-vote').count()).toBe(0);
    await button.click();
    await expect.poll(() => button.getAttribute('aria-pressed')).toBe('false');
    await expect.poll(() => ownerPage.locator('#skip-votes').count()).toBe(0);
    await ownerPage.context().close();
    await page.context().close();
  });
});

describe('The weekly crew mixtape on the crew page', () => {
  it("makes it in the member's own Spotify from the Recap card, once a week", async () => {
    await owner.request(
      {
        type: 'message',
        msg_type: 'song_push',
        client_msg_id: 'share-mix-1',
        payload: { spotify_uri: `spotify:track:${id(3)}`, track: 'Midnight City 3', artist: 'M83', album: 'Hurry Up', album_art_url: '', note: '' },
      },
      isType('ack'),
    );
    const page = await pageAt(ownerLink);
    await page.getByRole('button', { name: 'Make it in my Spotify' }).click();
    await expect.poll(() => page.locator('#mixtape-status').textContent()).toMatch(/^Made: LEELOO crew mixtape · week of .*, 1 tracks\./);
    const [playlist, ...more] = spotify.playlistsOf('olga');
    expect(more).toEqual([]);
    expect(playlist).toMatchObject({ public: false, uris: [`spotify:track:${id(3)}`] });
    expect(await page.locator('#mixtape-link').getAttribute('href')).toBe(`https://open.spotify.com/playlist/${playlist!.id}`);
    await page.getByRole('button', { name: 'Make it in my Spotify' }).click();
    await expect.poll(() => page.locator('#mixtape-status').textContent()).toMatch(/^Already made: /);
    expect(spotify.playlistsOf('olga')).toHaveLength(1);
    // Ben has no Spotify sign-in: he is told so.
    const benPage = await pageAt(mateLink);
    await benPage.getByRole('button', { name: 'Make it in my Spotify' }).click();
    await expect.poll(() => benPage.locator('#mixtape-status').textContent()).toMatch(/sign/i);
    await benPage.context().close();
    await page.context().close();
  });
});
