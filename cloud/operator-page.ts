import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response } from 'express';
import { adminTokenMatches, adminTokenDigest } from './admin-auth.js';
import { escapeHtml, formatUptime } from './landing-page.js';
import type { Logger } from './log.js';
import type { ErrorCounter } from './metrics.js';
import type { SessionRegistry } from './sessions.js';
import { readLastBackup, type LastBackup } from './store/backup.js';
import { SQLITE_FILE_NAME, type Store } from './store/store.js';
import { cookieValue } from './http-cookies.js';

/**
 * The operator's status page, `/operator`: crews, gadgets online by generation, store
 * size, last backup, Spotify app usage against development mode's five users per app, and
 * recent errors by code. Behind ADMIN_TOKEN: sent as a bearer, or typed once into the
 * page's form, which keeps a digest of it in an HttpOnly cookie for this path only.
 */

/** Spotify's development mode lets an app sign in at most this many users. */
export const SPOTIFY_DEV_MODE_USERS = 5;
const COOKIE = 'leeloo_operator';
const RECENT_ERRORS_MS = 3_600_000;
const CREWS_SHOWN = 200;

export interface OperatorDeps {
  readonly store: Store;
  readonly registry: SessionRegistry;
  readonly errors: ErrorCounter;
  readonly log: Logger;
  readonly dataDir: string;
  readonly version: string;
  readonly startedAt: number;
  readonly adminToken: string | undefined;
  /** The relay's own Spotify app (SPOTIFY_CLIENT_ID), shared by crews without their own. */
  readonly relayClientId: string | undefined;
}

export interface CrewUsage {
  readonly crewName: string;
  readonly members: number;
  readonly online: number;
  readonly latestSeq: number;
  /** `own`: the crew registered its Spotify app; `relay`: the relay's; `none`: no app. */
  readonly app: 'own' | 'relay' | 'none';
  /** Members signed in to Spotify (live grants) with the crew's app. */
  readonly spotifyUsers: number;
}

export interface OperatorStatus {
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly crews: number;
  readonly devices: number;
  readonly events: number;
  readonly gadgetsOnline: { legacy: number; current: number };
  readonly storeKind: string;
  readonly storeBytes: number | null;
  readonly lastBackup: LastBackup | null;
  readonly crewUsage: CrewUsage[];
  /** Users signed in with the relay's own app, across every crew that uses it. */
  readonly relayAppUsers: number;
  readonly recentErrors: { code: string; count: number }[];
}

export async function collectOperatorStatus(deps: OperatorDeps, now = Date.now()): Promise<OperatorStatus> {
  const { store, registry } = deps;
  const counts = { ...(await store.crews.counts()), events: await store.log.countEvents() };
  const crewUsage: CrewUsage[] = [];
  let relayAppUsers = 0;
  for (const crew of await store.crews.listCrews({ limit: CREWS_SHOWN })) {
    const own = await store.tokens.getCrewApp(crew.crewId);
    const clientId = own?.clientId ?? deps.relayClientId;
    const members = await store.crews.listMembers(crew.crewId);
    const grants = await Promise.all(members.map((m) => store.tokens.getGrant(m.deviceId)));
    const spotifyUsers = grants.filter((g) => g?.status === 'live' && g.clientId === clientId).length;
    if (!own && clientId) relayAppUsers += spotifyUsers;
    crewUsage.push({
      crewName: crew.crewName,
      members: members.length,
      online: members.filter((m) => registry.isOnline(m.deviceId)).length,
      latestSeq: crew.latestSeq,
      app: own ? 'own' : clientId ? 'relay' : 'none',
      spotifyUsers,
    });
  }
  return {
    version: deps.version,
    uptimeSeconds: Math.round((now - deps.startedAt) / 1000),
    ...counts,
    gadgetsOnline: registry.gadgetsOnline(),
    storeKind: store.kind,
    storeBytes: store.kind === 'sqlite' ? sqliteBytes(deps.dataDir) : null,
    lastBackup: readLastBackup(deps.dataDir),
    crewUsage,
    relayAppUsers,
    recentErrors: deps.errors.recentByCode(now - RECENT_ERRORS_MS),
  };
}

/** The database file and its WAL: what the store takes on disk. */
function sqliteBytes(dataDir: string): number | null {
  const file = path.join(dataDir, SQLITE_FILE_NAME);
  let total = 0;
  for (const part of [file, `${file}-wal`]) {
    try {
      total += fs.statSync(part).size;
    } catch {
      if (part === file) return null;
    }
  }
  return total;
}

const digestOf = (value: string) => createHash('sha256').update(value).digest();

