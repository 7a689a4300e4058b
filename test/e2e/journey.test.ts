import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import jsqr from 'jsqr';
import type { Browser, Page } from 'playwright-core';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { fakeTrack, startFakeSpotify, type FakeSpotify } from '../fakes/fake-spotify.js';
import { launchChromium } from '../helpers/chromium.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/*
 * One journey through LEELOO as it is deployed: the relay (cloud/main.ts) as its own process
 * behind a front door (a TCP proxy standing in for nginx, so PUBLIC_URL and the gadgets'
 * relay URL outlive a relay restart on another port), two gadget daemons (device/main.ts)
 * as their own processes with the sim display, and a fake Spotify on loopback. Everything is
 * driven from the outside: the gadgets through their mirror pages in Chromium (buttons, the
 * simulator panel, the screen's words — the mirror gives them as the image's text
 * alternative), the phone through the QR codes on the gadget's screen (scanned from a
 * screenshot of the mirror, as a phone camera would), the crew page at a phone viewport,
 * and the operator's admin API.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEVICE_MAIN = path.join(ROOT, 'device/main.ts');
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const CLIENT_ID = 'leeloo-journey-app';
const RICK = fakeTrack('4PTG3Z6ehGkBFwjybzWkR8', {
  name: 'Never Gonna Give You Up',
  artists: ['Rick Astley'],
  album: 'Whenever You Need Somebody',
  duration_ms: 213_000,
});
const SMALLTOWN = fakeTrack('7ouMYWpwJ422jRcDASZB7P', { name: 'Smalltown Boy', artists: ['Bronski Beat'], album: 'The Age of Consent', duration_ms: 302_000 });

/** A stable public address in front of the relay, as nginx is in production: relays come and go behind it. */
class FrontDoor {
  private upstreamPort: number | null = null;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async open(): Promise<FrontDoor> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new FrontDoor(server, (server.address() as net.AddressInfo).port);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Where connections go from now on (null: refused, as while the relay is down). */
  route(port: number | null): void {
    this.upstreamPort = port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.track(client);
    if (this.upstreamPort === null) return void client.destroy();
    const upstream = this.track(net.connect(this.upstreamPort, '127.0.0.1'));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream).pipe(client);
  }

  private track(socket: net.Socket): net.Socket {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    return socket;
  }
}

interface GadgetProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | null>;
  mirror: string;
  crew: string;
}

const gadgets: GadgetProcess[] = [];

