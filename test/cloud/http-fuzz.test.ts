import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryQueries } from '../../cloud/history/queries.js';
import { ImportJobs } from '../../cloud/history/import-jobs.js';
import { memberHistoryRouter } from '../../cloud/history/routes.js';
import { queueWithCrewPages } from '../helpers/queue-features.js';
import { telegramFeatureFactory } from '../../cloud/telegram/telegram-feature.js';
import { ERROR_CODE_LIST } from '../../protocol/index.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { isType, type TestClient } from '../helpers/ws-client.js';

/* Requests as a fuzzer or a broken client sends them: every one gets a 4xx with a code from the error table, never a 5xx. */

let relay: InProcessRelay;
let jobs: ImportJobs;
let owner: TestClient;
let cookie: string;

interface Answer {
  status: number;
  body: string;
  requestId: string | undefined;
}

function request(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: relay.port,
        method,
        path,
        headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < 4096) text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode!, body: text, requestId: res.headers['x-request-id'] as string | undefined }));
        // Event streams never end on their own: what the status says is enough.
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          res.destroy();
          resolve({ status: res.statusCode!, body: '', requestId: res.headers['x-request-id'] as string | undefined });
        }
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ECONNRESET' || error.code === 'EPIPE' ? resolve({ status: 499, body: '', requestId: 'reset' }) : reject(error),
    );
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A 4xx JSON answer carries a code from the error table; any answer carries a request id. */
function expectClientError(answer: Answer, label: string): void {
  expect(answer.status, `${label}: ${answer.body}`).toBeGreaterThanOrEqual(400);
  expect(answer.status, `${label}: ${answer.body}`).toBeLessThan(500);
  expect(answer.requestId, label).toMatch(/\S/);
  if (answer.body.startsWith('{')) expect(ERROR_CODE_LIST, `${label}: ${answer.body}`).toContain(JSON.parse(answer.body).code);
}

