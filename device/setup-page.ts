import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { escapeHtml } from './mirror-page.js';
import type { WifiNetwork } from './network.js';
import { parseSetupForm, type FieldError, type SetupAnswers } from './setup-form.js';

/**
 * The setup page the phone opens on the gadget's access point. It answers the phones'
 * captive-portal probes with a redirect to itself, so iOS and Android open it by
 * themselves after joining; the form's answers go to `onSubmit` (device/setup-mode.ts).
 */

/** Connectivity probes: iOS/macOS, Android/ChromeOS, Windows, Firefox. Anything but their expected answer means "captive portal". */
export const CAPTIVE_PROBE_PATHS = [
  '/hotspot-detect.html',
  '/library/test/success.html',
  '/generate_204',
  '/gen_204',
  '/connecttest.txt',
  '/ncsi.txt',
  '/redirect',
  '/canonical.html',
  '/success.txt',
] as const;

export type SetupProgress = { state: 'waiting'; error: string | null } | { state: 'connecting'; ssid: string } | { state: 'connected'; ssid: string };

export interface SetupPageOptions {
  readonly host: string;
  readonly port: number;
  /** Address shown on the gadget's screen and used in redirects, e.g. http://10.42.0.1/ */
  readonly address: string;
  readonly networks: () => readonly WifiNetwork[];
  /** The relay the form is prefilled with. */
  readonly relayUrl: string;
  readonly deviceName: string;
  readonly progress: () => SetupProgress;
  /** Called with valid answers; the page then shows the progress. */
  readonly onSubmit: (answers: SetupAnswers) => void;
}

const MAX_BODY = 16 * 1024;

export class SetupPage {
  private server: http.Server | null = null;
  private origin = '';

  constructor(private readonly options: SetupPageOptions) {}

  /** The page's URL (http://<address>[:port]/). */
  get url(): string {
    return this.origin;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => void this.handle(req, res).catch(() => send(res, 500, 'text/plain', 'The setup page failed; reload it.')));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    this.server = server;
    const port = (server.address() as AddressInfo).port;
    this.origin = `http://${this.options.address}${port === 80 ? '' : `:${port}`}/`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://setup.invalid');
    if (req.method === 'POST' && url.pathname === '/setup') return this.submit(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'Only GET and POST here.');
    if (url.pathname === '/' || url.pathname === '/setup') return send(res, 200, 'text/html; charset=utf-8', this.formPage({}, []));
    if (url.pathname === '/status') return send(res, 200, 'application/json', JSON.stringify(this.options.progress()));
    // Probes and every other address a phone tries: to the setup page (a 302 is what makes phones show the portal).
    res.writeHead(302, { Location: this.origin, 'Cache-Control': 'no-store' });
    res.end();
  }

  private async submit(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body === null) return send(res, 413, 'text/plain', 'The form is larger than the gadget accepts.');
    const fields = Object.fromEntries(new URLSearchParams(body));
    const parsed = parseSetupForm(fields);
    if (!parsed.ok) return send(res, 400, 'text/html; charset=utf-8', this.formPage(fields, parsed.errors));
    // The gadget leaves its access point next: let the answer reach the phone first.
    res.once('finish', () => this.options.onSubmit(parsed.answers));
    send(res, 200, 'text/html; charset=utf-8', progressPage(parsed.answers.wifi.ssid));
  }

  private formPage(fields: Record<string, string>, errors: readonly FieldError[]): string {
    const progress = this.options.progress();
    const failure = progress.state === 'waiting' ? progress.error : null;
    const value = (name: string, fallback = ''): string => escapeHtml(fields[name] ?? fallback);
    const errorOf = (field: FieldError['field']): string => {
      const found = errors.find((e) => e.field === field);
      return found ? `<p class="error" id="${field}-error" role="alert">${escapeHtml(found.message)}</p>` : '';
    };
    const chosen = fields.ssid;
    const options = this.options
      .networks()
      .map(
        (n) =>
          `<option value="${escapeHtml(n.ssid)}"${chosen === n.ssid ? ' selected' : ''}>${escapeHtml(n.ssid)} ${n.security ? '🔒' : '(open)'} · ${bars(n.signal)}</option>`,
      )
      .join('');
    const join = fields.crew === 'join';
    return shell(
      'Set up your LEELOO',
      `<h1>Set up your LEELOO</h1>
${failure ? `<p class="error banner" role="alert" id="failure">${escapeHtml(failure)}</p>` : ''}
<form method="post" action="/setup" novalidate>
  <label for="ssid">Home Wi-Fi</label>
  <select id="ssid" name="ssid">
    <option value="">Choose your network…</option>${options}
    <option value="__hidden__"${chosen === '__hidden__' ? ' selected' : ''}>Another network (hidden)…</option>
  </select>
  <input id="hiddenSsid" name="hiddenSsid" placeholder="Name of the hidden network" value="${value('hiddenSsid')}" autocapitalize="none" autocorrect="off">
  ${errorOf('ssid')}
  <label for="password">Wi-Fi password</label>
  <input id="password" name="password" type="password" value="${value('password')}" autocomplete="off" autocapitalize="none">
  ${errorOf('password')}
  <label for="name">Name of this gadget</label>
  <input id="name" name="name" value="${value('name', this.options.deviceName)}" maxlength="32">
  ${errorOf('name')}
  <fieldset><legend>Crew</legend>
    <label class="choice"><input type="radio" name="crew" value="new"${join ? '' : ' checked'}> Start a new crew</label>
    <label class="choice"><input type="radio" name="crew" value="join"${join ? ' checked' : ''}> Join a friend’s crew</label>
    <input id="crewCode" name="crewCode" placeholder="LEELOO-7KQ2" value="${value('crewCode')}" autocapitalize="characters" autocorrect="off">
    ${errorOf('crew')}${errorOf('crewCode')}
  </fieldset>
  <details${errors.some((e) => e.field === 'relayUrl') ? ' open' : ''}><summary>Relay address</summary>
    <input id="relayUrl" name="relayUrl" value="${value('relayUrl', this.options.relayUrl)}" autocapitalize="none" autocorrect="off">
  </details>
  ${errorOf('relayUrl')}
  <button type="submit" id="done">Done</button>
</form>`,
    );
  }
}

