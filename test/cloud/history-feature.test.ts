import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../cloud/config.js';
import { historyFeatureFactory } from '../../cloud/history/history-feature.js';
import { playInput } from '../../cloud/history/plays.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
let relay: InProcessRelay | null = null;

afterEach(async () => {
  await relay?.close();
  relay = null;
});

describe('the history feature in the relay', () => {
  it('serves the admin history API and keeps the member API for the crew pages', async () => {
    const history = historyFeatureFactory({ signedInMembers: async () => [], accessToken: async () => 'unused' });
    relay = await startInProcessRelay({ env: { ADMIN_TOKEN }, features: [history.factory] });
    await relay.store.crews.saveDevice({ deviceId: 'ana', displayName: 'Ana' });
    await relay.store.history.addPlays([playInput({ memberId: 'ana', source: 'import_extended', endMs: Date.UTC(2023, 0, 1), track: 'T', artist: 'A', msPlayed: 90_000 })]);
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const top = await fetch(`${relay.httpUrl}/admin/history/members/ana/history/top?kind=artists`, { headers: auth });
    expect(top.status).toBe(200);
    expect((await top.json()).items).toEqual([{ artist: 'A', plays: 1, ms_played: 90_000 }]);
    const csv = await (await fetch(`${relay.httpUrl}/admin/history/members/ana/history/export.csv`, { headers: auth })).text();
    expect(csv.split('\r\n')[1]).toMatch(/^2023-01-01T00:00:00.000Z,import_extended,T,A,/);
    expect((await fetch(`${relay.httpUrl}/admin/history/members/ana/history`)).status).toBe(401);
  });

  it('refuses a too-short ADMIN_TOKEN at configuration time', async () => {
    expect(() => loadConfig({ ADMIN_TOKEN: 'short' })).toThrow(/ADMIN_TOKEN must be at least 24 characters/);
    expect(loadConfig({ ADMIN_TOKEN: '' }).adminToken).toBeUndefined();
    expect(loadConfig({ HISTORY_MAX_UPLOAD_MB: '8' }).history?.maxUploadBytes).toBe(8 * 1024 ** 2);
  });
});
