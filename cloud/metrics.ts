import client from 'prom-client';
import type { SpotifyCallOutcome } from '../spotify/spotify-http.js';
import type { FeatureMetrics } from './feature.js';

/**
 * The relay's Prometheus metrics (prom-client): Node.js and process metrics, the build,
 * connections and gadgets online by generation, frames, errors, fan-out and store
 * latencies, and what the features report through FeatureMetrics. Each relay has its own
 * registry (tests run several relays in one process).
 */

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * A counter with one label whose children are resolved once per label value: the hot path
 * (a frame in, a frame out) then costs a map lookup and an add, no label hashing.
 */
export class LabelledCounter<L extends string> {
  private readonly children = new Map<string, client.Counter.Internal>();

  constructor(
    readonly counter: client.Counter<L>,
    private readonly label: L,
  ) {}

  inc(labels: Record<L, string>, by = 1): void {
    const value = labels[this.label];
    let child = this.children.get(value);
    if (!child) {
      child = this.counter.labels({ [this.label]: value } as Partial<Record<L, string>>);
      this.children.set(value, child);
    }
    child.inc(by);
  }

  /** The current count for one label value (0 when never counted). */
  async get(labels: Record<L, string>): Promise<number> {
    const { values } = await this.counter.get();
    return values.find((v) => v.labels[this.label] === labels[this.label])?.value ?? 0;
  }
}

/** leeloo_errors_total, and the codes of the last RECENT_ERRORS error frames for the operator's page. */
export class ErrorCounter {
  private readonly recent: { code: string; at: number }[] = [];

  constructor(
    private readonly counter: LabelledCounter<'code'>,
    private readonly now: () => number = Date.now,
  ) {}

  inc(labels: { code: string }): void {
    this.counter.inc(labels);
    this.recent.push({ code: labels.code, at: this.now() });
    if (this.recent.length > RECENT_ERRORS) this.recent.shift();
  }

  get(labels: { code: string }): Promise<number> {
    return this.counter.get(labels);
  }

  /** Error frames sent since `since` (of the last RECENT_ERRORS), by code, most frequent first. */
  recentByCode(since: number): { code: string; count: number }[] {
    const counts = new Map<string, number>();
    for (const { code, at } of this.recent) if (at >= since) counts.set(code, (counts.get(code) ?? 0) + 1);
    return [...counts].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  }
}

const RECENT_ERRORS = 500;

export type RelayMetrics = ReturnType<typeof createRelayMetrics>;

export interface MetricsSources {
  connections(): number;
  devicesOnline(): number;
  /** Identified gadgets online: `legacy` (first/second generation) and `current`. */
  gadgetsOnline?(): { legacy: number; current: number };
  /** Client addresses backing off after spending a crew-entry budget (cloud/address-budget.ts). */
  addressesBackingOff?(): number;
  /** Live events held for sockets (until their resume, or behind a replay), all sockets together. */
  heldEvents?(): number;
}

export function createRelayMetrics(read: MetricsSources, build: { version: string } = { version: 'unknown' }) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const counter = <L extends string>(name: string, help: string, label: L) =>
    new LabelledCounter(new client.Counter({ name, help, labelNames: [label], registers: [registry] }), label);
  const histogram = (name: string, help: string) => new client.Histogram({ name, help, buckets: LATENCY_BUCKETS, registers: [registry] });

  new client.Gauge({
    name: 'leeloo_build_info',
    help: 'The relay build: always 1, with its version and Node.js version.',
    labelNames: ['version', 'node'],
    registers: [registry],
  }).set({ version: build.version, node: process.versions.node }, 1);
  new client.Gauge({
    name: 'leeloo_connections',
    help: 'Open WebSocket connections.',
    registers: [registry],
    collect() {
      this.set(read.connections());
    },
  });
  new client.Gauge({
    name: 'leeloo_devices_online',
    help: 'Devices identified on an open connection.',
    registers: [registry],
    collect() {
      this.set(read.devicesOnline());
    },
  });
  new client.Gauge({
    name: 'leeloo_gadgets_online',
    help: 'Identified gadgets online by protocol generation: legacy (first and second) and current.',
    labelNames: ['generation'],
    registers: [registry],
    collect() {
      const online = read.gadgetsOnline?.() ?? { legacy: 0, current: read.devicesOnline() };
      this.set({ generation: 'legacy' }, online.legacy);
      this.set({ generation: 'current' }, online.current);
    },
  });

  new client.Gauge({
    name: 'leeloo_addresses_backing_off',
    help: 'Client addresses refused after spending their failed-join or new-crew budget (a crew-code sweep alarm).',
    registers: [registry],
    collect() {
      this.set(read.addressesBackingOff?.() ?? 0);
    },
  });
  new client.Gauge({
    name: 'leeloo_held_events',
    help: 'Live crew events held for sockets until their resume or replay ends (MAX_HELD_EVENTS each at most).',
    registers: [registry],
    collect() {
      this.set(read.heldEvents?.() ?? 0);
    },
  });

  const spotifyCalls = counter(
    'leeloo_spotify_calls_total',
    'Answers from Spotify (and failed attempts), by outcome: ok, rate_limited (429), quota_exceeded, client_error, server_error, network_error.',
    'outcome',
  );
  const spotifyRefreshFailures = counter('leeloo_spotify_refresh_failures_total', 'Spotify token refreshes that failed, by reason.', 'reason');
  const queueActions = counter('leeloo_queue_actions_total', 'Crew queue commands run, by action.', 'action');
  const historyImports = counter('leeloo_history_imports_total', 'Listening-history imports finished, by outcome (done, or the error code).', 'outcome');
  const features: FeatureMetrics = {
    spotifyCall: (outcome: SpotifyCallOutcome) => spotifyCalls.inc({ outcome }),
    spotifyRefreshFailed: (reason) => spotifyRefreshFailures.inc({ reason }),
    queueAction: (action) => queueActions.inc({ action }),
    historyImport: (outcome) => historyImports.inc({ outcome }),
  };

  return {
    registry,
    features,
    spotifyCalls,
    spotifyRefreshFailures,
    queueActions,
    historyImports,
    addressBudgetRefusals: counter(
      'leeloo_address_budget_refusals_total',
      'Crew entries refused because the client address spent its budget, by budget: join_failures, new_crews.',
      'budget',
    ),
    messagesIn: counter('leeloo_messages_in_total', 'Frames received, by message type.', 'type'),
    messagesOut: counter('leeloo_messages_out_total', 'Frames sent, by message type.', 'type'),
    errors: new ErrorCounter(counter('leeloo_errors_total', 'Error frames sent, by code.', 'code')),
    slowClients: new client.Counter({
      name: 'leeloo_slow_clients_total',
      help: 'Sockets dropped because they stopped reading what the relay sent.',
      registers: [registry],
    }),
    overloadRefusals: new client.Counter({
      name: 'leeloo_overload_refusals_total',
      help: 'Crew messages refused (rate_limited, with retry_after_ms) while the event loop ran later than OVERLOAD_LAG_MS.',
      registers: [registry],
    }),
    fanOutSeconds: histogram('leeloo_fanout_latency_seconds', 'From publish to the last local send of a crew event.'),
    storeWriteSeconds: histogram('leeloo_store_write_seconds', 'Duration of one group-commit write to the store.'),
  };
}
