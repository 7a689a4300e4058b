import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig, type DeviceConfig } from '../../device/config.js';
import { NmcliNetwork } from '../../device/network.js';
import { CAPTIVE_PROBE_PATHS } from '../../device/setup-page.js';
import { SetupMode } from '../../device/setup-mode.js';
import { FakeNmcli } from '../fakes/fake-nmcli.js';
import { RecordingDisplay } from '../fakes/recording-display.js';
import { launchChromium } from '../helpers/chromium.js';
import { readFrameQr } from '../helpers/frame-qr.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

const log = pino({ level: 'silent' });
const HOTSPOT = { ssid: 'LEELOO-7KQ2', password: 'HXRT4MNP9Q' };
const RAW_CONFIG = {
  relay: { url: 'wss://relay.example.com/ws' },
  display: { driver: 'sim' },
  buttons: { driver: 'sim', longPressMs: 900 },
  setup: { done: false, network: 'nmcli', host: '127.0.0.1', port: 0, address: '127.0.0.1' },
};

describe('the setup page, driven from a phone-sized Chromium', () => {
  let browser: Browser;
  let dir: string;
  let configFile: string;
  let fake: FakeNmcli;
  let display: RecordingDisplay;
  let setup: SetupMode;
  let running: Promise<DeviceConfig>;
  let url: string;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(() => browser.close());

  beforeEach(async () => {
    dir = await makeTempDir();
    configFile = path.join(dir, 'device.json');
    await writeFile(configFile, JSON.stringify(RAW_CONFIG));
    fake = await FakeNmcli.install(dir, {
      networks: [
        { ssid: 'Home:5G', signal: 81, security: 'WPA2' },
        { ssid: 'Neighbour "Bob"', signal: 30, security: 'WPA2' },
      ],
      passwords: { 'Home:5G': 'correct horse', Attic: 'hidden-pw' },
      state: 'disconnected',
    });
    display = new RecordingDisplay();
    const config = parseConfig(structuredClone(RAW_CONFIG), dir);
    let pageUrl: string | null = null;
    setup = new SetupMode({
      configFile,
      config,
      display,
      network: new NmcliNetwork({ ifname: 'wlan0', env: fake.env, waitSeconds: 5 }),
      log,
      hotspot: HOTSPOT,
      onPage: (u) => (pageUrl = u),
    });
    running = setup.run();
    await waitUntil(() => pageUrl !== null && setup.screen.step.kind === 'hotspot', 'the setup access point');
    url = pageUrl as unknown as string;
    page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  });

  afterEach(async () => {
    await page.close();
    await removeTempDir(dir);
  });

  it('scans before it opens the access point and shows the join QR and the address', async () => {
    const calls = await fake.calls();
    expect(calls.map((args) => args.slice(0, 3).join(' '))).toEqual(['-t -f SSID,SIGNAL,SECURITY', 'device wifi hotspot']);
    expect((await fake.scenario()).hotspot).toEqual(HOTSPOT);
    expect(readFrameQr(display.frames.at(-1)!)).toBe('WIFI:T:WPA;S:LEELOO-7KQ2;P:HXRT4MNP9Q;;');
    await finish();
  });

  it('answers every captive-portal probe with a redirect to the setup page', async () => {
    for (const probe of CAPTIVE_PROBE_PATHS) {
      const res = await fetch(new URL(probe, url), { redirect: 'manual' });
      expect([probe, res.status, res.headers.get('location')]).toEqual([probe, 302, url]);
    }
    // What the phone's portal window does: follow the probe to the page.
    await page.goto(new URL('/hotspot-detect.html', url).href);
    expect(page.url()).toBe(url);
    await page.goto(new URL('/generate_204', url).href);
    expect(await page.locator('h1').textContent()).toBe('Set up your LEELOO');
    expect(await page.locator('#relayUrl').inputValue()).toBe('wss://relay.example.com/ws');
    const options = await page.locator('#ssid option').allTextContents();
    expect(options[1]).toContain('Home:5G');
    expect(options[2]).toContain('Neighbour "Bob"');
    await finish();
  });

  it('refuses bad input with sentences by the fields and writes nothing', async () => {
    const before = await readFile(configFile, 'utf8');
    await page.goto(url);
    await page.fill('#name', '   ');
    await page.check('input[name=crew][value=join]');
    await page.fill('#crewCode', 'LEELOO-01IO');
    await page.fill('#password', 'short');
    await page.click('#done');
    await page.waitForSelector('#ssid-error');
    expect(await page.locator('#ssid-error').textContent()).toBe('Choose your home Wi-Fi network.');
    expect(await page.locator('#password-error').textContent()).toContain('8 to 63 characters');
    expect(await page.locator('#name-error').textContent()).toContain("The gadget's name");
    expect(await page.locator('#crewCode-error').textContent()).toContain('LEELOO-7KQ2');
    // What was typed stays in the form.
    expect(await page.locator('#crewCode').inputValue()).toBe('LEELOO-01IO');
    expect(await readFile(configFile, 'utf8')).toBe(before);
    expect((await fake.calls()).some((args) => args.includes('connect'))).toBe(false);
    await finish();
  });

  it('a wrong password brings the access point back and says why on the page and the screen; then it joins', async () => {
    await page.goto(url);
    await page.selectOption('#ssid', 'Home:5G');
    await page.fill('#password', 'wrong password');
    await page.fill('#name', 'Kitchen');
    await page.click('#done');
    await page.waitForSelector('#failure', { timeout: 15_000 });
    expect(await page.locator('#failure').textContent()).toContain('"Home:5G" refused the password');
    expect(setup.screen.step).toMatchObject({ kind: 'hotspot', error: expect.stringContaining('refused the password') });
    expect((await fake.scenario()).hotspot).toEqual(HOTSPOT);
    // A restart now would come back to setup.
    expect(JSON.parse(await readFile(configFile, 'utf8')).setup.done).toBe(false);
    // The radio was free after the failure: it scanned again before reopening.
    const kinds = (await fake.calls()).map((args) => args.find((a) => ['list', 'hotspot', 'connect', 'delete'].includes(a)));
    expect(kinds).toEqual(['list', 'hotspot', 'delete', 'connect', 'list', 'hotspot']);

    await page.selectOption('#ssid', 'Home:5G');
    await page.fill('#password', 'correct horse');
    await page.fill('#name', 'Kitchen');
    await page.check('input[name=crew][value=join]');
    await page.fill('#crewCode', ' leeloo-7kq2 ');
    await page.click('#done');
    const config = await running;
    expect(config.device).toEqual({ name: 'Kitchen', crewCode: 'LEELOO-7KQ2' });
    const written = await readFile(configFile, 'utf8');
    expect(JSON.parse(written)).toMatchObject({ setup: { done: true, network: 'nmcli' }, device: { crewCode: 'LEELOO-7KQ2' }, buttons: { longPressMs: 900 } });
    expect(written).not.toContain('correct horse');
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(await fake.scenario()).toMatchObject({ hotspot: null, connectedTo: 'Home:5G' });
    expect(setup.screen.step).toEqual({ kind: 'connected', ssid: 'Home:5G' });
  });

  it('joins a hidden network typed by hand and starts a new crew', async () => {
    await page.goto(url);
    await page.selectOption('#ssid', '__hidden__');
    await page.fill('#hiddenSsid', 'Attic');
    await page.fill('#password', 'hidden-pw');
    await page.fill('#name', 'Attic radio');
    await page.click('#done');
    expect(await page.locator('#progress').textContent()).toContain('joining “Attic”');
    const config = await running;
    expect(config.device).toEqual({ name: 'Attic radio', crewCode: null });
    expect((await fake.calls()).find((args) => args.includes('connect'))).toContain('hidden');
  });

  /** Ends the run with a good answer, so no setup mode is left listening. */
  async function finish(): Promise<void> {
    const res = await fetch(new URL('/setup', url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ssid: 'Home:5G',
        password: 'correct horse',
        name: 'Kitchen',
        crew: 'new',
        relayUrl: 'wss://relay.example.com/ws',
      }).toString(),
    });
    expect(res.status).toBe(200);
    await running;
  }
});
