import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { HistoryQueries } from '../../../cloud/history/queries.js';
import { ImportJobs } from '../../../cloud/history/import-jobs.js';
import { memberHistoryRouter } from '../../../cloud/history/routes.js';
import { queueWithCrewPages } from '../../helpers/queue-features.js';
import { launchChromium } from '../../helpers/chromium.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { crewCookie } from '../../helpers/crew-link.js';
import { extendedRecord, writeZip } from '../../helpers/spotify-export-zips.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';
import { isType, type TestClient } from '../../helpers/ws-client.js';

/* The crew page in headless Chromium at a phone viewport, against a real relay. */

let relay: InProcessRelay;
let browser: Browser;
let phone: BrowserContext;
let page: Page;
let jobs: ImportJobs;
let zipDir: string;
const clients: TestClient[] = [];

const track = (i: number) => ({
  type: 'queue_add',
  spotify_uri: `spotify:track:${String(i).padStart(22, 'P')}`,
  track: `Song ${i}`,
  artist: 'Band',
  duration_ms: 240_000,
  client_msg_id: `a${i}`,
});

async function member(name: string, crewCode?: string): Promise<TestClient> {
  const client = await relay.connect();
  clients.push(client);
  await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  if (crewCode) await client.request({ type: 'join_crew', crew_code: crewCode, display_name: name }, isType('crew_joined'));
  return client;
}

const upNextTitles = () => page.locator('#queue li[data-item] .t').allTextContents();

beforeAll(async () => {
  zipDir = await makeTempDir('leeloo-zip-');
  relay = await startInProcessRelay({
    features: [
      queueWithCrewPages({
        memberApi: (context) => {
          jobs = new ImportJobs({ store: context.store.history, log: context.log, maxUploadBytes: 5_000_000, minPlayMs: 30_000 });
          void jobs.start();
          return memberHistoryRouter({ store: context.store, queries: new HistoryQueries(context.store), jobs, log: context.log });
        },
      }),
    ],
  });
  const owner = await member('Olga');
  const crewCode = String((await owner.request({ type: 'create_crew', display_name: 'Olga', crew_name: 'Night Owls' }, isType('crew_created'))).crew_code);
  const ann = await member('Ann', crewCode);
  const bob = await member('Bob', crewCode);
  await owner.request(track(1), isType('ack'));
  await ann.request(track(2), isType('ack'));
  await bob.request(track(3), isType('ack'));
  const issued = await owner.request({ type: 'crew_link' }, isType('crew_link_issued'));
  browser = await launchChromium();
  phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  page = await phone.newPage();
  await page.goto(relay.httpUrl + new URL(String(issued.url)).pathname);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const client of clients) client.ws.close();
  await jobs?.stop();
  await relay?.close();
  await removeTempDir(zipDir);
});

