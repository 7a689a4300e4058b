import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failurePage } from '../../../cloud/spotify/signin-pages.js';
import { spotifyFeatureFactory } from '../../../cloud/spotify/spotify-feature.js';
import { startFakeSpotify, type FakeSpotify } from '../../fakes/fake-spotify.js';
import { launchChromium } from '../../helpers/chromium.js';
import { freeLoopbackPort } from '../../helpers/free-port.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type TestClient } from '../../helpers/ws-client.js';

// The phone reaches the relay at its loopback address, as Spotify allows for http redirect URIs.
let PUBLIC_URL: string;

let spotify: FakeSpotify;
let relay: InProcessRelay;
let browser: Browser;
let gadget: TestClient;
let clock = Date.now();

beforeAll(async () => {
  spotify = await startFakeSpotify();
  spotify.registerApp('leeloo-relay-app');
  spotify.addUser({ id: 'anna', displayName: 'Anna K' });
  const spot = spotifyFeatureFactory({ now: () => clock, http: { backoffBaseMs: 1 } });
  const port = await freeLoopbackPort();
  PUBLIC_URL = `http://127.0.0.1:${port}`;
  relay = await startInProcessRelay({
    env: {
      PORT: String(port),
      PUBLIC_URL,
      SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
      LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
      SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
      SPOTIFY_API_URL: spotify.apiUrl,
    },
    features: [spot.factory],
  });
  browser = await launchChromium();
  gadget = await relay.connect();
  await gadget.request({ type: 'hello', protocol_version: 3, device_name: 'Kitchen Pi' }, isType('welcome'));
  await gadget.request({ type: 'create_crew', display_name: 'Kitchen Pi', crew_name: 'Night owls' }, isType('crew_created'));
});

afterAll(async () => {
  await browser?.close();
  await gadget?.close();
  await relay?.close();
  await spotify?.close();
});

async function phone(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  return context.newPage();
}

async function expectFits(page: Page): Promise<void> {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
}

async function newLink(): Promise<string> {
  const session = await gadget.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
  return String(session.url);
}

describe('phone pages in headless Chromium at 390×844', () => {
  it('landing → Continue → Spotify → success, all in the browser', async () => {
    const page = await phone();
    await page.goto(await newLink());
    await expect(page.getByRole('heading').innerText()).resolves.toContain('Connect Spotify');
    expect(await page.locator('.who').innerText()).toContain('Kitchen Pi');
    expect(await page.locator('.who').innerText()).toContain('Night owls');
    await expectFits(page);
    await page.getByRole('button', { name: 'Continue to Spotify' }).click();
    await page.waitForURL(/\/spotify\/callback\?/);
    expect(await page.getByRole('heading').innerText()).toBe('Spotify is connected');
    expect(await page.locator('body').innerText()).toContain('Anna K');
    await expectFits(page);
    await gadget.next(isType('spotify_auth_complete'));

    // Back button / reload of the callback: already used.
    await page.reload();
    expect(await page.getByRole('heading').innerText()).toBe('This sign-in link was already used');
    await expectFits(page);
  });

  it('denied at Spotify', async () => {
    const page = await phone();
    await page.goto(await newLink());
    spotify.denyNext();
    await page.getByRole('button', { name: 'Continue to Spotify' }).click();
    await page.waitForURL(/\/spotify\/callback\?/);
    expect(await page.getByRole('heading').innerText()).toBe('Spotify was not connected');
    await expectFits(page);
  });

  it('Spotify down, with a working "Try again"', async () => {
    const page = await phone();
    await page.goto(await newLink());
    spotify.serverError('token', 3);
    await page.getByRole('button', { name: 'Continue to Spotify' }).click();
    await page.waitForURL(/\/spotify\/callback\?/);
    expect(await page.getByRole('heading').innerText()).toBe('Spotify is not answering');
    await expectFits(page);
    await page.getByRole('link', { name: 'Try again' }).click();
    expect(await page.getByRole('heading').innerText()).toContain('Connect Spotify');
  });

  it('expired, invalid and wrong-crew links, and the code entry page', async () => {
    const page = await phone();
    const link = await newLink();
    clock += 11 * 60_000;
    await page.goto(link);
    expect(await page.getByRole('heading').innerText()).toBe('This sign-in link has expired');
    await expectFits(page);
    clock -= 11 * 60_000;

    await page.goto(`${PUBLIC_URL}/s/WXYZ2345`);
    expect(await page.getByRole('heading').innerText()).toBe('This sign-in link is not valid');
    await expectFits(page);

    const moved = await newLink();
    await gadget.request({ type: 'leave_crew', client_msg_id: 'leave-1' }, isType('ack'));
    await page.goto(moved);
    expect(await page.getByRole('heading').innerText()).toBe('This link is for another crew');
    await expectFits(page);

    await page.goto(`${PUBLIC_URL}/s`);
    await page.getByRole('textbox').fill('wxyz 2345');
    await page.getByRole('button', { name: 'Continue' }).click();
    expect(await page.getByRole('heading').innerText()).toBe('This sign-in link is not valid');
    await page.goto(`${PUBLIC_URL}/s?code=nope`);
    expect(await page.locator('body').innerText()).toContain('is not a sign-in code');
    await expectFits(page);
  });

  it('not configured (the page a relay without Spotify serves)', async () => {
    const page = await phone();
    await page.setContent(failurePage('not_configured').html);
    expect(await page.getByRole('heading').innerText()).toBe('Spotify sign-in is not set up here');
    await expectFits(page);
  });
});
