import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SystemdNotifier } from '../../device/systemd-notify.js';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function rig(env: NodeJS.ProcessEnv, extra: { healthy?: () => boolean; fail?: boolean } = {}) {
  const sent: string[][] = [];
  const errors: unknown[] = [];
  const notifier = new SystemdNotifier({
    env,
    pid: 4242,
    run: async (args) => {
      sent.push(args);
      if (extra.fail) throw new Error('spawn systemd-notify ENOENT');
    },
    healthy: extra.healthy,
    onError: (e) => errors.push(e),
  });
  return { notifier, sent, errors };
}

const UNDER_SYSTEMD = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '4242' };

describe('SystemdNotifier', () => {
  it('sends READY=1 with the main pid and a status', async () => {
    const { notifier, sent } = rig(UNDER_SYSTEMD);
    await notifier.ready('showing now playing');
    expect(sent).toEqual([['--pid=4242', 'READY=1', 'STATUS=showing now playing']]);
  });

  it('pings the watchdog at half its timeout until stopped', async () => {
    const { notifier, sent } = rig(UNDER_SYSTEMD);
    expect(notifier.watchdogIntervalMs).toBe(15_000);
    notifier.start();
    await vi.advanceTimersByTimeAsync(14_999);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(30_001);
    expect(sent).toEqual([
      ['--pid=4242', 'WATCHDOG=1'],
      ['--pid=4242', 'WATCHDOG=1'],
      ['--pid=4242', 'WATCHDOG=1'],
    ]);
    await notifier.stopping();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent.at(-1)).toEqual(['--pid=4242', 'STOPPING=1']);
    expect(sent).toHaveLength(4);
  });

  it('skips pings while the daemon reports itself unhealthy', async () => {
    let healthy = false;
    const { notifier, sent } = rig(UNDER_SYSTEMD, { healthy: () => healthy });
    notifier.start();
    await vi.advanceTimersByTimeAsync(15_000);
    expect(sent).toEqual([]);
    healthy = true;
    await vi.advanceTimersByTimeAsync(15_000);
    expect(sent).toEqual([['--pid=4242', 'WATCHDOG=1']]);
    notifier.stop();
  });

  it('is a no-op outside systemd and without a watchdog for this pid', async () => {
    const outside = rig({});
    outside.notifier.start();
    await outside.notifier.ready();
    await vi.advanceTimersByTimeAsync(100_000);
    expect(outside.sent).toEqual([]);
    expect(outside.notifier.enabled).toBe(false);
    expect(rig({ ...UNDER_SYSTEMD, WATCHDOG_PID: '1' }).notifier.watchdogIntervalMs).toBeNull();
    expect(rig({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: 'soon' }).notifier.watchdogIntervalMs).toBeNull();
  });

  it('reports a missing systemd-notify instead of crashing', async () => {
    const { notifier, errors } = rig(UNDER_SYSTEMD, { fail: true });
    await expect(notifier.ready()).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
