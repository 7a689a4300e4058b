import { ERROR_CODES } from '../../protocol/errors.js';
import type { SigninFailure } from './signin-handoff.js';
import type { SigninSessionRecord } from '../store/areas/tokens.js';

/*
 * The phone pages of the Spotify sign-in hand-off. Plain HTML with inline CSS (no scripts),
 * sized for a phone held in one hand; every sentence says what happened and what to do.
 */

export interface Page {
  readonly status: number;
  readonly html: string;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:17px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#101418;color:#eef2f5;
 display:flex;min-height:100vh;align-items:center;justify-content:center;padding:20px}
main{width:100%;max-width:420px;background:#1b2229;border-radius:18px;padding:28px 22px;overflow-wrap:anywhere}
h1{font-size:1.45em;line-height:1.2;margin:0 0 12px}
p{margin:0 0 14px;color:#c6d0d8}
.who{background:#242d36;border-radius:12px;padding:12px 14px;margin:0 0 18px}
.who b{color:#fff}
.mark{font-size:2.4em;margin:0 0 8px}
button,.button{display:block;width:100%;border:0;border-radius:999px;padding:15px 18px;font:inherit;font-weight:700;
 text-align:center;text-decoration:none;background:#1ed760;color:#06130a;cursor:pointer}
input{width:100%;font:inherit;font-size:1.3em;letter-spacing:.12em;text-transform:uppercase;padding:12px;border-radius:12px;
 border:1px solid #3a4652;background:#0f1418;color:#fff;margin:0 0 14px}
small{display:block;margin-top:16px;color:#8d9aa5}
`;

function layout(title: string, body: string, status = 200): Page {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · LEELOO</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
  return { status, html };
}

function who(session: SigninSessionRecord): string {
  const crew = session.crewName || session.crewCode;
  return `<p class="who">Gadget <b>${escapeHtml(session.deviceName)}</b>${crew ? ` in crew <b>${escapeHtml(crew)}</b>` : ' (not in a crew yet)'}</p>`;
}

export function landingPage(session: SigninSessionRecord, now: number): Page {
  const minutes = Math.max(1, Math.ceil((session.expiresAt - now) / 60_000));
  return layout(
    'Connect Spotify',
    `
<h1>Connect Spotify to your LEELOO</h1>
${who(session)}
<p>Sign in with your own Spotify account so this gadget can show what you play and put your crew's tracks into your Spotify.</p>
<form method="post" action="/s/${escapeHtml(session.code.replace('-', ''))}/continue"><button type="submit">Continue to Spotify</button></form>
<small>Code ${escapeHtml(session.code)} · this link works for ${minutes} more minute${minutes === 1 ? '' : 's'}. LEELOO only reads what you play and adds tracks when you ask.</small>`,
  );
}

export function successPage(session: SigninSessionRecord, spotifyName: string): Page {
  return layout(
    'Spotify connected',
    `
<div class="mark" aria-hidden="true">✓</div>
<h1>Spotify is connected</h1>
${who(session)}
<p>Signed in as <b>${escapeHtml(spotifyName)}</b>. Your gadget will show what you are playing in a moment; you can close this page.</p>`,
  );
}

/** The gadget built its own sign-in link (first/second generation): no session, only its id. */
export function legacySuccessPage(deviceName: string, delivered: boolean): Page {
  const when = delivered
    ? 'Your gadget has its sign-in now; you can close this page.'
    : 'Your gadget is offline right now: it gets its sign-in when it next connects, within the next hour. You can close this page.';
  return layout(
    'Spotify connected',
    `
<div class="mark" aria-hidden="true">✓</div>
<h1>Spotify is connected</h1>
<p class="who">Gadget <b>${escapeHtml(deviceName)}</b></p>
<p>${escapeHtml(when)}</p>`,
  );
}

export function codeEntryPage(wrongCode: string | null): Page {
  return layout(
    'Enter the code',
    `
<h1>Enter the code from your gadget</h1>
<p>The sign-in screen shows a code like <b>ABCD-EFGH</b> next to the QR code.</p>
${wrongCode !== null ? `<p class="who">“${escapeHtml(wrongCode.slice(0, 20))}” is not a sign-in code: it has 8 letters and digits.</p>` : ''}
<form method="get" action="/s"><input name="code" autocomplete="off" autocapitalize="characters" placeholder="ABCD-EFGH" required><button type="submit">Continue</button></form>`,
    wrongCode !== null ? 400 : 200,
  );
}

const FAILURES: Record<SigninFailure, { status: number; title: string; text: string }> = {
  invalid: {
    status: 404,
    title: 'This sign-in link is not valid',
    text: 'The link is incomplete or was never made by a gadget. On your LEELOO, open the menu (long press), choose “Re-pair Spotify” and scan the new code.',
  },
  expired: {
    status: 410,
    title: 'This sign-in link has expired',
    text: 'Sign-in links work for 10 minutes, and a newer one replaces the older. On your LEELOO, open the menu (long press), choose “Re-pair Spotify” and scan the new code.',
  },
  replaced: { status: 410, title: 'This sign-in was replaced', text: ERROR_CODES.spotify_signin_replaced },
  stale: { status: 410, title: 'This sign-in link was used or is stale', text: ERROR_CODES.spotify_signin_stale },
  rate_limited: { status: 429, title: 'Spotify asked to wait', text: ERROR_CODES.spotify_rate_limited },
  quota_exceeded: { status: 503, title: 'This Spotify app has used up its quota', text: ERROR_CODES.spotify_quota_exceeded },
  not_allowlisted: { status: 403, title: 'Ask your crew owner to add you', text: ERROR_CODES.spotify_not_allowlisted },
  app_unknown: { status: 502, title: 'Spotify does not know this app', text: ERROR_CODES.spotify_app_unknown },
  used: {
    status: 410,
    title: 'This sign-in link was already used',
    text: 'Each link signs in once. If your gadget does not show your music, open its menu (long press), choose “Re-pair Spotify” and scan the new code.',
  },
  denied: {
    status: 200,
    title: 'Spotify was not connected',
    text: 'You chose not to give LEELOO access, so nothing was shared. To try again, scan the code on the gadget again.',
  },
  spotify_down: {
    status: 502,
    title: 'Spotify is not answering',
    text: 'Spotify did not complete the sign-in. Wait a minute, then open the same link again (it still works until it expires).',
  },
  wrong_crew: {
    status: 409,
    title: 'This link is for another crew',
    text: 'The gadget changed crews since this link was made, so it cannot be used. Start the sign-in again from the gadget.',
  },
  legacy_rate_limited: {
    status: 429,
    title: 'Too many sign-in attempts',
    text: 'This gadget received several Spotify sign-ins in a short time, so the relay is pausing them. Wait a few minutes, then start the Spotify setup on the gadget again.',
  },
  code_rejected: {
    status: 400,
    title: 'Spotify did not accept this sign-in',
    text: 'The sign-in was already used or has run out, so the gadget was not connected. Start the Spotify setup on the gadget again and scan its new code.',
  },
  legacy_spotify_down: {
    status: 502,
    title: 'Spotify is not answering',
    text: 'Spotify did not complete the sign-in, so the gadget was not connected. Wait a minute, then start the Spotify setup on the gadget again and scan its new code.',
  },
  not_configured: {
    status: 503,
    title: 'Spotify sign-in is not set up here',
    text: 'This relay has no Spotify app configured. Ask the person who runs it, or the crew owner, to register one.',
  },
};

/** `retryAfterMs` (rate_limited): how long Spotify asked to wait before the same link is opened again. */
export function failurePage(failure: SigninFailure, session?: SigninSessionRecord, retryAfterMs?: number): Page {
  const f = FAILURES[failure];
  const again = failure === 'spotify_down' || failure === 'rate_limited';
  const retry = again && session ? `<a class="button" href="/s/${escapeHtml(session.code.replace('-', ''))}">Try again</a>` : '';
  const wait = failure === 'rate_limited' ? `<p class="who">Wait <b id="wait">${escapeHtml(waitText(retryAfterMs ?? 1000))}</b>, then try again.</p>` : '';
  return layout(
    f.title,
    `
<div class="mark" aria-hidden="true">!</div>
<h1>${escapeHtml(f.title)}</h1>
${session ? who(session) : ''}
<p>${escapeHtml(f.text)}</p>${wait}${retry}`,
    f.status,
  );
}

/** "45 seconds", "10 minutes". */
function waitText(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 120) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}