/** `node --import tsx device/main.ts --config FILE` with the sim display and its mirror on a free port. */
async function startGadget(root: string, name: string, relayUrl: string, crewCode: string | null): Promise<GadgetProcess> {
  const dir = path.join(root, name.toLowerCase().replace(/\W+/g, '-'));
  await mkdir(dir, { recursive: true });
  const configFile = path.join(dir, 'device.json');
  await writeFile(
    configFile,
    JSON.stringify({
      relay: { url: relayUrl },
      device: { name, crewCode },
      dataDir: dir,
      logLevel: 'info',
      display: { driver: 'sim' },
      buttons: { driver: 'sim' },
      sim: { mirror: { enabled: true, host: '127.0.0.1', port: 0 }, snapshotKeep: 0, keyboard: false },
    }),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', DEVICE_MAIN, '--config', configFile], {
    cwd: ROOT,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const gadget: GadgetProcess = { name, child, output, exited, mirror: '', crew: '' };
  gadgets.push(gadget);
  readline.createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
  const lines = readline.createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed no mirror and crew lines within 20 s:\n${output.join('\n')}`)), 20_000);
    void exited.then((code) => reject(new Error(`${name} exited (${code}):\n${output.join('\n')}`)));
    lines.on('line', (line) => {
      output.push(line);
      // The daemon's documented stdout lines (npm start reads them too).
      const mirror = /^LEELOO device ".*" mirror: (\S+)$/.exec(line)?.[1];
      const crew = /^LEELOO device ".*" crew: (\S+)$/.exec(line)?.[1];
      if (mirror) gadget.mirror = mirror;
      if (crew) gadget.crew = crew;
      if (gadget.mirror && gadget.crew) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return gadget;
}

async function stopGadget(gadget: GadgetProcess): Promise<void> {
  if (gadget.child.exitCode !== null || gadget.child.signalCode !== null) return;
  gadget.child.kill('SIGTERM');
  const timer = setTimeout(() => gadget.child.kill('SIGKILL'), 5_000);
  await gadget.exited;
  clearTimeout(timer);
}

/**
 * The words on the gadget's screen: the mirror page gives them as the image's text alternative,
 * one drawn string after another joined by " · "; joined here by spaces, so a title the screen
 * wrapped over two lines reads as one.
 */
function screenText(page: Page): Promise<string> {
  return page
    .locator('#screen')
    .getAttribute('alt')
    .then((alt) => (alt ?? '').split(' · ').join(' '));
}

/** Waits until the gadget's screen says something matching `pattern`; resolves with all it says. */
async function screenShows(page: Page, pattern: RegExp, what: string, timeoutMs = 10_000): Promise<string> {
  try {
    await page.waitForFunction(
      (source) => new RegExp(source).test((document.getElementById('screen')?.getAttribute('alt') ?? '').split(' · ').join(' ')),
      pattern.source,
      // Checked every 50 ms: animation frames, the default, come once a second in a background tab.
      { timeout: timeoutMs, polling: 50 },
    );
  } catch (error) {
    throw new Error(`timed out waiting for ${what}; the screen says: ${await screenText(page)} (${(error as Error).message.split('\n')[0]})`);
  }
  return screenText(page);
}

/** jsqr is CommonJS: its export is the decoder itself, which also carries itself as `default` (what its types describe). */
const jsQR = jsqr.default;

/** Scans the QR code on the gadget's screen, as a phone camera would: from a screenshot of the mirror. */
async function scanQrCode(page: Page, what: string, timeoutMs = 10_000): Promise<string> {
  const start = Date.now();
  await page.bringToFront();
  // The newest frame may still be decoding in the page: look again until the code reads.
  for (;;) {
    const image = await loadImage(await page.locator('#screen').screenshot());
    const g = createCanvas(image.width, image.height).getContext('2d');
    g.drawImage(image, 0, 0);
    const code = jsQR(g.getImageData(0, 0, image.width, image.height).data, image.width, image.height);
    if (code?.data) return code.data;
    if (Date.now() - start > timeoutMs) throw new Error(`no QR code for ${what} on the screen, which says: ${await screenText(page)}`);
  }
}

/**
 * A press: pointer down and up, as the mirror page's button sends them (shorter than a long press).
 * `force` only skips Playwright's wait for the button to hold still over two animation frames,
 * which come once a second in a background tab; the pointer events are the real ones.
 */
function press(page: Page, button: 'prev' | 'next' | 'primary' | 'secondary'): Promise<void> {
  return page.click(`button[data-button="${button}"]`, { force: true });
}

/** A long press: the mirror page sends one on right-click. */
function longPress(page: Page): Promise<void> {
  return page.click('button[data-button="primary"]', { button: 'right', force: true });
}

describe('LEELOO as deployed: relay and two gadgets as processes, driven from the outside', () => {
  let root: string;
  let spotify: FakeSpotify | undefined;
  let front: FrontDoor | undefined;
  let relay: RelayProcess | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await Promise.all(gadgets.map(stopGadget));
    await relay?.kill();
    await front?.close();
    await spotify?.close();
    if (root) await removeTempDir(root);
  }, 30_000);

  it('crew, Spotify sign-in, share, react, crew page votes, offline share across a relay SIGKILL, admin', async () => {
    onTestFailed(() => {
      for (const g of gadgets) process.stderr.write(`--- ${g.name} ---\n${g.output.slice(-40).join('\n')}\n`);
      if (relay) process.stderr.write(`--- relay ---\n${relay.logs.slice(-40).join('\n')}\n`);
    });
    root = await makeTempDir('leeloo-journey-');
    spotify = await startFakeSpotify();
    spotify.registerApp(CLIENT_ID);
    spotify.addUser({ id: 'anna', displayName: 'Anna' });
    spotify.addCatalogTrack(RICK);
    spotify.addCatalogTrack(SMALLTOWN);
    spotify.setCurrentlyPlaying('anna', { track: RICK, progress_ms: 30_000, is_playing: true });
    front = await FrontDoor.open();

    // What an operator puts in .env (the store in LEELOO_DATA_DIR; the port behind the front door).
    const relayDir = path.join(root, 'relay');
    await mkdir(relayDir);
    const env = {
      PUBLIC_URL: front.url,
      SPOTIFY_CLIENT_ID: CLIENT_ID,
      LEELOO_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
      SPOTIFY_API_URL: spotify.apiUrl,
      ADMIN_TOKEN,
    };
    relay = await RelayProcess.start({ dataDir: relayDir, env });
    front.route(relay.port);
    const relayUrl = `ws://127.0.0.1:${front.port}/ws`;

    // --- Gadget A creates a crew; gadget B joins with A's code.
    const a = await startGadget(root, 'Gadget A', relayUrl, null);
    expect(a.crew).toMatch(/^LEELOO-[A-HJ-NP-Z2-9]{4}$/);
    const b = await startGadget(root, 'Gadget B', relayUrl, a.crew);
    expect(b.crew).toBe(a.crew);

    browser = await launchChromium();
    const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const screenA = await desk.newPage();
    const screenB = await desk.newPage();
    await screenA.goto(a.mirror);
    await screenB.goto(b.mirror);

    // --- A's owner signs in to Spotify: the phone scans the QR code A shows.
    await screenShows(screenA, /Scan with your phone to connect Spotify/, 'the sign-in QR code on A');
    const signInLink = await scanQrCode(screenA, 'the Spotify sign-in');
    expect(signInLink).toMatch(new RegExp(`^${front.url}/s/[A-Z0-9-]+$`));
    const signIn = await phone.newPage();
    await signIn.goto(signInLink);
    await signIn.getByRole('button', { name: 'Continue to Spotify' }).click();
    await signIn.getByRole('heading', { name: 'Spotify is connected' }).waitFor({ timeout: 10_000 });
    await signIn.close();

    // A's now playing shows what the owner plays on (the fake) Spotify.
    await screenShows(screenA, /Never Gonna Give You Up Rick Astley Whenever You Need Somebody ▶ playing/, "the fake's track on A");

    // --- One press shares it: B shows it, and the crew queue has it.
    await press(screenA, 'primary');
    await screenShows(screenA, /Shared with your crew ✓/, 'the share confirmation on A');
    await screenShows(screenB, /pushed by Gadget A Never Gonna Give You Up Rick Astley/, 'the share on B');
    const admin = (pathname: string): Promise<Response> => fetch(`${front!.url}${pathname}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const crewDetail = async () =>
      (await (await admin(`/admin/crews/${a.crew}`)).json()) as {
        members: { display_name: string; online: boolean; is_owner: boolean }[];
        queue: { now_playing: { track: string; spotify_uri: string } | null; up_next: unknown[] } | null;
      };
    expect((await crewDetail()).queue?.now_playing).toMatchObject({ track: RICK.name, spotify_uri: `spotify:track:${RICK.id}` });

    // --- B reacts with its button; A counts the reaction on its share.
    await press(screenB, 'primary');
    await press(screenA, 'prev'); // now playing → messages
    await press(screenA, 'prev'); // → the shared track
    await screenShows(screenA, /you shared Never Gonna Give You Up .* 1 0 Gadget B/, 'one love from B on A');

    // B shares a sample track from its simulator panel while online; A follows it.
    await screenB.locator('.sample', { hasText: 'Mr. Brightside' }).click();
    await expect.poll(() => screenB.locator('#share-status').textContent(), { timeout: 10_000 }).toContain('went to your crew ✓');
    await screenShows(screenA, /pushed by Gadget B Mr\. Brightside The Killers/, "B's panel share on A");

    // --- The crew page: A's menu → "Crew page on your phone" → QR code → the phone.
    await longPress(screenA);
    await screenShows(screenA, /^Crew code .* Menu LEELOO-/, "A's menu");
    await press(screenA, 'prev'); // the menu wraps: play along …
    await press(screenA, 'prev'); // … crew page on your phone
    await press(screenA, 'primary');
    await screenShows(screenA, /Scan to open your crew page/, 'the crew page QR code on A');
    const crewLink = await scanQrCode(screenA, 'the crew page link');
    expect(crewLink).toMatch(new RegExp(`^${front.url}/c/v1\\.`));
    const crewPage = await phone.newPage();
    await crewPage.goto(crewLink);
    expect(new URL(crewPage.url()).pathname).toBe('/crew');
    await expect.poll(() => crewPage.locator('#now-title').textContent(), { timeout: 10_000 }).toBe(RICK.name);
    const upNext = () => crewPage.locator('#queue li[data-item] .t').allTextContents();
    await expect.poll(upNext, { timeout: 10_000 }).toEqual(['Mr. Brightside']);
    await expect.poll(() => crewPage.locator('#live').textContent(), { timeout: 10_000 }).toBe('live');
    expect(await crewPage.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

    // A pasted link without a title: the relay fills it in from Spotify with A's token.
    await crewPage.locator('#add-link').fill(`https://open.spotify.com/track/${SMALLTOWN.id}`);
    await crewPage.locator('#add button[type="submit"]').click();
    await expect.poll(upNext, { timeout: 10_000 }).toEqual(['Mr. Brightside', 'Smalltown Boy']);

    // A vote click changes the queue on the page.
    const brightside = crewPage.locator('#queue li[data-item]', { hasText: 'Mr. Brightside' });
    await expect.poll(() => brightside.locator('.score').textContent()).toBe('0');
    await brightside.getByRole('button', { name: 'Vote up' }).click();
    await expect.poll(() => brightside.locator('.score').textContent(), { timeout: 10_000 }).toBe('1');
    await expect.poll(() => brightside.getByRole('button', { name: 'Vote up' }).getAttribute('class')).toContain('on');

    // A goes to its crew screen (crew link → now playing → messages → shared → crew): nothing unread from B.
    for (let i = 0; i < 4; i++) await press(screenA, 'prev');
    const crewBefore = await screenShows(screenA, /Gadget B online Online Crew LEELOO-/, "A's crew screen, nothing unread");
    expect(crewBefore).toMatch(/2 of 2 online/);
    // The menu keeps A where it is when B's share comes in, so it stays unread and countable.
    await longPress(screenA);
    await screenShows(screenA, /^Crew code .* Menu LEELOO-/, "A's menu over the crew screen");

    // --- The relay dies (SIGKILL) while B shares offline from its simulator panel.
    await relay.kill();
    front.route(null);
    await screenShows(screenB, /(Offline|Connecting…)/, 'B offline');
    await screenB.locator('.sample', { hasText: 'Take On Me' }).click();
    await expect
      .poll(() => screenB.locator('#share-status').textContent(), { timeout: 10_000 })
      .toContain('is saved; it goes out when the gadget is back online');
    await screenB.locator('#text-input').fill('back soon');
    await screenB.locator('#text-form button[type="submit"]').click();
    await expect.poll(() => screenB.locator('#text-status').textContent(), { timeout: 10_000 }).toContain('is saved');
    await screenShows(screenB, /↑2 {2}LEELOO-/, "two messages in B's outbox");
    // A's owner says something offline too, from A's panel (A stays in its menu). A sends its
    // outbox only after its resume, so A's outbox emptying later tells that A has caught up.
    await screenShows(screenA, /(Offline|Connecting…).* Menu LEELOO-/, 'A offline');
    await screenA.locator('#text-input').fill('A is here');
    await screenA.locator('#text-form button[type="submit"]').click();
    await expect.poll(() => screenA.locator('#text-status').textContent(), { timeout: 10_000 }).toContain('is saved');
    await screenShows(screenA, /Menu ↑1 {2}LEELOO-/, "A's message in its outbox");

    // Restarted on the same data (a new port behind the same front door, as after a crash under PM2).
    relay = await RelayProcess.start({ dataDir: relayDir, env });
    front.route(relay.port);
    // A gadget retries with full-jitter back-off capped at 60 s (device/backoff.ts): after a long
    // outage (a loaded machine restarts the relay slowly) its next try may be up to a minute away.
    await screenShows(screenB, /Online [A-Za-z ]+ LEELOO-[A-Z0-9]{4}$/, 'B back online with its outbox sent', 65_000);
    // B's share and message are stored now; A has them once its own outbox is sent (after its resume).
    await screenShows(screenA, /Online Menu LEELOO-[A-Z0-9]{4}$/, 'A back online with its outbox sent', 65_000);

    // The crew page follows live (no reload): the share is in the queue and the feed once.
    await expect.poll(() => crewPage.locator('#live').textContent(), { timeout: 15_000 }).toBe('live');
    // Fair order: B's first track, then round 2 in the order added (A's pasted link came first).
    await expect.poll(upNext, { timeout: 15_000 }).toEqual(['Mr. Brightside', 'Smalltown Boy', 'Take On Me']);
    const recent = () => crewPage.locator('#recent li').allTextContents();
    await expect.poll(async () => (await recent()).some((line) => line.includes('Gadget B: back soon')), { timeout: 10_000 }).toBe(true);
    expect((await recent()).filter((line) => line.includes('“Take On Me”'))).toHaveLength(1);
    const stored = await crewPage.evaluate(
      async () => (await (await fetch('/crew/api/state')).json()) as { recent: { msg_type?: string; payload?: { spotify_uri?: string } }[] },
    );
    expect(stored.recent.filter((e) => e.msg_type === 'song_push' && e.payload?.spotify_uri === 'spotify:track:2WfaOiMkCvy7F5fcp2zZ8L')).toHaveLength(1);

    // A: out of the menu, back on its crew screen: B's share and message arrived, once each.
    await longPress(screenA);
    const crewAfter = await screenShows(screenA, /Gadget B online \d+ Online Crew/, "A's crew screen with B's unread items");
    expect(/Gadget B online (\d+)/.exec(crewAfter)?.[1]).toBe('2');
    await press(screenA, 'next'); // → the shared track: B's offline share is the newest
    await screenShows(screenA, /pushed by Gadget B Take On Me a-ha/, "B's offline share on A");

    // --- The operator's view: the crew with both members, both online again.
    const list = (await (await admin('/admin/crews')).json()) as {
      crews: { crew_code: string; member_count: number; members_online: number; owner: { display_name: string } }[];
    };
    expect(list.crews).toEqual([expect.objectContaining({ crew_code: a.crew, member_count: 2, owner: expect.objectContaining({ display_name: 'Gadget A' }) })]);
    await expect
      .poll(async () => (await crewDetail()).members.map((m) => [m.display_name, m.is_owner, m.online]), { timeout: 10_000 })
      .toEqual([
        ['Gadget A', true, true],
        ['Gadget B', false, true],
      ]);
  }, 180_000);
});
