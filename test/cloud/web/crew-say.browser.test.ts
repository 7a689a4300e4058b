import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeFeatures } from '../../../cloud/compose.js';
import { launchChromium } from '../../helpers/chromium.js';
import { freeLoopbackPort } from '../../helpers/free-port.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type Frame, type TestClient } from '../../helpers/ws-client.js';

/*
 * A phone is a full crew member: from the crew page (headless Chromium, a relay composed as
 * cloud/main.ts composes it) a member sends a text, a nudge and a hang proposal, reacts to a
 * share and says "I'm in" to a hang — and a gadget on a socket receives exactly the crew
 * messages a gadget would have sent, stored and sequenced.
 */

let relay: InProcessRelay;
let browser: Browser;
let olga: TestClient;
let ben: TestClient;
let olgaId: string;
let benId: string;
let benLink: string;
let page: Page;

const crewMessage = (msgType: string) => (f: Frame) => f.type === 'message' && f.msg_type === msgType;

beforeAll(async () => {
  const port = await freeLoopbackPort();
  relay = await startInProcessRelay({ env: { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` }, features: [composeFeatures] });
  olga = await relay.connect();
  olgaId = String((await olga.request({ type: 'hello', protocol_version: 3, device_name: 'Olga' }, isType('welcome'))).device_id);
  const crew = await olga.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'));
  ben = await relay.connect();
  benId = String((await ben.request({ type: 'hello', protocol_version: 3, device_name: 'Ben' }, isType('welcome'))).device_id);
  await ben.request({ type: 'join_crew', crew_code: crew.crew_code, display_name: 'Ben' }, isType('crew_joined'));
  benLink = String((await ben.request({ type: 'crew_link' }, isType('crew_link_issued'))).url);
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  page = await context.newPage();
  await page.goto(benLink);
  // The live stream is open before anything is sent: the page shows what the crew says from here on.
  await page.locator('#live', { hasText: /^live$/ }).waitFor();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await olga?.close();
  await ben?.close();
  await relay?.close();
});

describe('the phone as a crew member', () => {
  it('sends a text, a nudge and a hang proposal that the gadgets receive as crew messages', async () => {
    const text = olga.next(crewMessage('text'));
    await page.locator('#say-body').fill('On my way 🚲\nsecond line');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    expect(await text).toMatchObject({ from_device: benId, from_name: 'Ben', payload: { text: 'On my way 🚲\nsecond line' }, seq: expect.any(Number) });
    await expect.poll(() => page.locator('#say-body').inputValue()).toBe('');

    const nudge = olga.next(crewMessage('nudge'));
    await page.getByRole('button', { name: 'Nudge the crew' }).click();
    expect(await nudge).toMatchObject({ from_device: benId, payload: {} });

    const hang = olga.next(crewMessage('hang_propose'));
    await page.locator('#hang-when').fill('friday 7pm');
    await page.locator('#hang-what').fill('pizza');
    await page.getByRole('button', { name: 'Propose a hang' }).click();
    expect(await hang).toMatchObject({ from_device: benId, payload: { datetime: 'friday 7pm', description: 'pizza' } });
    // The page shows what it sent, from the crew's live stream.
    await expect.poll(() => page.locator('#recent').textContent()).toContain('Ben proposes to hang: friday 7pm — pizza');
    await expect.poll(() => page.locator('#recent').textContent()).toContain('Ben nudged the crew');
  });

  it("reacts to a crew mate's share and says I'm in to their hang", async () => {
    await olga.request(
      {
        type: 'message',
        msg_type: 'song_push',
        client_msg_id: 'share-1',
        payload: { spotify_uri: 'spotify:track:SAYSAYSAYSAYSAYSAYSAY1', track: 'Roads', artist: 'Portishead', album: '', album_art_url: '', note: '' },
      },
      isType('ack'),
    );
    const love = page.locator('#recent li', { hasText: 'Olga shared “Roads”' }).getByRole('button', { name: 'Love it' });
    await expect.poll(() => love.count()).toBe(1);
    const reaction = olga.next(crewMessage('reaction'));
    await love.click();
    expect(await reaction).toMatchObject({ from_device: benId, payload: { reaction: 'love', to_device: olgaId } });

    await olga.request(
      { type: 'message', msg_type: 'hang_propose', client_msg_id: 'hang-1', payload: { datetime: 'saturday', description: '' } },
      isType('ack'),
    );
    const imIn = page.locator('#recent li', { hasText: 'Olga proposes to hang: saturday' }).getByRole('button', { name: 'I’m in' });
    await expect.poll(() => imIn.count()).toBe(1);
    const confirm = olga.next(crewMessage('hang_confirm'));
    await imIn.click();
    expect(await confirm).toMatchObject({ from_device: benId, payload: { to_device: olgaId } });
    // Its own lines carry no buttons: nobody reacts to their own share.
    expect(await page.locator('#recent li', { hasText: 'Ben proposes to hang' }).getByRole('button').count()).toBe(0);
  });

  it('stores a message once by its client id and refuses bad ones with a sentence', async () => {
    const post = (body: unknown) =>
      page.evaluate(
        (b) =>
          fetch('/crew/api/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) }).then(async (r) => ({
            status: r.status,
            body: await r.json(),
          })),
        body,
      );
    const first = await post({ msg_type: 'text', payload: { text: 'once' }, client_msg_id: 'page-once-1' });
    const again = await post({ msg_type: 'text', payload: { text: 'once' }, client_msg_id: 'page-once-1' });
    expect(first).toMatchObject({ status: 200, body: { duplicate: false } });
    expect(again).toMatchObject({ status: 200, body: { seq: first.body.seq, duplicate: true } });
    expect(await post({ msg_type: 'shout', payload: {} })).toMatchObject({ status: 400, body: { code: 'invalid_message' } });
    expect(await post({ msg_type: 'text', payload: { text: '   ' } })).toMatchObject({ status: 400, body: { code: 'invalid_message' } });
    expect(await post({ msg_type: 'reaction', payload: { reaction: 'love', to_device: 'dev-nobody-here' } })).toMatchObject({
      status: 404,
      body: { code: 'not_found' },
    });
    const crewId = (await relay.store.crews.getMembership(benId))!.crewId;
    const onces = (await relay.store.log.readEvents(crewId, 0)).filter(
      (e) => e.event.type === 'message' && e.event.msg_type === 'text' && e.event.payload.text === 'once',
    );
    expect(onces).toHaveLength(1);
  });
});
