import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupStore } from '../../cloud/store/backup.js';
import { launchChromium } from '../helpers/chromium.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { isType, type TestClient } from '../helpers/ws-client.js';

/* /operator: the relay's status for its operator, behind ADMIN_TOKEN (bearer, or the page's form and cookie). */

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
let relay: InProcessRelay;
let backups: string;
const open: TestClient[] = [];

const grant = (deviceId: string, clientId: string, status: 'live' | 'dead' = 'live') => ({
  deviceId,
  spotifyUserId: `user-${deviceId}`,
  spotifyAccountId: `acct-${deviceId}`,
  displayName: null,
  clientId,
  refreshTokenEnc: 'enc',
  accessTokenEnc: null,
  accessExpiresAt: 0,
  scope: 'user-read-playback-state',
  status,
  deadReason: status === 'dead' ? ('revoked' as const) : null,
  notifyUntil: null,
  updatedAt: Date.now(),
});

beforeAll(async () => {
  relay = await startInProcessRelay({
    env: {
      ADMIN_TOKEN,
      SPOTIFY_CLIENT_ID: 'relay-app',
      LEELOO_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      PUBLIC_URL: 'http://127.0.0.1:9',
    },
  });
  const connect = async () => {
    const client = await relay.connect();
    open.push(client);
    return client;
  };
  const owner = await connect();
  const welcome = await owner.request({ type: 'hello', protocol_version: 3, device_name: 'Ana' }, isType('welcome'));
  await owner.request({ type: 'create_crew', display_name: 'Ana', crew_name: 'Night <Owls>' }, isType('crew_created'));
  owner.send({ type: 'bogus' });
  await owner.next(isType('error'));
  for (const id of ['g1-bo', 'g1-cy']) {
    const legacy = await connect();
    await legacy.request({ type: 'register', device_id: id, crew_code: 'LEELOO-AB2C', device_name: id }, isType('registered'));
  }
  const legacyCrew = (await relay.store.crews.getCrewByCode('LEELOO-AB2C'))!;
  await relay.store.tokens.saveCrewApp({ crewId: legacyCrew.crewId, clientId: 'crew-app', clientSecretEnc: null, updatedAt: Date.now() });
  await relay.store.tokens.saveGrant(grant(welcome.device_id as string, 'relay-app'));
  await relay.store.tokens.saveGrant(grant('g1-bo', 'crew-app'));
  await relay.store.tokens.saveGrant(grant('g1-cy', 'crew-app', 'dead'));
  backups = await makeTempDir('leeloo-operator-backups-');
  await backupStore({ dataDir: relay.dataDir, to: backups, keep: 1 });
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await relay.close();
  await removeTempDir(backups);
});

const page = (headers: Record<string, string> = {}) => fetch(`${relay.httpUrl}/operator`, { headers, redirect: 'manual' });

describe('operator page', () => {
  it('asks for the token, refuses a wrong one, and never caches', async () => {
    const anonymous = await page();
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('cache-control')).toBe('no-store');
    const form = await anonymous.text();
    expect(form).toContain('<form method="post" action="/operator">');
    expect(form).not.toContain('Night');
    expect((await page({ authorization: 'Bearer wrong-token-0123456789abcdef' })).status).toBe(401);
    expect((await page({ cookie: 'leeloo_operator=forged' })).status).toBe(401);
    const wrong = await fetch(`${relay.httpUrl}/operator`, { method: 'POST', body: new URLSearchParams({ token: 'nope' }), redirect: 'manual' });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('That is not this relay’s ADMIN_TOKEN.');
  });

  it('shows crews, gadgets by generation, store size, last backup, Spotify budgets and recent errors', async () => {
    const answer = await page({ authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(answer.status).toBe(200);
    const html = await answer.text();
    expect(html).toMatch(/<th>Crews<\/th><td>2<\/td>/);
    expect(html).toMatch(/<th>Gadgets online \(current\)<\/th><td>1<\/td>/);
    expect(html).toMatch(/<th>Gadgets online \(first\/second generation\)<\/th><td>2<\/td>/);
    expect(html).toMatch(/<th>Store<\/th><td>sqlite, \d+(\.\d)? kB<\/td>/);
    expect(html).toMatch(new RegExp(`<th>Last backup</th><td>\\d{4}-\\d\\d-\\d\\dT[^<]+ \\(${backups}/leeloo-\\d{8}T\\d{6}Z\\)</td>`));
    expect(html).toContain('<tr><th>Relay app users</th><td class="n">1 / 5</td></tr>');
    // Escaped, with the crew's own app counted against its own budget (the dead grant does not count).
    expect(html).toContain('<td>Night &lt;Owls&gt;</td><td class="n">1 / 1</td>');
    expect(html).toMatch(/<td>g1-bo&#39;s crew<\/td><td class="n">2 \/ 2<\/td><td class="n">\d+<\/td><td>own app<\/td><td class="n">1 \/ 5<\/td>/);
    expect(html).toContain('<tr><td><code>unknown_type</code></td><td class="n">1</td></tr>');
  });

  it('signs in through the form in Chromium, keeps a cookie for /operator only, and renders the status', async () => {
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
      const tab = await context.newPage();
      await tab.goto(`${relay.httpUrl}/`);
      await tab.click('a[href="/operator"]');
      await tab.fill('input[name=token]', ADMIN_TOKEN);
      await Promise.all([tab.waitForURL(`${relay.httpUrl}/operator`), tab.click('button[type=submit]')]);
      await tab.waitForSelector('text=Errors sent in the last hour');
      const cookie = (await context.cookies()).find((c) => c.name === 'leeloo_operator')!;
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/operator' });
      expect(cookie.value).not.toContain(ADMIN_TOKEN);
      const shot = await tab.screenshot({ fullPage: true });
      // A real rendering: a PNG of the page's size with the headline's pink in it.
      expect(shot.subarray(1, 4).toString()).toBe('PNG');
      expect(shot.readUInt32BE(16)).toBe(900);
      const pink = await tab.$eval('h1', (h) => getComputedStyle(h).color);
      expect(pink).toBe('rgb(255, 95, 162)');
      const cells = await tab.$$eval('table tr', (rows) => rows.length);
      expect(cells).toBeGreaterThan(12);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
