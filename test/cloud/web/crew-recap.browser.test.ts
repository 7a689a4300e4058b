import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeFeatures } from '../../../cloud/compose.js';
import { playInput } from '../../../cloud/store/areas/history.js';
import { launchChromium } from '../../helpers/chromium.js';
import { freeLoopbackPort } from '../../helpers/free-port.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type TestClient } from '../../helpers/ws-client.js';

/* The crew page's Recap card in headless Chromium: this month's figures and the picture to share. */

let relay: InProcessRelay;
let browser: Browser;
let olga: TestClient;
let link: string;

beforeAll(async () => {
  const port = await freeLoopbackPort();
  relay = await startInProcessRelay({ env: { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` }, features: [composeFeatures] });
  olga = await relay.connect();
  const olgaId = String((await olga.request({ type: 'hello', protocol_version: 3, device_name: 'Olga' }, isType('welcome'))).device_id);
  await olga.request({ type: 'create_crew', display_name: 'Olga', crew_name: 'Night Owls' }, isType('crew_created'));
  // In this month (UTC) whatever the day: from its first minutes on.
  const monthStart = Date.parse(`${new Date().toISOString().slice(0, 7)}-01T00:00:00Z`);
  await relay.store.history.addPlays(
    [0, 1, 2, 3].map((i) =>
      playInput({
        memberId: olgaId,
        source: 'import_extended',
        endMs: monthStart + (i + 1) * 300_000,
        track: 'Teardrop',
        artist: 'Massive Attack',
        msPlayed: 240_000,
      }),
    ),
  );
  link = String((await olga.request({ type: 'crew_link' }, isType('crew_link_issued'))).url);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await olga?.close();
  await relay?.close();
});

describe('the Recap card', () => {
  it("shows this month's figures and the picture, which loads and can be downloaded", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, timezoneId: 'UTC' });
    const page = await context.newPage();
    await page.goto(link);
    await expect.poll(() => page.locator('#recap-body').textContent()).toContain('Teardrop · Massive Attack (4)');
    expect(await page.locator('#recap-body').textContent()).toContain('4 plays');
    expect(await page.locator('#recap-body').textContent()).toContain('Olga: 4 plays, 0 shares, mostly Massive Attack');
    await expect.poll(() => page.locator('#recap-image').evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(1080);
    const download = page.waitForEvent('download');
    await page.locator('#recap-download').click();
    expect((await download).suggestedFilename()).toBe(`leeloo-recap-${new Date().toISOString().slice(0, 7)}.png`);
    // Last year: nothing played, the card says so instead of failing.
    await page.locator('#recap-period').selectOption({ index: 3 });
    await expect.poll(() => page.locator('#recap-body').textContent()).toContain('0 plays');
    await context.close();
  });
});
