import { execFile } from 'node:child_process';
import { ERROR_CODES } from '../protocol/index.js';

/**
 * The gadget's Wi-Fi, as setup mode needs it: is it online, which networks are around,
 * its own access point, joining a home network. The real implementation drives
 * NetworkManager through `nmcli` (Raspberry Pi OS Bookworm and later); tests put a fake
 * `nmcli` on PATH.
 */
export interface Network {
  /** Waits up to timeoutMs for a working connection (NetworkManager may still be connecting at boot). */
  waitOnline(timeoutMs: number): Promise<boolean>;
  /** Networks in range, strongest first, one entry per name. Not possible while the access point is up. */
  scan(): Promise<WifiNetwork[]>;
  /** Opens the gadget's own access point (WPA2). */
  startHotspot(ssid: string, password: string): Promise<void>;
  /** Closes it again; nothing happens when it is not open. */
  stopHotspot(): Promise<void>;
  /** Joins a network and makes it the one the gadget comes back to. Throws NetworkError. */
  connect(wifi: WifiChoice): Promise<void>;
  /** Deletes every saved Wi-Fi profile (a factory reset keeps no one's passwords). */
  forgetWifi(): Promise<void>;
}

export interface WifiNetwork {
  readonly ssid: string;
  /** 0–100 as nmcli reports it. */
  readonly signal: number;
  /** '' for an open network, else e.g. 'WPA2' or 'WPA1 WPA2'. */
  readonly security: string;
}

export interface WifiChoice {
  readonly ssid: string;
  /** '' for an open network. */
  readonly password: string;
  /** A network that does not broadcast its name. */
  readonly hidden: boolean;
}

export type NetworkErrorCode = 'wifi_not_found' | 'wifi_wrong_password' | 'wifi_failed' | 'network_unavailable';

export class NetworkError extends Error {
  constructor(
    readonly code: NetworkErrorCode,
    message: string = ERROR_CODES[code],
  ) {
    super(message);
    this.name = 'NetworkError';
  }
}

/** Splits one line of nmcli's terse output (`-t`) into fields: `:` separates, `\:` and `\\` are literal. */
export function splitTerse(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (ch === '\\' && i + 1 < line.length) {
      field += line[++i];
    } else if (ch === ':') {
      fields.push(field);
      field = '';
    } else {
      field += ch;
    }
  }
  fields.push(field);
  return fields;
}

/** `SSID,SIGNAL,SECURITY` lines → networks: hidden ones (no name) dropped, one entry per name, strongest first. */
export function parseWifiList(output: string): WifiNetwork[] {
  const best = new Map<string, WifiNetwork>();
  for (const line of output.split('\n')) {
    if (!line.trim()) continue;
    const [ssid = '', signal = '0', security = ''] = splitTerse(line);
    if (!ssid) continue;
    const network = { ssid, signal: Number.parseInt(signal, 10) || 0, security: security === '--' ? '' : security.trim() };
    const seen = best.get(ssid);
    if (!seen || seen.signal < network.signal) best.set(ssid, network);
  }
  return [...best.values()].sort((a, b) => b.signal - a.signal || a.ssid.localeCompare(b.ssid));
}

/** nmcli's exit code and message → what the person should be told. */
export function networkErrorFrom(exitCode: number | null, stderr: string, ssid: string): NetworkError {
  const said = stderr
    .replace(/^Error:\s*/m, '')
    .trim()
    .replace(/\.$/, '');
  if (exitCode === 8 || /NetworkManager is not running/i.test(said)) return new NetworkError('network_unavailable');
  if (exitCode === 10 || /No network with SSID/i.test(said)) {
    return new NetworkError(
      'wifi_not_found',
      `The gadget cannot see a Wi-Fi network called "${ssid}"; check the name (it is case-sensitive), or move the gadget closer to the router.`,
    );
  }
  if (/secrets were required|802-1x supplicant|psk: property is invalid|invalid passphrase|password.*(wrong|invalid)/i.test(said)) {
    return new NetworkError('wifi_wrong_password', `"${ssid}" refused the password; type it again (it is case-sensitive).`);
  }
  if (exitCode === 3) return new NetworkError('wifi_failed', `"${ssid}" did not answer in time; move the gadget closer to the router and try again.`);
  return new NetworkError('wifi_failed', `The gadget could not join "${ssid}": ${said || `nmcli exited with ${exitCode}`}.`);
}

