import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueWithCrewPages } from '../../helpers/queue-features.js';
import { spotifyFeatureFactory } from '../../../cloud/spotify/spotify-feature.js';
import { tokenFingerprint } from '../../../protocol/index.js';
import { startFakeSpotify, type FakeSpotify } from '../../fakes/fake-spotify.js';
import { launchChromium } from '../../helpers/chromium.js';
import { freeLoopbackPort } from '../../helpers/free-port.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type TestClient } from '../../helpers/ws-client.js';

/*
 * The crew owner's "Spotify app for this crew" in headless Chromium: the redirect URI to
 * copy, registering the crew's app, the check by a real sign-in round trip through the fake
 * Spotify, the members signed in with it against the five-user budget, and the allowlist.
 */

let spotify: FakeSpotify;
let relay: InProcessRelay;
let browser: Browser;
let phone: BrowserContext;
let page: Page;
let owner: TestClient;
let member: TestClient;
let publicUrl: string;
let memberLink: string;
let ownerDeviceId: string;

async function gadget(name: string): Promise<TestClient> {
  const client = await relay.connect();
  const welcome = await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  if (name === 'Olga') ownerDeviceId = String(welcome.device_id);
  return client;
}

beforeAll(async () => {
  spotify = await startFakeSpotify();
  spotify.registerApp('leeloo-relay-app');
  spotify.registerApp('crewownapp0123456789');
  // The crew's app is in development mode: only its owner's account is on the allowlist yet.
  spotify.setAllowlist('crewownapp0123456789', ['olga']);
  spotify.addUser({ id: 'olga', displayName: 'Olga S' });
  spotify.addUser({ id: 'ben', displayName: 'Ben' });
  const spot = spotifyFeatureFactory({ http: { backoffBaseMs: 1 } });
  const port = await freeLoopbackPort();
  publicUrl = `http://127.0.0.1:${port}`;
  relay = await startInProcessRelay({
    env: {
      PORT: String(port),
      PUBLIC_URL: publicUrl,
      SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
      LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 5).toString('base64'),
      SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
      SPOTIFY_API_URL: spotify.apiUrl,
    },
    features: [spot.factory, queueWithCrewPages({ spotifyApp: spot.crewApp })],
  });
  owner = await gadget('Olga');
  const crew = await owner.request({ type: 'create_crew', display_name: 'Olga', crew_name: 'Night Owls' }, isType('crew_created'));
  member = await gadget('Ben');
  await member.request({ type: 'join_crew', crew_code: crew.crew_code, display_name: 'Ben' }, isType('crew_joined'));
  memberLink = String((await member.request({ type: 'crew_link' }, isType('crew_link_issued'))).url);
  const ownerLink = String((await owner.request({ type: 'crew_link' }, isType('crew_link_issued'))).url);
  browser = await launchChromium();
  phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phone.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: publicUrl });
  page = await phone.newPage();
  // The gadget's menu QR opens the crew page at the section.
  await page.goto(`${ownerLink}#spotify-app`);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await owner?.close();
  await member?.close();
  await relay?.close();
  await spotify?.close();
});

const memberLines = () => page.locator('#sa-members li').allTextContents();

