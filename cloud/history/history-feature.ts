import path from 'node:path';
import express from 'express';
import { SpotifyHttp } from '../../spotify/spotify-http.js';
import type { Feature, FeatureFactory, RelayContext } from '../feature.js';
import type { ListeningAccess } from '../ports.js';
import { ListeningCollector } from './collector.js';
import { ImportJobs } from './import-jobs.js';
import { HistoryQueries } from './queries.js';
import { adminHistoryRouter, memberHistoryRouter } from './routes.js';
import { ProtocolError } from '../../protocol/index.js';
import { sendError } from '../http-errors.js';

/** Schedule overrides: the collector runs on minutes, a test of its wiring on milliseconds. */
export interface HistoryFeatureOptions {
  readonly collectIntervalMs?: number;
  readonly collectorTickMs?: number;
}

/**
 * History as a relay feature: the recently-played collector, the import job queue, and
 * the admin routes. The member routes go to the crew pages (see historyFeatureFactory).
 */
export class HistoryFeature implements Feature {
  readonly name = 'history';
  readonly router: express.Router;
  readonly memberRouter: express.Router;
  readonly queries: HistoryQueries;
  readonly jobs: ImportJobs;
  readonly collector: ListeningCollector;

  constructor(context: RelayContext, access: ListeningAccess, options: HistoryFeatureOptions = {}) {
    const settings = context.config.history;
    const log = context.log.child({ feature: 'history' });
    this.queries = new HistoryQueries(context.store);
    this.jobs = new ImportJobs({
      store: context.store.history,
      log,
      maxUploadBytes: settings.maxUploadBytes,
      maxRecords: settings.maxImportRecords,
      sliceRows: settings.importSliceRows,
      minPlayMs: settings.minPlayMs,
      uploadDir: path.join(context.config.dataDir, 'imports'),
      onFinished: context.metrics.historyImport,
    });
    this.collector = new ListeningCollector({
      history: context.store.history,
      access,
      // A 429 is not waited out here: the collector moves that member back and goes on.
      http: new SpotifyHttp({ maxRateLimitRetries: 0, onOutcome: context.metrics.spotifyCall }),
      apiUrl: context.config.spotify.apiUrl,
      log,
      intervalMs: options.collectIntervalMs ?? settings.collectIntervalMs,
      tickMs: options.collectorTickMs,
    });
    const deps = { store: context.store, queries: this.queries, jobs: this.jobs, log };
    this.memberRouter = memberHistoryRouter(deps);
    this.router = adminHistoryRouter({ ...deps, adminToken: context.config.adminToken });
  }

  async start(): Promise<void> {
    await this.jobs.start();
    await this.collector.start();
  }

  async stop(): Promise<void> {
    await this.collector.stop();
    await this.jobs.stop();
  }
}

/**
 * The factory for cloud/main.ts, and the member routes for the crew pages (which mount
 * them behind the member link, with res.locals.historyViewer set) before the feature is built.
 */
export function historyFeatureFactory(
  access: ListeningAccess,
  options: HistoryFeatureOptions = {},
): { factory: FeatureFactory; memberApi: express.Router; queries: () => HistoryQueries | null } {
  let built: HistoryFeature | null = null;
  const memberApi = express.Router();
  memberApi.use((req, res, next) => {
    if (built) built.memberRouter(req, res, next);
    else sendError(res, new ProtocolError('unavailable', 'History is starting; try again in a moment.'), undefined);
  });
  return { factory: (context) => (built = new HistoryFeature(context, access, options)), memberApi, queries: () => built?.queries ?? null };
}
