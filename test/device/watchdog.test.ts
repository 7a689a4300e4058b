import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RENDER_STALL_MS, type Controller } from '../../device/controller.js';
import type { Buttons, Frame } from '../../device/hardware.js';
import { SystemdNotifier } from '../../device/systemd-notify.js';
import { ManualClock } from '../fakes/manual-clock.js';
import { RecordingDisplay } from '../fakes/recording-display.js';
import { startSimGadget } from '../helpers/sim-gadget.js';
import { waitUntil } from '../helpers/wait-until.js';

/** A display whose bus wedges on demand: present() does not return until it is freed. */
class WedgingDisplay extends RecordingDisplay {
  wedged = false;
  private free: (() => void) | null = null;
  override async present(frame: Frame): Promise<void> {
    if (this.wedged) await new Promise<void>((resolve) => (this.free = resolve));
    await super.present(frame);
  }
  unwedge(): void {
    this.wedged = false;
    this.free?.();
  }
}

const noButtons: Buttons = { start: async () => {}, stop: async () => {}, onEvent: () => () => undefined };

let root: string;
let controller: Controller | null = null;
let notifier: SystemdNotifier | null = null;
let silent: Server;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'leeloo-watchdog-'));
  // A relay that accepts TCP and never answers the WebSocket upgrade: the client keeps trying.
  silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
});

afterEach(async () => {
  notifier?.stop();
  await controller?.stop();
  controller = null;
  silent.close();
  await rm(root, { recursive: true, force: true });
});

describe('the systemd watchdog', () => {
  it('stops pinging while a frame is wedged and resumes once it returns', async () => {
    const clock = new ManualClock(Date.now());
    const display = new WedgingDisplay();
    const port = (silent.address() as { port: number }).port;
    ({ controller } = await startSimGadget({ relayUrl: `ws://127.0.0.1:${port}/ws`, name: 'Kitchen', root, display, buttons: noButtons, clock }));
    const gadget = controller!;
    await display.waitForFrames(1);
    const pings: number[] = [];
    notifier = new SystemdNotifier({
      env: { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '20000' },
      run: async (args) => {
        if (args.includes('WATCHDOG=1')) pings.push(clock.now());
      },
      healthy: () => gadget.healthy(),
    });
    notifier.start();
    await waitUntil(() => pings.length >= 2, 'pings while healthy');
    expect(gadget.relay.alive).toBe(true);

    display.wedged = true;
    gadget.invalidate();
    clock.advance(RENDER_STALL_MS + 1);
    const before = pings.length;
    let checks = 0;
    const counter = setInterval(() => checks++, 10);
    await waitUntil(() => checks >= 6, 'six watchdog intervals');
    clearInterval(counter);
    // One ping may have been on its way when the frame wedged; none after.
    expect(pings.length - before).toBeLessThanOrEqual(1);
    expect(gadget.healthy()).toBe(false);

    display.unwedge();
    await gadget.settled();
    const after = pings.length;
    await waitUntil(() => pings.length >= after + 2, 'pings after the frame returned');
  });

  it('is unhealthy once the relay client stops working at its connection', async () => {
    const port = (silent.address() as { port: number }).port;
    ({ controller } = await startSimGadget({
      relayUrl: `ws://127.0.0.1:${port}/ws`,
      name: 'Kitchen',
      root,
      display: new RecordingDisplay(),
      buttons: noButtons,
      clock: new ManualClock(Date.now()),
    }));
    expect(controller!.healthy()).toBe(true);
    await controller!.relay.stop();
    expect(controller!.relay.alive).toBe(false);
    expect(controller!.healthy()).toBe(false);
  });
});
