import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboundMessage } from '../../protocol/index.js';
import type { Controller } from '../../device/controller.js';
import type { ButtonEvent, Buttons, Frame } from '../../device/hardware.js';
import { RelayClient } from '../../device/relay-client.js';
import { REACTION_ANIMATION_MS } from '../../device/screens/reaction.js';
import { latestShare, unreadCounts } from '../../device/state.js';
import { ManualClock } from '../fakes/manual-clock.js';
import { RecordingDisplay } from '../fakes/recording-display.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { startSimGadget } from '../helpers/sim-gadget.js';
import { waitUntil } from '../helpers/wait-until.js';

const log = pino({ level: 'silent' });

/** Buttons pressed by the test. */
class TestButtons implements Buttons {
  private listener: ((event: ButtonEvent) => void) | null = null;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  onEvent(listener: (event: ButtonEvent) => void): () => void {
    this.listener = listener;
    return () => (this.listener = null);
  }
  press(button: 'prev' | 'next' | 'primary' | 'secondary', kind: 'press' | 'long_press' = 'press'): void {
    this.listener?.({ kind, button, at: 0 });
  }
}

function differs(a: Frame, b: Frame): number {
  let count = 0;
  for (let i = 0; i < a.data.length; i += 4) if (a.data[i] !== b.data[i] || a.data[i + 1] !== b.data[i + 1]) count++;
  return count;
}

const TRACK = { artist: 'Björk', track: 'Joga', album: 'Homogenic', spotify_uri: 'spotify:track:1t7MU8NxS3ty4vMRq2sV5B', album_art_url: '', note: 'for you' };

describe('Controller against a real relay', () => {
  let relay: RelayProcess;
  let root: string;
  let controller: Controller;
  let display: RecordingDisplay;
  let buttons: TestButtons;
  let clock: ManualClock;
  let friend: RelayClient;
  const friendEvents: OutboundMessage[] = [];

  beforeAll(async () => {
    relay = await RelayProcess.start();
    root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-controller-'));
    clock = new ManualClock(Date.now());
    display = new RecordingDisplay();
    buttons = new TestButtons();
    ({ controller } = await startSimGadget({ relayUrl: relay.wsUrl, name: 'Kitchen', root, display, buttons, clock }));
    await waitUntil(() => controller.state.connection.status === 'online' && controller.state.crew !== null, 'controller online');
    friend = new RelayClient({ url: relay.wsUrl, deviceName: 'Ana', crewCode: controller.state.crew!.code, dataDir: path.join(root, 'ana'), log });
    friend.onEvent((e) => void (e.kind === 'event' && friendEvents.push(e.message)));
    await friend.start();
    await waitUntil(() => friend.connection.status === 'online', 'friend online');
    await waitUntil(() => controller.state.crew!.members.length === 2, 'friend in the crew');
  });

  afterAll(async () => {
    await controller?.stop();
    await friend?.stop();
    await relay?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  it('shares a track, and an incoming reaction plays an animation over about a second', async () => {
    expect(controller.currentScreen).toBe('crew');
    await controller.shareTrack(TRACK);
    await waitUntil(() => friendEvents.some((e) => e.type === 'message' && e.msg_type === 'song_push'), 'friend gets the share');
    const pushed = friendEvents.find((e) => e.type === 'message' && e.msg_type === 'song_push');
    expect(pushed).toMatchObject({ from_name: 'Kitchen', payload: { track: 'Joga', note: 'for you' } });
    // Reacting to one's own share is not offered.
    expect(await controller.react('fire')).toBeNull();

    controller.show('share');
    await controller.settled();
    const before = display.frames.length;
    await friend.send({ type: 'message', msg_type: 'reaction', payload: { reaction: 'love', to_device: controller.state.deviceId! } });
    await waitUntil(() => controller.state.flash !== null, 'reaction arrives');
    await controller.settled();
    const animation: Frame[] = [];
    for (let t = 0; t <= REACTION_ANIMATION_MS; t += 100) {
      animation.push(display.frames.at(-1)!);
      clock.advance(100);
      await controller.settled();
    }
    const frames = display.frames.slice(before);
    expect(frames.length).toBeGreaterThanOrEqual(8);
    expect(differs(animation[1]!, animation[5]!)).toBeGreaterThan(1000);
    // After the animation the share screen is back, now with one love on it.
    const last = display.frames.at(-1)!;
    expect(differs(last, animation[5]!)).toBeGreaterThan(1000);
    const share = controller.state.feed.find((i) => i.kind === 'share');
    expect(share?.kind === 'share' && share.reactions.map((r) => `${r.fromName}:${r.reaction}`)).toEqual(['Ana:love']);
  });

  it('switches to messages for an incoming text, counts it unread until seen, and navigates with buttons', async () => {
    await friend.send({ type: 'message', msg_type: 'text', payload: { text: 'records tonight?' } });
    await waitUntil(() => controller.currentScreen === 'messages', 'messages screen');
    expect(unreadCounts(controller.state).get(friend.deviceId!) ?? 0).toBe(0);

    // The menu is not interrupted: the nudge waits, unread, until the messages screen is shown.
    buttons.press('primary', 'long_press');
    expect(controller.currentScreen).toBe('menu');
    await friend.send({ type: 'message', msg_type: 'nudge', payload: {} });
    await waitUntil(() => controller.state.feed.some((i) => i.kind === 'nudge'), 'nudge arrives');
    expect(controller.currentScreen).toBe('menu');
    expect(unreadCounts(controller.state).get(friend.deviceId!)).toBe(1);
    buttons.press('next');
    buttons.press('secondary');
    expect(controller.currentScreen).toBe('messages');
    expect(unreadCounts(controller.state).get(friend.deviceId!) ?? 0).toBe(0);

    // prev/next walk the rotation (other parts add screens to it) and wrap around.
    const ids = controller.screens.rotation().map((s) => s.id);
    expect(ids).toEqual(expect.arrayContaining(['status', 'crew', 'share', 'messages']));
    const visited: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      buttons.press('next');
      visited.push(controller.currentScreen);
    }
    const from = ids.indexOf('messages');
    expect(visited).toEqual(ids.map((_, i) => ids[(from + 1 + i) % ids.length]));
    buttons.press('prev');
    expect(controller.currentScreen).toBe(ids[(from - 1 + ids.length) % ids.length]);
  });

  it("reacts fire to a friend's share with the secondary button", async () => {
    await friend.send({ type: 'message', msg_type: 'song_push', payload: { ...TRACK, track: 'Hunter' } });
    await waitUntil(() => latestShare(controller.state)?.share.track === 'Hunter' && controller.currentScreen === 'share', 'share screen with Hunter');
    buttons.press('secondary');
    await waitUntil(
      () => friendEvents.some((e) => e.type === 'message' && e.msg_type === 'reaction' && e.payload.reaction === 'fire'),
      'fire reaches the friend',
    );
    await waitUntil(() => controller.state.outboxPending === 0, 'reaction acked');
  });

  it('shows the recent feed again after a restart (the relay resumes after it, never resends it)', async () => {
    const before = controller.state.feed.map((item) => item.key);
    await controller.stop();
    display = new RecordingDisplay();
    ({ controller } = await startSimGadget({ relayUrl: relay.wsUrl, name: 'Kitchen', root, display, buttons, clock }));
    await waitUntil(() => controller.state.connection.status === 'online', 'controller back online');
    expect(controller.state.feed.map((item) => item.key)).toEqual(before);
    expect(latestShare(controller.state)?.share.track).toBe('Hunter');
    expect(latestShare(controller.state)?.reactions.map((r) => r.reaction)).toEqual(['fire']);
  });
});
