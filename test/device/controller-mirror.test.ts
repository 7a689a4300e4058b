import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboundMessage } from '../../protocol/index.js';
import type { Controller } from '../../device/controller.js';
import { RelayClient } from '../../device/relay-client.js';
import type { SimDisplay } from '../../device/sim-display.js';
import { launchChromium } from '../helpers/chromium.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { startSimGadget } from '../helpers/sim-gadget.js';
import { waitUntil } from '../helpers/wait-until.js';

const log = pino({ level: 'silent' });

describe('controller with the simulated display, mirror page and a real relay', () => {
  let relay: RelayProcess;
  let root: string;
  let browser: Browser;
  let friend: RelayClient;
  const friendEvents: OutboundMessage[] = [];
  let controller: Controller;
  let display: SimDisplay;

  beforeAll(async () => {
    relay = await RelayProcess.start();
    root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-mirror-'));
    friend = new RelayClient({ url: relay.wsUrl, deviceName: 'Ana', crewCode: null, dataDir: path.join(root, 'friend'), log, baseDelayMs: 50 });
    friend.onEvent((e) => void (e.kind === 'event' && friendEvents.push(e.message)));
    await friend.start();
    await waitUntil(() => friend.connection.status === 'online', 'friend online');

    ({ controller, display } = await startSimGadget({
      relayUrl: relay.wsUrl,
      name: 'Kitchen',
      crewCode: friend.crewState!.crew_code,
      root,
      mirror: true,
      snapshotKeep: 5,
    }));
    await waitUntil(() => controller.state.connection.status === 'online' && controller.state.crew !== null, 'controller online');
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await controller?.stop();
    await friend?.stop();
    await relay?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  it('mirrors the screen, follows incoming shares, and page buttons drive the controller', async () => {
    expect(controller.currentScreen).toBe('crew');
    const page = await browser.newPage();
    await page.goto(display.url!);
    await page.waitForFunction(() => Number(document.body.dataset.frames ?? 0) > 0, undefined, { timeout: 10_000 });

    await friend.send({
      type: 'message',
      msg_type: 'song_push',
      payload: { artist: 'Björk', track: 'Joga', album: 'Homogenic', spotify_uri: 'spotify:track:1t7MU8NxS3ty4vMRq2sV5B', album_art_url: '', note: 'sunday' },
    });
    await waitUntil(() => controller.currentScreen === 'share', 'share screen');
    // The screen's words are the image's text alternative (screen readers; the journey test reads them).
    await page.waitForFunction(() => /pushed by Ana · Joga · Björk/.test(document.getElementById('screen')!.getAttribute('alt') ?? ''), undefined, {
      timeout: 10_000,
    });
    expect(await page.getAttribute('#screen', 'alt')).toMatch(/Online · Shared · LEELOO-[A-Z0-9]{4}$/);
    const framesBefore = await page.evaluate(() => Number(document.body.dataset.frames));
    await controller.settled();

    await page.click('button[data-button="primary"]');
    await waitUntil(() => friendEvents.some((e) => e.type === 'message' && e.msg_type === 'reaction'), 'friend receives the love');
    const reaction = friendEvents.find((e) => e.type === 'message' && e.msg_type === 'reaction');
    expect(reaction).toMatchObject({ from_name: 'Kitchen', payload: { reaction: 'love', to_device: friend.deviceId } });
    await page.waitForFunction((n) => Number(document.body.dataset.frames) > n, framesBefore, { timeout: 10_000 });

    await page.click('button[data-button="next"]');
    await waitUntil(() => controller.currentScreen === 'messages', 'next screen');
    await page.click('button[data-button="prev"]');
    await waitUntil(() => controller.currentScreen === 'share', 'previous screen');

    await page.click('button[data-button="primary"]', { button: 'right' });
    await waitUntil(() => controller.currentScreen === 'menu', 'menu on long press');
    await page.click('button[data-button="primary"]', { button: 'right' });
    await waitUntil(() => controller.currentScreen === 'share', 'menu closes back to the share');
    await page.close();
  });

  it('serves the current frame and keeps a bounded set of PNG snapshots', async () => {
    await controller.settled();
    const response = await fetch(new URL('/frame.png', display.url!));
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await response.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    expect((await fetch(new URL('/nope', display.url!))).status).toBe(404);
    const files = await readdir(path.join(root, 'kitchen', 'snapshots'));
    expect(files).toContain('latest.png');
    expect(files.filter((f) => /^frame-\d+\.png$/.test(f)).length).toBe(5);
  });

  it('answers a bad mirror message with an error and keeps serving', async () => {
    const socket = new WebSocket(`${display.url!.replace('http', 'ws')}mirror`);
    const frames: (string | Buffer)[] = [];
    socket.on('message', (data, binary) => frames.push(binary ? (data as Buffer) : String(data)));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send('{"type":"button","button":"self_destruct","action":"press"}');
    await waitUntil(() => frames.some((f) => typeof f === 'string' && f.includes('invalid_message')), 'mirror error');
    const screen = controller.currentScreen;
    socket.send(JSON.stringify({ type: 'button', button: 'next', action: 'press' }));
    await waitUntil(() => controller.currentScreen !== screen, 'screen moves after a good message');
    socket.close();
  });
});
