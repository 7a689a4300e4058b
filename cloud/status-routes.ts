import express, { type RequestHandler } from 'express';
import { storeUnavailable, type Store } from './store/store.js';
import type { RelayBus } from './bus.js';
import type { RelayMetrics } from './metrics.js';
import { renderLandingPage } from './landing-page.js';
import { ProtocolError } from '../protocol/index.js';
import { sendError } from './http-errors.js';

export interface StatusSource {
  readonly version: string;
  readonly store: Store;
  /** The link to the other relay processes (Redis Pub/Sub); LocalBus answers at once. */
  readonly bus: Pick<RelayBus, 'ping'>;
  readonly metrics: RelayMetrics;
  readonly startedAt: number;
  /** Lets a /metrics request through, or answers it (cloud/admin-auth.ts requireMetricsAccess). */
  readonly metricsGate: RequestHandler;
  connections(): number;
  devicesOnline(): number;
  /** How late the event loop runs now (past OVERLOAD_LAG_MS crew messages are refused). */
  loopLagMs(): number;
  stopping(): boolean;
}

/** Null when ready, else the sentence saying why not. */
async function storeProblem(source: StatusSource): Promise<string | null> {
  if (source.stopping()) return 'The relay is shutting down.';
  try {
    await source.store.ping();
  } catch (error) {
    return storeUnavailable(error)?.message ?? 'The relay cannot reach its store right now; try again shortly.';
  }
  try {
    await source.bus.ping();
    return null;
  } catch (error) {
    return `The relay cannot reach the other relay processes right now (${error instanceof Error ? error.message : String(error)}); it is reconnecting.`;
  }
}

/** Liveness, readiness, metrics and the landing page. */
export function statusRoutes(source: StatusSource): express.Router {
  const router = express.Router();
  const uptime = () => Math.round((Date.now() - source.startedAt) / 1000);

  // `devices`, `crews` and `uptime` are what the fleet's scripts print from the relay they knew.
  router.get('/health', async (_req, res) => {
    const crews = await source.store.crews.counts().then(
      (c) => c.crews,
      () => null,
    );
    res.json({
      status: 'ok',
      version: source.version,
      uptime_s: uptime(),
      uptime: (Date.now() - source.startedAt) / 1000,
      connections: source.connections(),
      devices: source.devicesOnline(),
      crews,
      event_loop_lag_ms: Math.round(source.loopLagMs()),
    });
  });

  router.get('/ready', async (_req, res) => {
    const problem = await storeProblem(source);
    if (problem === null) {
      res.json({ status: 'ready', store: source.store.kind });
      return;
    }
    sendError(res, new ProtocolError('unavailable', problem), undefined);
  });

  router.get('/metrics', source.metricsGate, async (_req, res) => {
    res.type(source.metrics.registry.contentType).send(await source.metrics.registry.metrics());
  });

  router.get('/', async (_req, res) => {
    const ready = (await storeProblem(source)) === null;
    const counts = ready ? await source.store.crews.counts() : { crews: 0, devices: 0 };
    const html = renderLandingPage({
      version: source.version,
      uptimeSeconds: uptime(),
      crews: counts.crews,
      devices: counts.devices,
      devicesOnline: source.devicesOnline(),
      connections: source.connections(),
      storeKind: source.store.kind,
      ready,
    });
    res.type('html').send(html);
  });

  return router;
}
