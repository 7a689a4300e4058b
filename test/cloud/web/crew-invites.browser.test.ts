import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeFeatures } from '../../../cloud/compose.js';
import { launchChromium } from '../../helpers/chromium.js';
import { freeLoopbackPort } from '../../helpers/free-port.js';
import { startInProcessRelay, type InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType, type Frame, type TestClient } from '../../helpers/ws-client.js';

/*
 * An owner invites a person who has no gadget: on the owner's crew page (headless Chromium,
 * the relay composed as cloud/main.ts composes it) "Invite someone without a gadget" gives a
 * link; in another browser the person opens it, types a name and lands on the crew page as a
 * phone member — the crew's gadgets hear member_joined and then the texts the newcomer sends.
 * The invite works once, a tampered one is refused, only the owner invites, and the owner
 * removes the phone member (member_left for the gadgets, the member's page stops working).
 */

let relay: InProcessRelay;
let browser: Browser;
let olga: TestClient;
let ben: TestClient;
let crewId: string;
let ownerPage: Page;
let benPage: Page;
let inviteUrl: string;
let guest: BrowserContext;
let guestPage: Page;
let guestId: string;

const mobile = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

async function pageFor(client: TestClient): Promise<Page> {
  const link = String((await client.request({ type: 'crew_link' }, isType('crew_link_issued'))).url);
  const page = await (await browser.newContext(mobile)).newPage();
  await page.goto(link);
  await page.locator('#live', { hasText: /^live$/ }).waitFor();
  return page;
}

beforeAll(async () => {
  const port = await freeLoopbackPort();
  relay = await startInProcessRelay({
    env: { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, LEELOO_INVITES_PER_HOUR: '2' },
    features: [composeFeatures],
  });
  olga = await relay.connect();
  const olgaId = String((await olga.request({ type: 'hello', protocol_version: 3, device_name: 'Olga' }, isType('welcome'))).device_id);
  const crew = await olga.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'));
  crewId = (await relay.store.crews.getMembership(olgaId))!.crewId;
  ben = await relay.connect();
  await ben.request({ type: 'hello', protocol_version: 3, device_name: 'Ben' }, isType('welcome'));
  await ben.request({ type: 'join_crew', crew_code: crew.crew_code, display_name: 'Ben' }, isType('crew_joined'));
  browser = await launchChromium();
  ownerPage = await pageFor(olga);
  benPage = await pageFor(ben);
  guest = await browser.newContext(mobile);
  guestPage = await guest.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await olga?.close();
  await ben?.close();
  await relay?.close();
});

const apiFrom = (page: Page, method: string, path: string) =>
  page.evaluate(
    ([m, p]) =>
      fetch(`/crew/api${p}`, { method: m, headers: { 'content-type': 'application/json' }, body: m === 'GET' ? undefined : '{}' }).then(async (r) => ({
        status: r.status,
        body: await r.json(),
      })),
    [method, path] as const,
  );