describe('crew page on a phone', () => {
  it('opens by the signed link, leaves it out of the address bar, and shows the queue', async () => {
    expect(new URL(page.url()).pathname).toBe('/crew');
    await expect.poll(upNextTitles).toEqual(['Song 2', 'Song 3']);
    await expect.poll(() => page.locator('#now-title').textContent()).toBe('Song 1');
    await expect.poll(() => page.locator('#live').textContent()).toBe('live');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
  });

  it('moves the clock', async () => {
    const first = await page.locator('#now-bar').evaluate((el) => (el as HTMLElement).style.width);
    await page.waitForFunction((w) => (document.getElementById('now-bar') as HTMLElement).style.width !== w, first, { timeout: 5000 });
  });

  it('reorders live when the owner votes', async () => {
    await page.locator('#queue li', { hasText: 'Song 3' }).locator('button.up').click();
    await expect.poll(upNextTitles).toEqual(['Song 3', 'Song 2']);
    await expect.poll(() => page.locator('#queue li', { hasText: 'Song 3' }).locator('button.up').getAttribute('class')).toContain('on');
  });

  it('shows what others add without a reload', async () => {
    await clients[1]!.request(track(4), isType('ack'));
    await expect.poll(upNextTitles).toEqual(['Song 3', 'Song 2', 'Song 4']);
  });

  it('adds a pasted Spotify link and explains a bad one', async () => {
    await page.fill('#add-link', 'not a link');
    await page.fill('#add-track', 'x');
    await page.fill('#add-artist', 'y');
    await page.click('#add button[type=submit]');
    await expect.poll(() => page.locator('#add-error').textContent()).toMatch(/Spotify track link/);
    await page.fill('#add-link', 'https://open.spotify.com/track/6rqhFgbbKwnb9MLmUQDhG6?si=1');
    await page.fill('#add-track', 'Speed of Light');
    await page.fill('#add-artist', 'Owls');
    await page.click('#add button[type=submit]');
    await expect.poll(upNextTitles).toContain('Speed of Light');
  });

  it('imports a Spotify export ZIP with progress and shows the stats', async () => {
    const records = Array.from({ length: 40 }, (_, i) =>
      extendedRecord({ ts: new Date(Date.now() - (i + 1) * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'), master_metadata_track_name: `Hit ${i % 4}` }),
    );
    const zip = await writeZip(zipDir, 'my_spotify_data.zip', [
      { name: 'Spotify Extended Streaming History/Streaming_History_Audio_2024.json', content: JSON.stringify(records) },
    ]);
    await page.setInputFiles('#import-file', zip);
    await page.click('#import button[type=submit]');
    await expect.poll(() => page.locator('#import-status').textContent(), { timeout: 15_000 }).toMatch(/^done: .*imported 40/);
    expect(await page.locator('#import-bar').evaluate((el) => (el as HTMLElement).style.width)).toBe('100%');
    await expect.poll(() => page.locator('#stats svg').count(), { timeout: 10_000 }).toBe(3);
    await expect.poll(() => page.locator('#stats').textContent()).toContain('Hit 0');
    await page.screenshot({ path: process.env.CREW_PAGE_SHOT ?? `${zipDir}/crew-page.png`, fullPage: true });
  });

  it('gives the owner a switch that shares the crew’s history with newcomers, kept in step with the gadget’s setting', async () => {
    const [owner, ann] = clients;
    const shareHistory = page.locator('#share-history');
    expect(await shareHistory.isChecked()).toBe(false);
    await shareHistory.check();
    const crewId = (await relay.store.crews.listCrews({ limit: 10 })).find((c) => c.crewName === 'Night Owls')!.crewId;
    await expect.poll(async () => (await relay.store.crews.getCrew(crewId))?.shareHistory).toBe(true);
    await owner!.request({ type: 'set_crew_settings', share_history: false, client_msg_id: 'from-gadget' }, isType('ack', { client_msg_id: 'from-gadget' }));
    await expect.poll(() => shareHistory.isChecked()).toBe(false);
    // A member's page has no such switch.
    const memberPage = await (await fetch(`${relay.httpUrl}/crew`, { headers: { cookie: await crewCookie(relay.httpUrl, ann!) } })).text();
    expect(memberPage).toContain('Night Owls');
    expect(memberPage).not.toContain('id="share-history"');
  });

  it('draws its icons as inline SVG, so a phone without an emoji font shows no empty boxes', async () => {
    const [, ann, bob] = clients;
    await ann!.request(
      {
        type: 'message',
        msg_type: 'song_push',
        client_msg_id: 'icon-share',
        payload: { spotify_uri: `spotify:track:${'I'.repeat(22)}`, track: 'Iconic', artist: 'Band', album: '', album_art_url: '', note: '' },
      },
      isType('ack'),
    );
    await bob!.request({ type: 'message', msg_type: 'reaction', client_msg_id: 'icon-love', payload: { reaction: 'love' } }, isType('ack'));
    await bob!.request({ type: 'airhorn', client_msg_id: 'icon-horn' }, isType('ack'));
    await expect.poll(() => page.locator('#recent li').count()).toBe(3);
    await page.locator('#horn').waitFor({ state: 'visible' });
    // Emoji and media-control symbols come from an emoji font; headless Chromium here has none.
    const pictographs = await page.evaluate(() => document.body.innerText.match(/\p{Extended_Pictographic}/gu) ?? []);
    expect(pictographs).toEqual([]);
    for (const selector of ['#airhorn', '#horn div', '#owner-controls [data-owner=skip]', '#pause', '#owner-controls [data-owner=clear]', '#recent li .line']) {
      expect(await page.locator(`${selector} svg.icon`).count(), selector).toBeGreaterThan(0);
    }
    const rows = await page.locator('#queue li[data-item]').count();
    expect(await page.locator('#queue li[data-item] .votes button svg.icon').count()).toBeGreaterThanOrEqual(rows * 3);
    const box = await page.locator('#airhorn svg.icon').boundingBox();
    expect(box!.width).toBeGreaterThan(20);
    await page.screenshot({ path: process.env.CREW_PAGE_ICONS_SHOT ?? `${zipDir}/crew-page-icons.png` });
  });

  it('shows a clear page for a bad link', async () => {
    const other = await phone.newPage();
    const res = await other.goto(`${relay.httpUrl}/c/v1.bm90LWEtcmVhbC1saW5r.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    expect(res!.status()).toBe(401);
    expect(await other.locator('#error-code').textContent()).toBe('link_invalid');
    expect(await other.locator('h1').textContent()).toBe('This link does not work');
    await other.close();
  });
});
