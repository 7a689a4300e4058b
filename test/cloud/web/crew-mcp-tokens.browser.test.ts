import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../helpers/chromium.js';
import { crewGadget, mcpClient, resultOf, startMcpRelay, type CrewGadget } from '../../helpers/mcp-crew.js';
import type { InProcessRelay } from '../../helpers/relay-in-process.js';
import { isType } from '../../helpers/ws-client.js';

/*
 * "AI assistants" on the crew page in headless Chromium at a phone viewport: a member makes a
 * token, copies the client config the page shows, an assistant (the SDK's client) uses it
 * to write to the crew, the page lists it as used, the member revokes it, and the relay
 * refuses the revoked token.
 */

let relay: InProcessRelay;
let browser: Browser;
let page: Page;
let ana: CrewGadget;
let bo: CrewGadget;

const tokenLines = () => page.locator('#mcp-list li').allTextContents();

beforeAll(async () => {
  relay = await startMcpRelay();
  ana = await crewGadget(() => relay.connect(), 'Ana');
  bo = await crewGadget(() => relay.connect(), 'Bo', ana.crewCode);
  const link = String((await ana.client.request({ type: 'crew_link' }, isType('crew_link_issued'))).url);
  browser = await launchChromium();
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phone.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: relay.httpUrl });
  page = await phone.newPage();
  await page.goto(relay.httpUrl + new URL(link).pathname);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await ana?.client.close();
  await bo?.client.close();
  await relay?.close();
});

describe('AI assistants on the crew page', () => {
  it('makes a token an assistant connects with, lists it as used, revokes it, and the relay refuses it after', async () => {
    await expect.poll(tokenLines).toEqual(['No tokens yet.']);
    await page.locator('#mcp-name').fill('laptop');
    await page.getByRole('button', { name: 'Make a token' }).click();
    await expect.poll(() => page.locator('#mcp-new').isVisible()).toBe(true);

    expect(await page.locator('#mcp-url').inputValue()).toBe(`${relay.httpUrl}/mcp`);
    const token = await page.locator('#mcp-token').inputValue();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await page.locator('button[data-copy="mcp-config"]').click();
    await expect.poll(() => page.locator('button[data-copy="mcp-config"]').textContent()).toBe('Copied');
    const pasted = JSON.parse(await page.evaluate(() => navigator.clipboard.readText())) as {
      mcpServers: { leeloo: { type: string; url: string; headers: Record<string, string> } };
    };
    expect(pasted.mcpServers.leeloo).toEqual({ type: 'http', url: `${relay.httpUrl}/mcp`, headers: { Authorization: `Bearer ${token}` } });
    expect(await page.locator('#mcp-cli').inputValue()).toContain(`--header "Authorization: Bearer ${token}"`);
    await expect.poll(tokenLines).toEqual([expect.stringMatching(/^laptop.*last used never.*Revoke$/)]);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);

    // The assistant, configured with what was pasted, writes to the crew as Ana.
    const assistant = await mcpClient(pasted.mcpServers.leeloo.url, pasted.mcpServers.leeloo.headers);
    try {
      const sent = resultOf<{ seq: number }>(await assistant.callTool({ name: 'send_crew_text', arguments: { text: 'from my assistant' } }));
      expect(await bo.client.next(isType('message', { seq: sent.seq }))).toMatchObject({ from_name: 'Ana', payload: { text: 'from my assistant' } });

      // Shown once: hidden, then a reload lists the token as used and nowhere shows it.
      await page.getByRole('button', { name: 'Done, hide the token' }).click();
      await page.reload();
      await expect.poll(tokenLines).toEqual([expect.stringMatching(/^laptop.*last used (?!never).+Revoke$/)]);
      expect(await page.content()).not.toContain(token);

      await page.locator('#mcp-list li', { hasText: 'laptop' }).getByRole('button', { name: 'Revoke' }).click();
      await expect.poll(tokenLines).toEqual(['No tokens yet.']);
      const refused = (await assistant.callTool({ name: 'crew_queue', arguments: {} }).then(
        () => null,
        (error: unknown) => error,
      )) as Error | null;
      expect(refused?.message).toMatch(/401|unauthorized/i);
    } finally {
      await assistant.close();
    }
    await expect(mcpClient(`${relay.httpUrl}/mcp`, { authorization: `Bearer ${token}` })).rejects.toThrow(/401|unauthorized/i);
  });

  it('says why when the relay refuses a token name', async () => {
    await page.locator('#mcp-name').fill('evil\u202eexe');
    await page.getByRole('button', { name: 'Make a token' }).click();
    await expect.poll(() => page.locator('#mcp-error').textContent()).toMatch(/name must not contain bidirectional/);
    await expect.poll(tokenLines).toEqual(['No tokens yet.']);
  });
});
