import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboundMessage, SongPush } from '../../protocol/index.js';
import type { Controller } from '../../device/controller.js';
import { RelayClient } from '../../device/relay-client.js';
import { parseMirrorMessage, SimDisplay } from '../../device/sim-display.js';
import { runPanelRequest, SAMPLE_TRACKS, type SimActions } from '../../device/sim-panel.js';
import { launchChromium } from '../helpers/chromium.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { startSimGadget } from '../helpers/sim-gadget.js';
import { waitUntil } from '../helpers/wait-until.js';

const log = pino({ level: 'silent' });

type CrewMessage = Extract<OutboundMessage, { type: 'message' }>;

describe('mirror messages and panel requests (gadget side)', () => {
  it('parses buttons and panel requests with one schema and explains what is wrong', () => {
    expect(parseMirrorMessage('{"type":"button","button":"next","action":"press"}')).toEqual({ type: 'button', button: 'next', action: 'press' });
    expect(parseMirrorMessage('{"type":"send_text","request_id":"r1","text":"hi"}')).toEqual({ type: 'send_text', request_id: 'r1', text: 'hi' });
    expect(parseMirrorMessage('nope')).toMatchObject({ type: 'error', code: 'invalid_message' });
    expect(parseMirrorMessage('{"type":"send_text","request_id":"r7","text":5}')).toMatchObject({ type: 'error', code: 'invalid_message', request_id: 'r7' });
    expect(parseMirrorMessage('{"type":"share_track","request_id":"r8"}')).toMatchObject({ type: 'error', code: 'invalid_message', request_id: 'r8' });
    expect(parseMirrorMessage('{"type":"launch","request_id":"r9"}')).toMatchObject({ type: 'error', code: 'invalid_message' });
  });

  it('checks a share against the protocol before the gadget sees it, and reports a failed save', async () => {
    const shared: SongPush[] = [];
    const actions: SimActions = {
      shareTrack: async (track) => (shared.push(track), 'c1'),
      sendText: async () => {
        throw new Error('disk full');
      },
      online: () => false,
    };
    const share = (link: string, track = 'Dreams') =>
      runPanelRequest(actions, { type: 'share_track', request_id: 'r1', track: { link, artist: 'Fleetwood Mac', track, album: '' } });
    expect(await share('spotify:track:short')).toMatchObject({ type: 'error', code: 'invalid_link', request_id: 'r1' });
    expect(await share('https://open.spotify.com/track/0ofHAoxe9vBkTCp2UQIavz', 'x'.repeat(201))).toMatchObject({
      code: 'invalid_track',
      message: 'title must be at most 200 characters',
    });
    expect(await share('https://open.spotify.com/intl-de/track/0ofHAoxe9vBkTCp2UQIavz?si=abc')).toEqual({
      type: 'done',
      request_id: 'r1',
      action: 'share_track',
      client_msg_id: 'c1',
      queued: true,
      summary: '“Dreams” by Fleetwood Mac',
    });
    expect(shared).toEqual([
      { artist: 'Fleetwood Mac', track: 'Dreams', album: '', spotify_uri: 'spotify:track:0ofHAoxe9vBkTCp2UQIavz', album_art_url: '', note: '' },
    ]);
    expect(await runPanelRequest(actions, { type: 'send_text', request_id: 'r2', text: '   ' })).toMatchObject({ code: 'invalid_text' });
    expect(await runPanelRequest(actions, { type: 'send_text', request_id: 'r3', text: 'hi' })).toMatchObject({ code: 'not_saved', request_id: 'r3' });
    expect(await runPanelRequest(null, { type: 'send_text', request_id: 'r4', text: 'hi' })).toMatchObject({ code: 'unavailable' });
  });
});

