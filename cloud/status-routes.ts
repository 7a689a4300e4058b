import express, { type RequestHandler } from 'express';
import type { Store } from './store/store.js';
import type { RelayMetrics } from './metrics.js';
import { renderLandingPage } from './landing-page.js';

export interface StatusSource {
  readonly version: string;
  readonly store: Store;
  readonly metrics: RelayMetrics;
  readonly startedAt: number;
  /** Lets a /metrics request through, or answers it (cloud/admin-auth.ts requireMetricsAccess). */
  readonly metricsGate: RequestHandler;
  connections(): number;
  devicesOnline(): number;
  stopping(): boolean;
}

async function storeReady(source: StatusSource): Promise<boolean> {
  if (source.stopping()) return false;
  try {
    await source.store.ping();
    return true;
  } catch {
    return false;
  }
}

/** Liveness, readiness, metrics and the landing page. */
export function statusRoutes(source: StatusSource): express.Router {
  const router = express.Router();
  const uptime = () => Math.round((Date.now() - source.startedAt) / 1000);

  // `devices`, `crews` and `uptime` are what the fleet's scripts print from the relay they knew.
  router.get('/health', async (_req, res) => {
    const crews = await source.store.crews.counts().then((c) => c.crews, () => null);
    res.json({
      status: 'ok',
      version: source.version,
      uptime_s: uptime(),
      uptime: (Date.now() - source.startedAt) / 1000,
      connections: source.connections(),
      devices: source.devicesOnline(),
      crews,
    });
  });

  router.get('/ready', async (_req, res) => {
    if (await storeReady(source)) {
      res.json({ status: 'ready', store: source.store.kind });
      return;
    }
    const message = source.stopping() ? 'The relay is shutting down.' : 'The relay cannot reach its store right now; try again shortly.';
    res.status(503).json({ code: 'unavailable', message });
  });

  router.get('/metrics', source.metricsGate, async (_req, res) => {
    res.type(source.metrics.registry.contentType).send(await source.metrics.registry.metrics());
  });

  router.get('/', async (_req, res) => {
    const ready = await storeReady(source);
    const counts = ready ? await source.store.crews.counts() : { crews: 0, devices: 0, events: 0 };
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