describe("the owner's Spotify app page", () => {
  it('gives the exact redirect URI with a copy button, and says which app the crew uses', async () => {
    expect(new URL(page.url()).pathname).toBe('/crew');
    await expect.poll(() => page.locator('#sa-redirect').inputValue()).toBe(`${publicUrl}/spotify/callback`);
    await expect.poll(() => page.locator('#sa-current').textContent()).toContain("the relay's app");
    await page.locator('#sa-copy').click();
    await expect.poll(() => page.locator('#sa-copy').textContent()).toBe('Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${publicUrl}/spotify/callback`);
    expect(await page.locator('#sa-allowlist').textContent()).toContain('e-mail address of their Spotify account');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });

  it('refuses a client id that is not one, then registers the crew app', async () => {
    await page.locator('#sa-client-id').fill('not an id!');
    await page.getByRole('button', { name: 'Use this app for the crew' }).click();
    await expect.poll(() => page.locator('#sa-error').textContent()).toContain('client id');
    await page.locator('#sa-client-id').fill('crewownapp0123456789');
    await page.getByRole('button', { name: 'Use this app for the crew' }).click();
    await expect.poll(() => page.locator('#sa-current').textContent()).toContain('crewownapp0123456789');
    expect(await relay.store.tokens.getCrewApp((await relay.store.crews.getMembership(ownerDeviceId))!.crewId)).toMatchObject({
      clientId: 'crewownapp0123456789',
    });
    expect(await page.locator('#sa-budget').textContent()).toBe("0 of 5 on the crew's app");
  });

  it('checks the app by a real sign-in round trip, then lists the owner against the budget', async () => {
    spotify.approveAs('olga');
    await page.getByRole('button', { name: 'Check it: sign in with it now' }).click();
    await page.waitForURL(/\/s\/[A-Z0-9]{8}$/);
    await page.getByRole('button', { name: 'Continue to Spotify' }).click();
    await page.waitForURL(/\/spotify\/callback\?/);
    expect(await page.getByRole('heading').innerText()).toBe('Spotify is connected');
    expect(spotify.lastAuthorize!.get('client_id')).toBe('crewownapp0123456789');
    expect(spotify.lastAuthorize!.get('redirect_uri')).toBe(`${publicUrl}/spotify/callback`);
    await owner.next(isType('spotify_auth_complete'));

    await page.goto(`${publicUrl}/crew#spotify-app`);
    await expect.poll(memberLines).toEqual(["Olga — Olga S via the crew's app", 'Ben — not signed in']);
    expect(await page.locator('#sa-budget').textContent()).toBe("1 of 5 on the crew's app");
  });

  it('sends a member outside the allowlist to the owner; once added, the member counts against the budget', async () => {
    const session = await member.request({ type: 'spotify_signin_start' }, isType('spotify_signin_session'));
    spotify.approveAs('ben');
    const benPhone = await phone.browser()!.newContext({ viewport: { width: 390, height: 844 } });
    const benPage = await benPhone.newPage();
    await benPage.goto(String(session.url));
    await benPage.getByRole('button', { name: 'Continue to Spotify' }).click();
    await benPage.waitForURL(/\/spotify\/callback\?/);
    expect(await benPage.getByRole('heading').innerText()).toBe('Ask your crew owner to add you');
    expect(await benPage.locator('body').innerText()).toContain("add your Spotify e-mail to the crew's Spotify app");
    await member.next(isType('error', { code: 'spotify_not_allowlisted' }));

    spotify.setAllowlist('crewownapp0123456789', ['olga', 'ben']);
    await benPage.goto(String(session.url));
    await benPage.getByRole('button', { name: 'Continue to Spotify' }).click();
    await benPage.waitForURL(/\/spotify\/callback\?/);
    expect(await benPage.getByRole('heading').innerText()).toBe('Spotify is connected');
    await benPhone.close();
    await page.reload();
    await expect.poll(memberLines).toEqual(["Olga — Olga S via the crew's app", "Ben — Ben via the crew's app"]);
    expect(await page.locator('#sa-budget').textContent()).toBe("2 of 5 on the crew's app");
  });

  it("is the owner's only: a member's page has no such section and its API answers not_owner", async () => {
    const open = await fetch(memberLink, { redirect: 'manual' });
    const cookie = open.headers.get('set-cookie')!.split(';')[0]!;
    const html = await (await fetch(`${publicUrl}/crew`, { headers: { cookie } })).text();
    expect(html).not.toContain('id="spotify-app"');
    for (const [method, path] of [
      ['GET', ''],
      ['PUT', ''],
      ['DELETE', ''],
      ['POST', '/check'],
    ] as const) {
      const res = await fetch(`${publicUrl}/crew/api/spotify-app${path}`, {
        method,
        headers: { cookie, 'content-type': 'application/json' },
        body: method === 'GET' ? undefined : '{"client_id":"benownapp0123456789"}',
      });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(((await res.json()) as { code: string }).code).toBe('not_owner');
    }
  });

  it('goes back to the relay app, and members are asked to sign in again', async () => {
    await page.getByRole('button', { name: "Go back to the relay's app" }).click();
    await expect.poll(() => page.locator('#sa-current').textContent()).toContain("the relay's app");
    // The next refresh of the owner's grant (made with the crew's app) finds the app gone.
    const token = await owner.request({ type: 'spotify_token_request' }, isType('spotify_token'));
    owner.send({ type: 'spotify_token_request', refused: tokenFingerprint(String(token.access_token)) });
    await owner.next(isType('spotify_signin_required', { reason: 'app_changed' }));
  });
});