beforeAll(async () => {
  relay = await startInProcessRelay({
    features: [
      queueWithCrewPages({
        memberApi: (context) => {
          jobs = new ImportJobs({ store: context.store.history, log: context.log, maxUploadBytes: 1_000_000, minPlayMs: 30_000 });
          void jobs.start();
          return memberHistoryRouter({ store: context.store, queries: new HistoryQueries(context.store), jobs, log: context.log });
        },
      }),
      telegramFeatureFactory(),
    ],
    // With the admin API on, its bearer gate is fuzzed too (off, it answers 503 unavailable by design).
    env: { RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000', ADMIN_TOKEN: 'fuzz-admin-token-0123456789abcdef' },
  });
  owner = await relay.connect();
  await owner.request({ type: 'hello', protocol_version: 3, device_name: 'Olga' }, isType('welcome'));
  await owner.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'));
  const issued = await owner.request({ type: 'crew_link' }, isType('crew_link_issued'));
  const opened = await fetch(relay.httpUrl + new URL(String(issued.url)).pathname, { redirect: 'manual' });
  cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
}, 60_000);

afterAll(async () => {
  owner?.ws.close();
  await jobs?.stop();
  await relay?.close();
});

const JSON_ROUTES: Array<[string, string]> = [
  ['POST', '/crew/api/queue'],
  ['POST', '/crew/api/queue/q_abcdefgh/vote'],
  ['POST', '/crew/api/airhorn'],
  ['POST', '/api/telegram/crew/create'],
  ['POST', '/api/telegram/message'],
];

describe("bad requests get a 4xx with the error table's code", () => {
  it('a malformed % escape in a path parameter', async () => {
    for (const path of ['/crew/api/queue/%zz/vote', '/crew/api/queue/%E0%A4%A/jam', '/crew/api/queue/%', '/c/%zz', '/s/%ff%fe', '/crew/api/history/import/%']) {
      expectClientError(await request(path.startsWith('/crew/api') ? 'POST' : 'GET', path, { cookie, 'content-type': 'application/json' }, '{}'), path);
    }
  });

  it('Content-Encoding compress, unknown ones, and gzip that is not gzip, on JSON routes', async () => {
    for (const [method, path] of JSON_ROUTES) {
      for (const encoding of ['compress', 'br, x-made-up', 'gzip', 'deflate']) {
        const answer = await request(
          method,
          path,
          { cookie, 'content-type': 'application/json', 'content-encoding': encoding },
          Buffer.from('not compressed at all'),
        );
        expectClientError(answer, `${path} ${encoding}`);
      }
    }
  });

  it('a malformed leeloo_crew cookie', async () => {
    for (const bad of ['leeloo_crew=%', 'leeloo_crew=%E0%A4%A', 'leeloo_crew=', 'leeloo_crew==;=', `leeloo_crew=${'x'.repeat(5000)}`]) {
      expectClientError(await request('GET', '/crew/api/state', { cookie: bad }), bad);
      expectClientError(await request('GET', '/crew', { cookie: bad }), `${bad} page`);
    }
  });

  it('invalid, oversized and wrongly typed JSON', async () => {
    // The airhorn reads no body: only the routes that need one.
    for (const [method, path] of JSON_ROUTES.filter(([, p]) => !p.endsWith('airhorn'))) {
      expectClientError(await request(method, path, { cookie, 'content-type': 'application/json' }, '{"spotify_uri": '), `${path} truncated`);
      expectClientError(await request(method, path, { cookie, 'content-type': 'application/json' }, `{"a":"${'x'.repeat(100_000)}"}`), `${path} oversized`);
      expectClientError(await request(method, path, { cookie, 'content-type': 'application/json; charset=x-unknown' }, '{}'), `${path} unknown charset`);
      expectClientError(await request(method, path, { cookie, 'content-type': 'text/plain' }, 'hello'), `${path} text/plain`);
      expectClientError(await request(method, path, { cookie, 'content-type': 'application/json' }, '[1,2,3]'), `${path} array`);
    }
  });

  it('survives a few hundred seeded random requests over every route without one 5xx', async () => {
    let state = 9;
    const next = () => (state = (state * 1_664_525 + 1_013_904_223) >>> 0) / 2 ** 32;
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const paths = [
      '/',
      '/health',
      '/ready',
      '/metrics',
      '/operator',
      '/crew',
      '/crew/api/state',
      '/crew/api/events',
      '/crew/api/queue',
      '/crew/api/queue/%s',
      '/crew/api/queue/%s/jam',
      '/crew/api/queue/%s/vote',
      '/crew/api/queue/skip',
      '/crew/api/queue/pause',
      '/crew/api/queue/resume',
      '/crew/api/queue/clear',
      '/crew/api/queue/throwback',
      '/crew/api/airhorn',
      '/crew/api/history/top',
      '/crew/api/history/heatmap',
      '/crew/api/history/import',
      '/crew/api/history/import/%s',
      '/c/%s',
      '/s/%s',
      '/s/%s/continue',
      '/spotify/callback',
      '/admin/crews',
      '/admin/crews/%s',
      '/admin/devices/%s',
      '/api/telegram/crew/create',
      '/api/telegram/crew/join',
      '/api/telegram/crew/status',
      '/api/telegram/message',
      '/nowhere/%s',
    ];
    const params = ['%', '%zz', '%E0%A4%A', '%00', 'q_abcdefgh', '..%2f..%2fetc', 'x'.repeat(300), '%F0%9F%92%A5', '__proto__', ''];
    const queries = ['', '?after=-1', '?after=%zz', '?tz=%ff', '?from=1e999', '?limit=999999', '?code=', '?state=%&code=%'];
    const bodies = [
      '',
      '{}',
      'null',
      '{"vote":"up"}',
      '{"__proto__":{"x":1}}',
      '{"spotify_uri":"spotify:track:\u202e"}',
      '\u0000\u0001',
      '{"a":',
      '[]',
      '1e999',
    ];
    const types = [
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin-9',
      '',
    ];
    const encodings = ['', '', 'compress', 'gzip', 'identity', 'x-nope'];
    const cookies = [cookie, cookie, 'leeloo_crew=%', 'leeloo_crew=abc.def', ''];
    const seen: number[] = [];
    for (let i = 0; i < 300; i += 1) {
      const path = pick(paths).replace('%s', pick(params)) + pick(queries);
      const headers: Record<string, string> = {};
      const [type, encoding, c] = [pick(types), pick(encodings), pick(cookies)];
      if (type) headers['content-type'] = type;
      if (encoding) headers['content-encoding'] = encoding;
      if (c) headers.cookie = c;
      if (next() > 0.7) headers.authorization = 'Bearer %zz';
      const method = pick(['GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH']);
      const body = method === 'GET' || method === 'HEAD' ? undefined : pick(bodies);
      const answer = await request(method, path, headers, body);
      seen.push(answer.status);
      expect(answer.status, `${method} ${path} ${JSON.stringify(headers)} ${body}: ${answer.body}`).toBeLessThan(500);
      expect(answer.requestId, `${method} ${path}`).toMatch(/\S/);
    }
    expect(new Set(seen).size).toBeGreaterThan(3);
  }, 120_000);
});
