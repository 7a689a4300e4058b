import http from 'node:http';
import type { Duplex } from 'node:stream';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { ProtocolError } from '../protocol/index.js';
import { addressKey, EntryBudgets } from './address-budget.js';
import type { RelayConfig } from './config.js';
import { requireMetricsAccess } from './admin-auth.js';
import { adminRoutes } from './admin-routes.js';
import { CrewEntry } from './crew-entry.js';
import { CrewMessages } from './crew-messages.js';
import { Crews, requireCrew, type CoreDeps } from './crews.js';
import { Delivery } from './delivery.js';
import type { Feature, FeatureComposition, FeatureFactory, RelayContext } from './feature.js';
import { Heartbeat } from './heartbeat.js';
import { IdentifySweep } from './identify-sweep.js';
import { Identity } from './identity.js';
import { requestIds, sendError } from './http-errors.js';
import { LoopLag } from './loop-lag.js';
import { InboundRouter, type CoreHandlers } from './inbound.js';
import { LeasedWork, LocalLeases, type Leases } from './leases.js';
import type { Logger } from './log.js';
import { createRelayMetrics, type RelayMetrics } from './metrics.js';
import { operatorRoutes } from './operator-page.js';
import { Retention } from './retention.js';
import { deliveryProof, Session, SessionRegistry } from './sessions.js';
import { statusRoutes } from './status-routes.js';
import type { Store } from './store/store.js';
import { LocalBus, type RelayBus } from './bus.js';

export interface RelayOptions {
  readonly config: RelayConfig;
  readonly store: Store;
  readonly log: Logger;
  /** Feature areas, built in order: cloud/main.ts passes the composition root (cloud/compose.ts). */
  readonly features?: readonly (FeatureFactory | FeatureComposition)[];
  /** What crosses relay processes (fan-out, presence); one process on its own: LocalBus. */
  readonly bus?: RelayBus;
  /** Leases for once-per-relay work (retention, the queue clock, history collection); one process on its own: LocalLeases. */
  readonly leases?: Leases;
}

export interface Relay {
  readonly app: express.Express;
  readonly context: RelayContext;
  readonly metrics: RelayMetrics;
  /** Listens on config.host:config.port (0 = any free port) and resolves with the real port. */
  start(): Promise<{ port: number }>;
  /** Stops accepting, closes sockets with 1001, flushes pending writes, stops features, closes the store. */
  stop(): Promise<void>;
}

/** Close code for sockets when the relay goes down (going away). */
export const CLOSE_GOING_AWAY = 1001;
const CLOSE_WAIT_MS = 3000;
const WS_PATHS = new Set(['/', '/ws']);
const FEATURE_RETRY_FIRST_MS = 1000;
const FEATURE_RETRY_MAX_MS = 60_000;