function bars(signal: number): string {
  return signal >= 70 ? '▮▮▮' : signal >= 40 ? '▮▮▯' : '▮▯▯';
}

/** After "Done": the gadget leaves its access point, so the page watches until it comes back (failure) or goes quiet (success). */
function progressPage(ssid: string): string {
  return shell(
    'Connecting…',
    `<h1>Connecting…</h1>
<p id="progress">Your LEELOO is joining “${escapeHtml(ssid)}”. Watch its screen: it says when it is connected, then shows your crew and a code to sign in to Spotify.</p>
<p class="muted">If the network does not work, the gadget opens its own Wi-Fi again and this page tells you why.</p>
<script>
const progress = document.getElementById('progress');
async function poll() {
  try {
    const res = await fetch('/status', { cache: 'no-store' });
    const status = await res.json();
    if (status.state === 'waiting') { location.href = '/'; return; }
    if (status.state === 'connected') { progress.textContent = 'Connected to ' + status.ssid + '. You can close this page and rejoin your home Wi-Fi.'; return; }
  } catch {}
  setTimeout(poll, 1500);
}
setTimeout(poll, 1500);
</script>`,
  );
}

function shell(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;background:#101218;color:#f2f2f5;margin:0;padding:20px;max-width:480px}
h1{color:#ff5c8a;font-size:24px}
label,legend{display:block;margin:16px 0 6px;font-weight:600}
label.choice{font-weight:400;margin:8px 0}
input,select,button{font-size:17px;width:100%;box-sizing:border-box;padding:12px;border-radius:10px;border:1px solid #3a4050;background:#1b1f2a;color:#f2f2f5}
input[type=radio]{width:auto;margin-right:8px}
fieldset{border:0;padding:0;margin:0}
summary{margin-top:16px;color:#9aa0ae}
button{margin-top:24px;background:#ff5c8a;border:0;color:#101218;font-weight:700}
.error{color:#ff8a7a;margin:6px 0}.banner{background:#3a1d22;padding:12px;border-radius:10px}
.muted{color:#9aa0ae}
</style></head><body>${body}</body></html>`;
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
