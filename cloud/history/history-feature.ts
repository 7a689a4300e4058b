import path from 'node:path';
import type express from 'express';
import { SpotifyHttp } from '../../spotify/spotify-http.js';
import type { Feature, FeatureFactory, RelayContext } from '../feature.js';
import { LeasedWork, type LeaseTimings } from '../leases.js';
import type { ListeningAccess, ThrowbackSource } from '../ports.js';
import { ListeningCollector } from './collector.js';
import { ImportJobs } from './import-jobs.js';
import { HistoryQueries } from './queries.js';
import { adminHistoryRouter, memberHistoryRouter } from './routes.js';

/** Schedule overrides: the collector runs on minutes, a test of its wiring on milliseconds. */
export interface HistoryFeatureOptions {
  readonly collectIntervalMs?: number;
  readonly collectorTickMs?: number;
  /** The collection's lease timings (tests shorten them); production uses the defaults of cloud/leases.ts. */
  readonly collectionLease?: LeaseTimings;
}

/**
 * History as a relay feature: the recently-played collector, the import job queue, and
 * the admin routes. Its ports: `memberRouter` (mounted by the crew pages behind the member
 * link, with res.locals.historyViewer set), `queries` (HistoryReads, for MCP) and `throwback`
 * (ThrowbackSource, for the queue); cloud/compose.ts hands them on.
 */
export class HistoryFeature implements Feature {
  readonly name = 'history';
  readonly router: express.Router;
  readonly memberRouter: express.Router;
  readonly queries: HistoryQueries;
  readonly throwback: ThrowbackSource;
  readonly jobs: ImportJobs;
  readonly collector: ListeningCollector;
  /** The collector runs in the one relay process that holds the history-collection lease. */
  readonly collection: LeasedWork;

  constructor(context: RelayContext, access: ListeningAccess, options: HistoryFeatureOptions = {}) {
    const settings = context.config.history;
    const log = context.log.child({ feature: 'history' });
    this.queries = new HistoryQueries(context.store);
    this.throwback = throwbackSource(this.queries);
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
    // One lease for the whole relay: the collector already walks every member one at a time. Its
    // writes need no token: plays are matched on adding (a paused former holder's are duplicates)
    // and a cursor it moves back only makes the next collection fetch plays that are matched again.
    this.collection = new LeasedWork({
      leases: context.leases,
      name: 'history-collection',
      log,
      timings: options.collectionLease,
      work: { start: () => this.collector.start(), stop: () => this.collector.stop() },
    });
    const deps = { store: context.store, queries: this.queries, jobs: this.jobs, log };
    this.memberRouter = memberHistoryRouter(deps);
    this.router = adminHistoryRouter({ ...deps, adminToken: context.config.adminToken });
  }

  async start(): Promise<void> {
    await this.jobs.start();
    await this.collection.start();
  }

  async stop(): Promise<void> {
    await this.collection.stop();
    await this.jobs.stop();
  }
}

/** The queue's throwback: the crew's old shares (HistoryQueries.throwback) as queue tracks. */
export function throwbackSource(queries: HistoryQueries): ThrowbackSource {
  return async (crewId, { nowMs, timeZone, limit }) =>
    (await queries.throwback(crewId, { nowMs, timeZone, limit })).map((t) => ({
      spotify_uri: t.spotify_uri,
      track: t.track,
      artist: t.artist,
      album: t.album,
      album_art_url: '',
    }));
}

/** The history feature alone, for a relay that lists features one by one (tests). */
export function historyFeatureFactory(access: ListeningAccess, options: HistoryFeatureOptions = {}): FeatureFactory {
  return (context) => new HistoryFeature(context, access, options);
}
