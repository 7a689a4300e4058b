import { execFile } from 'node:child_process';

/**
 * Tells systemd the daemon is ready (Type=notify) and keeps its watchdog fed.
 * Node has no AF_UNIX datagram sockets without a native addon, so the messages go
 * through the `systemd-notify` tool. Its process, not ours, sends them, which is why
 * the unit sets NotifyAccess=all; it passes --pid so systemd knows the main PID, and
 * it waits until systemd has read the message, so the message is never lost to the
 * child exiting first (systemd ≥ 246). Without NOTIFY_SOCKET all of this is a no-op.
 */
export type NotifyRunner = (args: string[]) => Promise<void>;

export interface SystemdNotifyOptions {
  env?: NodeJS.ProcessEnv;
  pid?: number;
  run?: NotifyRunner;
  /** Checked before each watchdog ping; a daemon that is stuck stops pinging and gets restarted. */
  healthy?: () => boolean;
  onError?: (error: unknown) => void;
}

export const runSystemdNotify: NotifyRunner = (args) =>
  new Promise((resolve, reject) => {
    execFile('systemd-notify', args, { timeout: 5000 }, (error) => (error ? reject(error) : resolve()));
  });

export class SystemdNotifier {
  readonly enabled: boolean;
  /** Ping interval: half of WATCHDOG_USEC, or null when the unit has no watchdog for us. */
  readonly watchdogIntervalMs: number | null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly pid: number;
  private readonly run: NotifyRunner;

  constructor(private readonly options: SystemdNotifyOptions = {}) {
    const env = options.env ?? process.env;
    this.pid = options.pid ?? process.pid;
    this.run = options.run ?? runSystemdNotify;
    this.enabled = Boolean(env.NOTIFY_SOCKET);
    this.watchdogIntervalMs = this.enabled ? watchdogInterval(env, this.pid) : null;
  }

  /** Starts the watchdog pings. */
  start(): void {
    if (this.watchdogIntervalMs === null || this.timer) return;
    this.timer = setInterval(() => void this.ping(), this.watchdogIntervalMs);
  }

  async ready(status?: string): Promise<void> {
    await this.send(['READY=1', ...(status ? [`STATUS=${status}`] : [])]);
  }

  async status(text: string): Promise<void> {
    await this.send([`STATUS=${text}`]);
  }

  async stopping(): Promise<void> {
    this.stop();
    await this.send(['STOPPING=1']);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async ping(): Promise<void> {
    if (this.options.healthy && !this.options.healthy()) return;
    await this.send(['WATCHDOG=1']);
  }

  private async send(assignments: string[]): Promise<void> {
    if (!this.enabled) return;
    try {
      await this.run([`--pid=${this.pid}`, ...assignments]);
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}

function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  // WATCHDOG_PID names the process the watchdog is meant for; another one must not ping.
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}
