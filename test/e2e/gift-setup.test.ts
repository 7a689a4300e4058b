import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { FakeNmcli } from '../fakes/fake-nmcli.js';
import { startFakeSpotify, type FakeSpotify } from '../fakes/fake-spotify.js';
import { launchChromium } from '../helpers/chromium.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEVICE_MAIN = path.join(ROOT, 'device/main.ts');

/**
 * A gadget given as a present: the daemon (device/main.ts, as systemd runs it) starts with
 * a config that is not set up, on a machine whose NetworkManager is a fake nmcli on PATH.
 * A phone joins its access point, is sent to the setup page by a captive-portal probe,
 * fills it in; the gadget joins the home network, then its crew, then shows the Spotify
 * sign-in QR — the normal flow, with no SSH anywhere.
 */
describe('first boot of a gadget set up from a phone', () => {
  let root: string;
  let relay: RelayProcess | undefined;
  let spotify: FakeSpotify | undefined;
  let browser: Browser | undefined;
  let child: ChildProcess | undefined;
  const output: string[] = [];

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await relay?.cleanup();
    await spotify?.close();
    if (root) await removeTempDir(root);
  }, 30_000);

  it('access point, captive portal, setup page, home Wi-Fi, crew, Spotify sign-in QR', async () => {
    onTestFailed(() => void process.stderr.write(`--- gadget ---\n${output.slice(-40).join('\n')}\n`));
    root = await makeTempDir('leeloo-gift-');
    spotify = await startFakeSpotify();
    spotify.registerApp('leeloo-gift-app');
    // The sign-in links point at PUBLIC_URL; this test only needs the QR on the screen.
    relay = await RelayProcess.start({
      env: {
        PUBLIC_URL: 'http://127.0.0.1:9',
        SPOTIFY_CLIENT_ID: 'leeloo-gift-app',
        LEELOO_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
        SPOTIFY_API_URL: spotify.apiUrl,
      },
    });
    const nmcli = await FakeNmcli.install(root, {
      networks: [{ ssid: 'Home', signal: 77, security: 'WPA2' }],
      passwords: { Home: 'our home wifi' },
      state: 'disconnected',
    });

    // What `install-pi.sh --gift` leaves: hardware and the relay, setup not done.
    const dataDir = path.join(root, 'data');
    await mkdir(dataDir);
    const configFile = path.join(root, 'device.json');
    await writeFile(
      configFile,
      JSON.stringify({
        relay: { url: relay.wsUrl },
        dataDir,
        display: { driver: 'sim' },
        buttons: { driver: 'sim' },
        sim: { mirror: { enabled: true, host: '127.0.0.1', port: 0 }, snapshotKeep: 0, keyboard: false },
        setup: { done: false, network: 'nmcli', host: '127.0.0.1', port: 0, address: '127.0.0.1', onlineTimeoutSeconds: 0 },
      }),
    );
    child = spawn(process.execPath, ['--import', 'tsx', DEVICE_MAIN, '--config', configFile], { cwd: ROOT, env: nmcli.env, stdio: ['ignore', 'pipe', 'pipe'] });
    readline.createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
    const said: Record<string, string> = {};
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const match = /^LEELOO device (?:".*" )?(setup page|crew|mirror): (\S+)$/.exec(line);
      if (match) said[match[1] as string] = match[2] as string;
    });
    await waitUntil(() => 'setup page' in said, 'the setup page line', 20_000);
    await waitUntil(async () => Boolean((await nmcli.scenario()).hotspot), 'the access point', 20_000);
    expect((await nmcli.scenario()).hotspot?.ssid).toMatch(/^LEELOO-[A-HJ-NP-Z2-9]{4}$/);

    browser = await launchChromium();
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    // The phone's portal check after joining the access point: sent to the setup page.
    await phone.goto(new URL('/hotspot-detect.html', said['setup page']).href);
    await phone.selectOption('#ssid', 'Home');
    await phone.fill('#password', 'our home wifi');
    await phone.fill('#name', 'Present');
    await phone.click('#done');
    await phone.locator('#progress').waitFor();

    await waitUntil(() => 'crew' in said && 'mirror' in said, 'the crew and mirror lines', 20_000);
    expect(said.crew).toMatch(/^LEELOO-[A-HJ-NP-Z2-9]{4}$/);
    expect(await nmcli.scenario()).toMatchObject({ hotspot: null, connectedTo: 'Home' });
    expect(JSON.parse(await readFile(configFile, 'utf8'))).toMatchObject({ device: { name: 'Present', crewCode: null }, setup: { done: true } });

    const screen = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await screen.goto(said.mirror as string);
    await screen
      // The mirror joins the drawn strings with " · "; a heading wrapped over lines reads as one with spaces.
      .waitForFunction(
        () => /Scan with your phone to connect Spotify/.test((document.getElementById('screen')?.getAttribute('alt') ?? '').split(' · ').join(' ')),
        undefined,
        { timeout: 15_000, polling: 50 },
      )
      .catch(async (error: Error) => {
        throw new Error(`no Spotify sign-in QR; the screen says: ${await screen.locator('#screen').getAttribute('alt')} (${error.message.split('\n')[0]})`);
      });
  }, 120_000);
});