describe('inviting someone without a gadget', () => {
  it('the owner makes an invite link; the person gives a name and is a crew member on the crew page', async () => {
    await ownerPage.getByRole('button', { name: 'Invite someone without a gadget' }).click();
    const url = ownerPage.locator('#invite-url');
    await expect.poll(() => url.inputValue()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/i\/i1\./);
    inviteUrl = await url.inputValue();

    await guestPage.goto(inviteUrl);
    // A name of blanks is refused on the form, which stays usable.
    await guestPage.getByLabel('Your name in the crew').fill('   ');
    const blank = guestPage.waitForResponse((r) => r.request().method() === 'POST');
    await guestPage.getByRole('button', { name: 'Join the crew' }).click();
    expect((await blank).status()).toBe(400);
    await expect.poll(() => guestPage.locator('#invite-error').textContent()).toBe('Your name must not be empty.');
    expect((await relay.store.crews.listMembers(crewId)).map((m) => m.displayName)).toEqual(['Olga', 'Ben']);
    await guestPage.getByLabel('Your name in the crew').fill('Mia');
    const joined = ben.next((f: Frame) => f.type === 'member_joined');
    await guestPage.getByRole('button', { name: 'Join the crew' }).click();
    const event = await joined;
    expect(event).toMatchObject({ display_name: 'Mia', device_id: expect.stringMatching(/^phone:/), seq: expect.any(Number) });
    guestId = String(event.device_id);
    expect(new URL(guestPage.url()).pathname).toBe('/crew');
    await guestPage.locator('#live', { hasText: /^live$/ }).waitFor();
    await expect.poll(() => guestPage.locator('.who').textContent()).toContain('you are Mia');

    const membership = await relay.store.crews.getMembership(guestId);
    expect(membership).toMatchObject({ crewId, displayName: 'Mia', isOwner: false });
    // Joined as any member joins: from the crew's seq before its member_joined (the newcomer rule).
    expect(membership!.joinedSeq).toBe(Number(event.seq) - 1);
    // No socket can speak as a phone member: its device holds a secret nobody was given.
    expect((await relay.store.crews.getDevice(guestId))!.secretHash).toMatch(/^[0-9a-f]{64}$/);

    // The owner's member list marks the newcomer as a phone member.
    await expect.poll(() => ownerPage.locator(`#members-list li[data-member="${guestId}"]`).textContent()).toContain('Mia · phone');
  });

  it('the phone member writes to the crew and the gadgets receive it from them', async () => {
    const text = ben.next((f: Frame) => f.type === 'message' && f.msg_type === 'text');
    await guestPage.locator('#say-body').fill('Hi crew, Mia here');
    await guestPage.getByRole('button', { name: 'Send', exact: true }).click();
    expect(await text).toMatchObject({ from_device: guestId, from_name: 'Mia', payload: { text: 'Hi crew, Mia here' }, seq: expect.any(Number) });
  });

  it('an invite makes one member; a tampered one is refused', async () => {
    const again = await browser.newContext(mobile);
    const page = await again.newPage();
    const used = await page.goto(inviteUrl);
    expect(used!.status()).toBe(410);
    expect(await page.locator('#error-code').textContent()).toBe('link_expired');
    // Submitting the form again (a second tab kept open) is refused too.
    const resubmit = await page.request.post(inviteUrl, { form: { display_name: 'Mia again' } });
    expect(resubmit.status()).toBe(410);

    const [prefix, payload, mac] = new URL(inviteUrl).pathname.slice('/i/'.length).split('.');
    const tampered = `${prefix}.${payload}.${mac!.slice(0, -2)}${mac!.endsWith('AA') ? 'BB' : 'AA'}`;
    const refused = await page.goto(new URL(`/i/${tampered}`, inviteUrl).href);
    expect(refused!.status()).toBe(401);
    expect(await page.locator('#error-code').textContent()).toBe('link_invalid');
    // A member link is not an invite.
    expect((await page.goto(new URL(`/i/v1.${payload}.${mac}`, inviteUrl).href))!.status()).toBe(401);
    await again.close();

    const phoneMembers = (await relay.store.crews.listMembers(crewId)).filter((m) => m.deviceId.startsWith('phone:'));
    expect(phoneMembers.map((m) => m.displayName)).toEqual(['Mia']);
  });

  it('only the owner invites and removes', async () => {
    expect(await benPage.getByRole('button', { name: 'Invite someone without a gadget' }).count()).toBe(0);
    expect(await apiFrom(benPage, 'POST', '/invites')).toMatchObject({ status: 403, body: { code: 'not_owner' } });
    expect(await apiFrom(benPage, 'DELETE', `/members/${encodeURIComponent(guestId)}`)).toMatchObject({ status: 403, body: { code: 'not_owner' } });
    expect(await relay.store.crews.getMembership(guestId)).toMatchObject({ crewId });
  });

  it('the owner removes the phone member: the gadgets hear member_left and the member page stops working', async () => {
    const left = ben.next((f: Frame) => f.type === 'member_left');
    const ownersGadget = olga.next((f: Frame) => f.type === 'member_left');
    await ownerPage.getByRole('button', { name: 'Remove Mia' }).click();
    expect(await left).toMatchObject({ device_id: guestId, display_name: 'Mia', removed: true });
    expect(await ownersGadget).toMatchObject({ device_id: guestId, removed: true });
    expect(await relay.store.crews.getMembership(guestId)).toBeNull();
    await expect.poll(() => ownerPage.locator(`#members-list li[data-member="${guestId}"]`).count()).toBe(0);
    expect(await apiFrom(guestPage, 'GET', '/state')).toMatchObject({ status: 410, body: { code: 'link_expired' } });
  });

  it('a gadget member is removed from a gadget, not from the page; the owner does not remove themselves', async () => {
    const benId = (await relay.store.crews.listMembers(crewId)).find((m) => m.displayName === 'Ben')!.deviceId;
    expect(await apiFrom(ownerPage, 'DELETE', `/members/${encodeURIComponent(benId)}`)).toMatchObject({ status: 409, body: { code: 'conflict' } });
    expect(await relay.store.crews.getMembership(benId)).toMatchObject({ crewId });
    const olgaId = (await relay.store.crews.listMembers(crewId)).find((m) => m.isOwner)!.deviceId;
    expect(await apiFrom(ownerPage, 'DELETE', `/members/${encodeURIComponent(olgaId)}`)).toMatchObject({ status: 409, body: { code: 'conflict' } });
    expect(await apiFrom(ownerPage, 'DELETE', '/members/phone%3Anobody')).toMatchObject({ status: 404, body: { code: 'not_found' } });
  });

  it('makes a few invites per crew and hour (LEELOO_INVITES_PER_HOUR), then refuses with the wait', async () => {
    // The first test made one of this hour's two.
    expect(await apiFrom(ownerPage, 'POST', '/invites')).toMatchObject({ status: 200, body: { url: expect.stringContaining('/i/i1.') } });
    const refused = await apiFrom(ownerPage, 'POST', '/invites');
    expect(refused).toMatchObject({ status: 429, body: { code: 'rate_limited', retry_after_ms: expect.any(Number) } });
    expect(refused.body.retry_after_ms).toBeGreaterThan(60_000);
  });
});