export function createRelay(options: RelayOptions): Relay {
  const { config, store, log } = options;
  const bus = options.bus ?? new LocalBus();
  const leases = options.leases ?? new LocalLeases();
  const registry = new SessionRegistry(bus);
  const metrics = createRelayMetrics(
    {
      connections: () => registry.all.size,
      devicesOnline: () => registry.deviceCount,
      gadgetsOnline: () => registry.gadgetsOnline(),
      addressesBackingOff: () => budgets.blockedCount(),
      heldEvents: () => delivery.heldEvents(),
    },
    { version: config.version },
  );
  const budgets = new EntryBudgets(config.addressBudgets, { log, refusals: metrics.addressBudgetRefusals });
  const delivery = new Delivery({ store, registry, metrics, log, maxHeldEvents: config.maxHeldEvents, bus });
  let stopping = false;
  let boundPort = config.port;
  const deps: CoreDeps = { config, store, registry, delivery, log, stopping: () => stopping };
  const crews = new Crews(deps);
  const identity = new Identity(deps, crews);
  const messages = new CrewMessages(deps);
  let features: Feature[] = [];
  const entry = new CrewEntry(
    deps,
    crews,
    identity,
    async (session) => {
      for (const feature of features) {
        await feature.afterCrewEntry?.(session).catch((error: unknown) => log.error({ err: error, feature: feature.name }, 'afterCrewEntry failed'));
      }
    },
    budgets,
  );

  const context: RelayContext = {
    config,
    store,
    log,
    metrics: metrics.features,
    leases,
    publish: (crewId, event, from) => delivery.publish(crewId, event, from),
    sendToDevice(deviceId, message) {
      const session = registry.deviceSession(deviceId);
      if (!session || session.closing) return false;
      session.send(message);
      return true;
    },
    isOnline: (deviceId) => registry.isOnline(deviceId),
    onCrewEvent: (listener) => delivery.onCrewEvent(listener),
    onLiveCrewEvent: (listener) => delivery.onLiveCrewEvent(listener),
    publicUrl() {
      if (config.publicUrl) return config.publicUrl;
      const host = ['0.0.0.0', '::'].includes(config.host) ? 'localhost' : config.host;
      return `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    },
  };

  const loopLag = new LoopLag();
  const router = new InboundRouter({
    config,
    metrics,
    log,
    loopLagMs: () => loopLag.ms(),
    handledBefore: (deviceId, clientMsgId) => store.log.handledClientMessage(deviceId, clientMsgId),
    beforeDispatch: (session, message) => {
      if (message.type !== 'resume') delivery.endResumeWindow(session);
    },
  });
  router.use(coreHandlers(crews, identity, entry, messages, delivery), 'relay core');
  features = (options.features ?? []).flatMap((build) => build(context));
  for (const feature of features) if (feature.handlers) router.use(feature.handlers, `feature ${feature.name}`);

  const startedAt = Date.now();
  const admin = express.Router();
  admin.use(
    operatorRoutes({
      store,
      registry,
      errors: metrics.errors,
      log,
      dataDir: config.dataDir,
      version: config.version,
      startedAt,
      adminToken: config.adminToken,
      relayClientId: config.spotify.clientId,
    }),
  );
  admin.use(adminRoutes({ store, registry, crews, identity, log, adminToken: config.adminToken }));
  const app = buildApp(config, log, features, admin, {
    version: config.version,
    store,
    bus,
    metrics,
    startedAt,
    metricsGate: requireMetricsAccess(config.metrics, log),
    connections: () => registry.all.size,
    devicesOnline: () => registry.deviceCount,
    loopLagMs: () => loopLag.ms(),
    stopping: () => stopping,
  });

  // The relay's timed parts, each with start()/stop(): retention prunes before the relay listens, the socket sweeps run once it does.
  const pruning = new Retention({ events: store.log, log, retentionDays: config.eventRetentionDays });
  // Pruning runs in one process of the relay's (pruneEventsBefore is idempotent: a paused former holder only deletes what is due anyway).
  const retention = new LeasedWork({ leases, name: 'retention', log, work: { start: () => pruning.start(), stop: async () => pruning.stop() } });
  const heartbeat = new Heartbeat({ registry, intervalMs: config.heartbeatIntervalMs });
  const identifySweep = new IdentifySweep({ registry, timeoutMs: config.identifyTimeoutMs, heartbeatIntervalMs: config.heartbeatIntervalMs });
  const listeningParts = [heartbeat, identifySweep, loopLag];

  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxPayloadBytes });
  const server = http.createServer(app);
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://relay').pathname;
    // The fleet's gadgets connect to `/` (the relay they know served it there) or `/ws`.
    if (!WS_PATHS.has(path) || stopping) return refuseUpgrade(socket, stopping ? 503 : 404);
    const remoteAddress = clientAddress(req, app);
    const key = addressKey(remoteAddress ?? 'unknown');
    if ((perAddress.get(key) ?? 0) >= config.maxConnectionsPerAddress) {
      log.warn({ address: key }, 'refused a connection: this address holds its maximum of open connections');
      return refuseUpgrade(socket, 429);
    }
    perAddress.set(key, (perAddress.get(key) ?? 0) + 1);
    socket.once('close', () => {
      const left = (perAddress.get(key) ?? 1) - 1;
      if (left > 0) perAddress.set(key, left);
      else perAddress.delete(key);
    });
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, remoteAddress));
  });
  /** Open connections by client address key (cloud/address-budget.ts addressKey). */
  const perAddress = new Map<string, number>();

  function onConnection(ws: WebSocket, remoteAddress: string | undefined): void {
    const session = new Session(ws, { rateLimit: config.rateLimit, metrics, remoteAddress, sendBufferLimitBytes: config.sendBufferLimitBytes });
    registry.add(session);
    ws.on('message', (data, isBinary) => router.onFrame(session, data, isBinary));
    ws.on('pong', (payload) => {
      heartbeat.answered(session);
      const proof = deliveryProof(payload);
      if (proof) delivery.confirmDelivered(session, proof);
    });
    // ws reports oversized frames (then closes with 1009) and protocol errors here.
    ws.on('error', (error) => log.debug({ err: error, deviceId: session.deviceId }, 'socket error'));
    ws.on('close', () => {
      session.closing = true;
      void session.enqueue(() => crews.goOffline(session)).catch((error: unknown) => log.error({ err: error }, 'presence update failed'));
    });
  }

  const featureRetries = new Set<NodeJS.Timeout>();

  /** A feature that fails to start (a full disk, say) is tried again with growing back-off until stop(). */
  async function startFeature(feature: Feature, attempt: number): Promise<void> {
    try {
      await feature.start();
      if (attempt > 0) log.info({ feature: feature.name, attempt }, 'feature started after retrying');
    } catch (error) {
      if (stopping) return;
      const retryInMs = Math.min(FEATURE_RETRY_MAX_MS, FEATURE_RETRY_FIRST_MS * 2 ** attempt);
      log.error({ err: error, feature: feature.name, retryInMs }, 'feature failed to start; the relay runs without it and tries again');
      const timer = setTimeout(() => {
        featureRetries.delete(timer);
        void startFeature(feature, attempt + 1);
      }, retryInMs);
      timer.unref();
      featureRetries.add(timer);
    }
  }

  async function start(): Promise<{ port: number }> {
    // A first write: the store's writer thread starts now rather than at the first message.
    await store.ping().catch((error: unknown) => log.warn({ err: error }, 'the store cannot write yet; /ready answers 503 until it can'));
    await bus.start({
      event: (message) => delivery.receive(message),
      takenOver: (deviceId) => identity.takenOver(deviceId),
      resubscribed: () => delivery.catchUp(),
      orphaned: (deviceIds) => void crews.announceOrphaned(deviceIds),
    });
    for (const feature of features) await startFeature(feature, 0);
    await retention.start();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    for (const part of listeningParts) part.start();
    const address = server.address();
    boundPort = typeof address === 'object' && address ? address.port : config.port;
    return { port: boundPort };
  }

  async function stop(): Promise<void> {
    if (stopping) return;
    stopping = true;
    for (const part of [...listeningParts].reverse()) part.stop();
    await retention.stop();
    for (const timer of featureRetries) clearTimeout(timer);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await closeSockets(registry, wss);
    server.closeAllConnections();
    await closed;
    await Promise.allSettled([...registry.all].map((s) => s.enqueue(async () => undefined)));
    await delivery.drain();
    for (const feature of [...features].reverse()) {
      await feature.stop().catch((error: unknown) => log.error({ err: error, feature: feature.name }, 'feature failed to stop'));
    }
    await delivery.drain();
    delivery.close();
    await bus.close();
    await store.close();
  }

  return { app, context, metrics, start, stop };
}

type CoreParts = [Crews, Identity, CrewEntry, CrewMessages, Delivery];

function coreHandlers(...[crews, identity, entry, messages, delivery]: CoreParts): CoreHandlers {
  return {
    hello: (s, m) => identity.hello(s, m),
    register: (s, m) => entry.register(s, m),
    create_crew: (s, m) => entry.createCrew(s, m),
    join_crew: (s, m) => entry.joinCrew(s, m),
    leave_crew: (s, m) => crews.leave(s, m),
    rename_crew: (s, m) => crews.rename(s, m),
    remove_member: (s, m) => crews.removeMember(s, m),
    rotate_code: (s, m) => crews.rotateCode(s, m),
    set_crew_settings: (s, m) => crews.setSettings(s, m),
    set_display_name: (s, m) => crews.setDisplayName(s, m),
    message: (s, m) => messages.message(s, m),
    share_music: (s, m) => messages.shareMusic(s, m),
    reaction: (s, m) => messages.reaction(s, m),
    // A barrier too: the pong leaves after every crew event published before the ping was sent.
    ping: async (s) => {
      await delivery.settled();
      s.send({ type: 'pong', timestamp: Date.now() });
    },
    resume: async (s, m) => {
      const crew = requireCrew(s);
      if (crew.crewCode !== m.crew_code) {
        delivery.endResumeWindow(s);
        throw new ProtocolError('not_in_crew', `This device is not in crew ${m.crew_code}; its crew is ${crew.crewCode}.`);
      }
      await delivery.resume(s, m.after_seq, () => crews.state(crew.crewId), m.epoch);
    },
  };
}

function buildApp(
  config: RelayConfig,
  log: Logger,
  features: readonly Feature[],
  admin: express.Router,
  status: Parameters<typeof statusRoutes>[0],
): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use(requestIds);
  app.use(statusRoutes(status));
  // Before the features: its bearer gate covers every /admin/… path, theirs included.
  app.use(admin);
  for (const feature of features) if (feature.router) app.use(feature.router);
  app.use((req, res) => {
    sendError(res, new ProtocolError('not_found', `Nothing is served at ${req.method} ${req.path}.`), log);
  });
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => sendError(res, error, log));
  return app;
}

function refuseUpgrade(socket: Duplex, status: 404 | 429 | 503): void {
  const text = { 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' }[status];
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** The client's address with `trust proxy` applied, as express computes req.ip. */
function clientAddress(req: http.IncomingMessage, app: express.Express): string | undefined {
  const trust = app.get('trust proxy fn') as (addr: string, i: number) => boolean;
  const chain = [
    req.socket.remoteAddress ?? '',
    ...String(req.headers['x-forwarded-for'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .reverse(),
  ];
  let i = 0;
  while (i < chain.length - 1 && trust(chain[i]!, i)) i += 1;
  return chain[i];
}

async function closeSockets(registry: SessionRegistry, wss: WebSocketServer): Promise<void> {
  const sockets = [...wss.clients];
  if (sockets.length === 0) return;
  const allClosed = Promise.all(
    sockets.map((ws) => new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once('close', () => resolve())))),
  );
  for (const session of registry.all) session.close(CLOSE_GOING_AWAY, 'relay shutting down');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
  await Promise.race([allClosed, timeout]);
  clearTimeout(timer);
  for (const ws of wss.clients) ws.terminate();
}