describe('simulator panel on the mirror page, against a real relay', () => {
  let relay: RelayProcess;
  let root: string;
  let browser: Browser;
  let friend: RelayClient;
  const received: CrewMessage[] = [];
  let controller: Controller;
  let display: SimDisplay;
  let page: Page;

  const songPushes = () => received.filter((m) => m.msg_type === 'song_push');
  const texts = () => received.filter((m) => m.msg_type === 'text').map((m) => (m.payload as { text: string }).text);

  /** A message that must arrive: everything the page sent before it has arrived too (one outbox, in order). */
  async function barrier(text: string): Promise<void> {
    await page.fill('#text-input', text);
    await page.press('#text-input', 'Enter');
    await waitUntil(() => texts().includes(text), `"${text}" at the friend`);
  }

  beforeAll(async () => {
    relay = await RelayProcess.start();
    root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-sim-panel-'));
    friend = new RelayClient({ url: relay.wsUrl, deviceName: 'Ana', crewCode: null, dataDir: path.join(root, 'friend'), log, baseDelayMs: 50 });
    friend.onEvent((e) => void (e.kind === 'event' && e.message.type === 'message' && received.push(e.message)));
    await friend.start();
    await waitUntil(() => friend.connection.status === 'online', 'friend online');

    ({ controller, display } = await startSimGadget({
      relayUrl: relay.wsUrl,
      name: 'Kitchen',
      crewCode: friend.crewState!.crew_code,
      root,
      mirror: true,
      panel: true,
    }));
    await waitUntil(() => controller.state.connection.status === 'online' && controller.state.crew !== null, 'controller online');
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(display.url!);
    await page.waitForSelector('#link.live', { timeout: 10_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await controller?.stop();
    await friend?.stop();
    await relay?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  it('shares a sample track through the controller; the friend receives the song_push', async () => {
    const toto = SAMPLE_TRACKS.find((t) => t.track === 'Africa')!;
    await page.click(`.sample[data-uri="${toto.spotify_uri}"]`);
    await page.waitForSelector('#share-status[data-state="ok"]', { timeout: 10_000 });
    await waitUntil(() => songPushes().length === 1, 'the sample share at the friend');
    expect(songPushes()[0]).toMatchObject({
      from_name: 'Kitchen',
      client_msg_id: expect.any(String),
      payload: { artist: 'Toto', track: 'Africa', album: 'Toto IV', spotify_uri: 'spotify:track:2374M0fQpWi3dLnB54qaLX', album_art_url: '' },
    });
    // The gadget shows it as its own share, as the share button does.
    expect(controller.state.feed.some((item) => item.kind === 'share' && item.mine)).toBe(true);
    expect(await page.textContent('#share-status')).toContain('“Africa” by Toto');
  });

  it('shares a pasted open.spotify.com link with ?si= as a spotify:track URI', async () => {
    await page.fill('#share-link', ' https://open.spotify.com/track/4u7EnebtmKWzUH433cf5Qv?si=1f2e3d4c5b6a7980 ');
    await page.fill('#share-artist', 'Queen');
    await page.fill('#share-title', 'Bohemian Rhapsody');
    await page.click('#share-form button[type="submit"]');
    await waitUntil(() => songPushes().length === 2, 'the pasted share at the friend');
    expect(songPushes()[1]!.payload).toMatchObject({
      artist: 'Queen',
      track: 'Bohemian Rhapsody',
      album: '',
      spotify_uri: 'spotify:track:4u7EnebtmKWzUH433cf5Qv',
    });
    await page.waitForFunction(() => (document.getElementById('share-link') as HTMLInputElement).value === '', undefined, { timeout: 10_000 });
  });

  it('sends a typed message; keys typed in the panel are not button presses', async () => {
    const screen = controller.currentScreen;
    await barrier('dinner at 8? see you there');
    expect(received.at(-1)).toMatchObject({ from_name: 'Kitchen', msg_type: 'text', payload: { text: 'dinner at 8? see you there' } });
    await page.waitForSelector('#text-status[data-state="ok"]', { timeout: 10_000 });
    // Spaces and "s" were typed into the field: no love / fire reaction went out, the screen did not move.
    expect(received.some((m) => m.msg_type === 'reaction')).toBe(false);
    expect(controller.currentScreen).toBe(screen);
  });

  it('refuses a bad pasted link on the page and sends nothing', async () => {
    const outbox = controller.state.outboxPending;
    await page.fill('#share-link', 'https://example.com/track/4u7EnebtmKWzUH433cf5Qv');
    await page.fill('#share-artist', 'Queen');
    await page.fill('#share-title', 'Bohemian Rhapsody');
    await page.click('#share-form button[type="submit"]');
    await page.waitForSelector('#share-status[data-state="error"]', { timeout: 10_000 });
    expect(await page.textContent('#share-status')).toContain('not a Spotify track link');
    expect(await page.getAttribute('#share-link', 'aria-invalid')).toBe('true');
    expect(controller.state.outboxPending).toBe(outbox);
    await barrier('after the bad link');
    expect(songPushes()).toHaveLength(2);
  });

  it('shows the gadget side refusal of what the page let through', async () => {
    // Drop the page's length limit: the gadget's own check (SongPush) must still refuse.
    await page.$eval('#share-title', (el) => el.removeAttribute('maxlength'));
    await page.fill('#share-link', 'spotify:track:2WfaOiMkCvy7F5fcp2zZ8L');
    await page.fill('#share-artist', 'a-ha');
    await page.fill('#share-title', 'Take On Me '.repeat(30));
    await page.click('#share-form button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('share-status')?.textContent?.includes('at most 200'), undefined, { timeout: 10_000 });
    expect(await page.getAttribute('#share-status', 'data-state')).toBe('error');
    await barrier('after the long title');
    expect(songPushes()).toHaveLength(2);
  });

  it('answers bad socket requests with errors, keeps the socket, and sends nothing', async () => {
    const socket = new WebSocket(`${display.url!.replace('http', 'ws')}mirror`);
    const replies: Record<string, unknown>[] = [];
    socket.on('message', (data, binary) => {
      if (binary) return;
      const reply = JSON.parse(String(data)) as Record<string, unknown>;
      // The screen's words come along with every frame; this test counts the panel's replies.
      if (reply.type !== 'screen_text') replies.push(reply);
    });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send(
      JSON.stringify({
        type: 'share_track',
        request_id: 'bad-link',
        track: { link: 'https://open.spotify.com/album/4u7EnebtmKWzUH433cf5Qv', artist: 'Queen', track: 'x' },
      }),
    );
    socket.send(JSON.stringify({ type: 'send_text', request_id: 'bad-text', text: ' \n ' }));
    socket.send(JSON.stringify({ type: 'send_text', request_id: 'no-text' }));
    socket.send('{"type":');
    await waitUntil(() => replies.length === 4, 'four error replies');
    const byId = (id: string) => replies.find((r) => r.request_id === id);
    expect(byId('bad-link')).toMatchObject({ type: 'error', code: 'invalid_link' });
    expect(byId('bad-text')).toMatchObject({ type: 'error', code: 'invalid_text' });
    expect(byId('no-text')).toMatchObject({ type: 'error', code: 'invalid_message' });
    expect(replies.find((r) => r.request_id === undefined)).toMatchObject({ type: 'error', code: 'invalid_message' });

    socket.send(JSON.stringify({ type: 'send_text', request_id: 'good', text: 'from a script' }));
    await waitUntil(() => replies.some((r) => r.request_id === 'good'), 'the good request answered');
    expect(byId('good')).toMatchObject({ type: 'done', action: 'send_text', queued: false });
    await waitUntil(() => texts().includes('from a script'), 'the scripted message at the friend');
    expect(songPushes()).toHaveLength(2);
    socket.close();
  });

  it('serves no panel when no actions are attached', async () => {
    const bare = new SimDisplay({ title: 'Bare', log, snapshotDir: null, snapshotKeep: 0, mirror: { enabled: true, host: '127.0.0.1', port: 0 } });
    await bare.start();
    try {
      const html = await (await fetch(bare.url!)).text();
      expect(html).not.toContain('class="panel"');
      expect(await (await fetch(display.url!)).text()).toContain('class="panel"');
    } finally {
      await bare.stop();
    }
  });
});