export function operatorRoutes(deps: OperatorDeps): express.Router {
  const router = express.Router();
  const signedIn = (req: Request) => {
    const bearer = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) return adminTokenMatches(deps.adminToken, bearer);
    const cookie = cookieValue(req.headers.cookie, COOKIE);
    return cookie !== null && deps.adminToken !== undefined && timingSafeEqual(digestOf(cookie), digestOf(adminTokenDigest(deps.adminToken)));
  };
  const refuse = (res: Response, status: 401 | 503, notice: string) => res.status(status).type('html').send(renderSignIn(notice));

  router.use('/operator', (_req, res, next) => {
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-frame-options', 'DENY');
    next();
  });

  router.get('/operator', async (req, res) => {
    if (!deps.adminToken) return refuse(res, 503, 'The operator page is off: set ADMIN_TOKEN in the relay’s environment.');
    if (!signedIn(req)) return refuse(res, 401, 'Enter the relay’s ADMIN_TOKEN to see its status.');
    try {
      res.type('html').send(renderOperatorPage(await collectOperatorStatus(deps)));
    } catch (error) {
      deps.log.error({ err: error }, 'operator page failed');
      res.status(500).type('html').send(renderSignIn('The relay could not read its status just now; try again shortly.'));
    }
  });

  router.post('/operator', express.urlencoded({ extended: false, limit: '2kb' }), (req, res) => {
    if (!deps.adminToken) return refuse(res, 503, 'The operator page is off: set ADMIN_TOKEN in the relay’s environment.');
    const token = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    if (!adminTokenMatches(deps.adminToken, token)) {
      deps.log.warn({ remote: req.ip }, 'operator sign-in refused: wrong token');
      return refuse(res, 401, 'That is not this relay’s ADMIN_TOKEN.');
    }
    res.cookie(COOKIE, adminTokenDigest(deps.adminToken), {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure,
      path: '/operator',
      maxAge: 12 * 3_600_000,
    });
    res.redirect(303, '/operator');
  });

  return router;
}

const STYLE = `
  body { font-family: system-ui, sans-serif; background: #111; color: #eee; margin: 0; padding: 2rem 1rem; }
  main { max-width: 52rem; margin: 0 auto; }
  h1 { color: #ff5fa2; letter-spacing: .08em; margin-bottom: .2rem; }
  h2 { color: #ccc; font-size: 1.05rem; margin-top: 2rem; }
  table { border-collapse: collapse; width: 100%; margin: .6rem 0; }
  th, td { text-align: left; padding: .4rem .3rem; border-bottom: 1px solid #333; }
  th { color: #999; font-weight: normal; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  .over { color: #f66; font-weight: bold; } .warn { color: #fc6; } .muted { color: #888; }
  input, button { font: inherit; padding: .4rem .6rem; }`;

const page = (title: string, body: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>${STYLE}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;

function renderSignIn(notice: string): string {
  return page(
    'LEELOO relay · operator',
    `<h1>LEELOO</h1>
<p>${escapeHtml(notice)}</p>
<form method="post" action="/operator">
<label>Admin token <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Show status</button>
</form>`,
  );
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** "n / 5", marked when the app is full or over (Spotify refuses the next sign-in). */
function budget(users: number): string {
  const cls = users > SPOTIFY_DEV_MODE_USERS ? 'over' : users === SPOTIFY_DEV_MODE_USERS ? 'warn' : '';
  return `<td class="n${cls ? ` ${cls}` : ''}">${users} / ${SPOTIFY_DEV_MODE_USERS}</td>`;
}

export function renderOperatorPage(status: OperatorStatus): string {
  const rows = (items: [string, string][]) => items.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n');
  const backup = status.lastBackup ? `${status.lastBackup.at} (${status.lastBackup.folder})` : 'none recorded (npx tsx scripts/backup.ts --to DIR)';
  const crews = status.crewUsage.map((c) => {
    const app = c.app === 'own' ? 'own app' : c.app === 'relay' ? 'relay app' : 'no app';
    return `<tr><td>${escapeHtml(c.crewName)}</td><td class="n">${c.online} / ${c.members}</td><td class="n">${c.latestSeq}</td><td>${app}</td>${c.app === 'own' ? budget(c.spotifyUsers) : `<td class="n muted">${c.spotifyUsers}</td>`}</tr>`;
  });
  const errors = status.recentErrors.map((e) => `<tr><td><code>${escapeHtml(e.code)}</code></td><td class="n">${e.count}</td></tr>`);
  return page(
    'LEELOO relay · status',
    `<h1>LEELOO</h1>
<p class="muted">Relay status for its operator.</p>
<table>
${rows([
  ['Version', status.version],
  ['Uptime', formatUptime(status.uptimeSeconds)],
  ['Crews', String(status.crews)],
  ['Gadgets known', String(status.devices)],
  ['Gadgets online (current)', String(status.gadgetsOnline.current)],
  ['Gadgets online (first/second generation)', String(status.gadgetsOnline.legacy)],
  ['Crew events stored', String(status.events)],
  ['Store', status.storeBytes === null ? status.storeKind : `${status.storeKind}, ${formatBytes(status.storeBytes)}`],
  ['Last backup', backup],
])}
</table>
<h2>Spotify apps</h2>
<p class="muted">Development mode: an app signs in at most ${SPOTIFY_DEV_MODE_USERS} users. The relay's app is shared by every crew without its own.</p>
<table>
<tr><th>Relay app users</th>${budget(status.relayAppUsers)}</tr>
</table>
<h2>Crews</h2>
<table>
<tr><th>Crew</th><th>Online / members</th><th>Latest seq</th><th>Spotify app</th><th>Signed in</th></tr>
${crews.join('\n') || '<tr><td colspan="5" class="muted">No crews yet.</td></tr>'}
</table>
<h2>Errors sent in the last hour, by code</h2>
<table>
${errors.join('\n') || '<tr><td class="muted">None.</td></tr>'}
</table>`,
  );
}