export interface NmcliOptions {
  /** Wi-Fi interface; wlan0 on a Pi. */
  readonly ifname: string;
  /** Name of the hotspot's connection profile, so it can be taken down again. */
  readonly hotspotName?: string;
  /** The executable; 'nmcli' found on PATH. */
  readonly command?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Seconds nmcli waits for a connection to come up. */
  readonly waitSeconds?: number;
}

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** NetworkManager through nmcli. */
export class NmcliNetwork implements Network {
  private readonly hotspotName: string;
  private readonly waitSeconds: number;

  constructor(private readonly options: NmcliOptions) {
    this.hotspotName = options.hotspotName ?? 'leeloo-setup';
    this.waitSeconds = options.waitSeconds ?? 45;
  }

  async waitOnline(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const { code, stdout } = await this.run(['-t', '-f', 'STATE', 'general']);
      const state = stdout.trim();
      if (code === 0 && state === 'connected') return true;
      // "connecting" (and "connected (site only)" while the route comes up) are worth waiting for.
      if (code !== 0 || !state.startsWith('connect') || Date.now() >= until) return false;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async scan(): Promise<WifiNetwork[]> {
    const result = await this.run(['-t', '-f', 'SSID,SIGNAL,SECURITY', 'device', 'wifi', 'list', 'ifname', this.options.ifname, '--rescan', 'yes']);
    if (result.code !== 0) throw networkErrorFrom(result.code, result.stderr, '');
    return parseWifiList(result.stdout);
  }

  async startHotspot(ssid: string, password: string): Promise<void> {
    const result = await this.run([
      'device',
      'wifi',
      'hotspot',
      'ifname',
      this.options.ifname,
      'con-name',
      this.hotspotName,
      'ssid',
      ssid,
      'password',
      password,
    ]);
    if (result.code !== 0) throw networkErrorFrom(result.code, result.stderr, ssid);
  }

  async stopHotspot(): Promise<void> {
    // Deleting (not just downing) the profile keeps NetworkManager from bringing the AP back by itself.
    const result = await this.run(['connection', 'delete', 'id', this.hotspotName]);
    if (result.code !== 0 && result.code !== 10) throw networkErrorFrom(result.code, result.stderr, this.hotspotName);
  }

  async connect(wifi: WifiChoice): Promise<void> {
    const args = ['--wait', String(this.waitSeconds), 'device', 'wifi', 'connect', wifi.ssid];
    if (wifi.password) args.push('password', wifi.password);
    args.push('ifname', this.options.ifname);
    if (wifi.hidden) args.push('hidden', 'yes');
    const result = await this.run(args);
    if (result.code !== 0) throw networkErrorFrom(result.code, result.stderr, wifi.ssid);
  }

  async forgetWifi(): Promise<void> {
    const list = await this.run(['-t', '-f', 'NAME,TYPE', 'connection', 'show']);
    if (list.code !== 0) throw networkErrorFrom(list.code, list.stderr, '');
    const names = list.stdout
      .split('\n')
      .map(splitTerse)
      .filter(([, type]) => type === '802-11-wireless')
      .map(([name]) => name as string);
    for (const name of names) {
      const result = await this.run(['connection', 'delete', 'id', name]);
      if (result.code !== 0 && result.code !== 10) throw networkErrorFrom(result.code, result.stderr, name);
    }
  }

  private run(args: string[]): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      execFile(
        this.options.command ?? 'nmcli',
        args,
        { env: this.options.env ?? process.env, timeout: (this.waitSeconds + 30) * 1000 },
        (error, stdout, stderr) => {
          const errno = error as (NodeJS.ErrnoException & { code?: unknown }) | null;
          if (errno && errno.code === 'ENOENT')
            return reject(
              new NetworkError('network_unavailable', 'nmcli is not installed; setup mode needs NetworkManager (Raspberry Pi OS Bookworm or later).'),
            );
          const code = errno ? (typeof errno.code === 'number' ? errno.code : 1) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
    });
  }
}
