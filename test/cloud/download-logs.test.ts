import fs from 'node:fs/promises';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ImportJobs } from '../../cloud/history/import-jobs.js';
import { HistoryQueries } from '../../cloud/history/queries.js';
import { memberHistoryRouter } from '../../cloud/history/routes.js';
import { openSqliteStore } from '../../cloud/store/sqlite-store.js';
import { waitUntil } from '../helpers/wait-until.js';

/* A phone that gives up on a history download, or a HEAD request, is not an error in the relay's log. */

let dir: string;
let store: ReturnType<typeof openSqliteStore>;
let jobs: ImportJobs;
let server: Server;
let base: string;
const lines: { level: number; msg: string }[] = [];

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leeloo-download-'));
  store = openSqliteStore(path.join(dir, 'leeloo.db'));
  await store.crews.saveDevice({ deviceId: 'ana', displayName: 'ana' });
  const plays = Array.from({ length: 6_000 }, (_, i) => ({
    memberId: 'ana',
    source: 'import_extended' as const,
    endMs: Date.UTC(2022, 0, 1) + i * 60_000,
    trackUri: null,
    track: `Track ${i} ${'x'.repeat(1500)}`,
    artist: 'Artist',
    album: null,
    msPlayed: 60_000,
    durationMs: null,
    skipped: null,
    shuffle: null,
    offline: null,
    reasonStart: null,
    reasonEnd: null,
  }));
  await store.history.addPlays(plays);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  jobs = new ImportJobs({ store: store.history, log, maxUploadBytes: 1024 ** 2, minPlayMs: 30_000, uploadDir: path.join(dir, 'uploads') });
  await jobs.start();
  const app = express();
  app.use(
    '/crew/api',
    (_req, res, next) => {
      res.locals.historyViewer = { deviceId: 'ana', crewId: null };
      next();
    },
    memberHistoryRouter({ store, queries: new HistoryQueries(store), jobs, log }),
  );
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  lines.length = 0;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await jobs.stop();
  await store.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const errorLines = () => lines.filter((l) => l.level >= 50);

describe('history downloads and the log', () => {
  for (const format of ['csv', 'json']) {
    it(`a ${format} download the client aborts is logged at debug, not as an error`, async () => {
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${base}/crew/api/history/export.${format}`, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
      });
      await waitUntil(() => lines.some((l) => l.msg === 'download ended before it was complete'), 'the aborted download to be logged');
      expect(lines.find((l) => l.msg === 'download ended before it was complete')!.level).toBe(20);
      expect(errorLines()).toEqual([]);
    });
  }

  it('HEAD answers the download headers without a body and logs no error', async () => {
    const res = await fetch(`${base}/crew/api/history/export.csv`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/leeloo-ana\.csv/);
    expect(await res.text()).toBe('');
    // A full GET after it proves the handler of the HEAD finished (requests are handled in order here).
    const full = await fetch(`${base}/crew/api/history/export.csv`);
    expect((await full.text()).split('\r\n').length).toBeGreaterThan(6_000);
    expect(errorLines()).toEqual([]);
  });
});
