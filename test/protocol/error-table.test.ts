import { describe, expect, it } from 'vitest';
import { ERROR_CODE_LIST, ERROR_CODES, ERRORS, httpStatusOf } from '../../protocol/index.js';
import { startInProcessRelay } from '../helpers/relay-in-process.js';

/** Codes that are the relay's (or Spotify's) failure, not the client's: the only ones answered 5xx. */
const SERVER_SIDE = new Set([
  'unavailable',
  'internal_error',
  'spotify_not_configured',
  'spotify_unavailable',
  'spotify_quota_exceeded',
  'wifi_failed',
  'network_unavailable',
  'update_failed',
]);

describe('the one error table', () => {
  it("gives every code a sentence and an HTTP status, 5xx only for failures that are not the client's", () => {
    for (const code of ERROR_CODE_LIST) {
      expect(ERROR_CODES[code]).toBe(ERRORS[code].sentence);
      expect(ERROR_CODES[code].length).toBeGreaterThan(10);
      const status = httpStatusOf(code);
      expect(status >= 500 ? `${code} 5xx` : `${code} 4xx`).toBe(SERVER_SIDE.has(code) ? `${code} 5xx` : `${code} 4xx`);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(600);
    }
  });

  it('is what the relay answers with, for an unknown path as for a refused request', async () => {
    const relay = await startInProcessRelay();
    try {
      const missing = await fetch(`${relay.httpUrl}/no/such/thing`);
      expect(missing.status).toBe(httpStatusOf('not_found'));
      expect(await missing.json()).toEqual({ code: 'not_found', error: 'not_found', message: 'Nothing is served at GET /no/such/thing.' });
      const badJson = await fetch(`${relay.httpUrl}/crew/api/queue`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
      const body = (await badJson.json()) as { code: string };
      expect(badJson.status).toBe(httpStatusOf(body.code as 'invalid_json'));
      expect(badJson.status).toBeLessThan(500);
    } finally {
      await relay.close();
    }
  });
});
