/**
 * A small Prometheus registry: counters with labels, gauges read at scrape time and
 * histograms. Text exposition format 0.0.4.
 */
type Labels = Record<string, string>;

const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const formatLabels = (labels: Labels) => {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
};
const formatNumber = (n: number) => (Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : '-Inf');

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = formatLabels(labels);
    const entry = this.values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(key, entry);
  }

  get(labels: Labels = {}): number {
    return this.values.get(formatLabels(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${formatLabels(labels)} ${formatNumber(value)}`);
    return lines.join('\n');
  }
}

export class Gauge implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}

  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${formatNumber(this.read())}`].join('\n');
  }
}

export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    const index = this.buckets.findIndex((upper) => value <= upper);
    if (index >= 0) this.counts[index]! += 1;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    let cumulative = 0;
    this.buckets.forEach((upper, i) => {
      cumulative += this.counts[i]!;
      lines.push(`${this.name}_bucket{le="${upper}"} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];

  register<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }

  render(): string {
    return `${this.metrics.map((m) => m.render()).join('\n')}\n`;
  }
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export type RelayMetrics = ReturnType<typeof createRelayMetrics>;

export function createRelayMetrics(read: { connections: () => number; devicesOnline: () => number }) {
  const registry = new MetricsRegistry();
  return {
    registry,
    connections: registry.register(new Gauge('leeloo_connections', 'Open WebSocket connections.', read.connections)),
    devicesOnline: registry.register(new Gauge('leeloo_devices_online', 'Devices identified on an open connection.', read.devicesOnline)),
    messagesIn: registry.register(new Counter('leeloo_messages_in_total', 'Frames received, by message type.')),
    messagesOut: registry.register(new Counter('leeloo_messages_out_total', 'Frames sent, by message type.')),
    errors: registry.register(new Counter('leeloo_errors_total', 'Error frames sent, by code.')),
    slowClients: registry.register(new Counter('leeloo_slow_clients_total', 'Sockets dropped because they stopped reading what the relay sent.')),
    fanOutSeconds: registry.register(
      new Histogram('leeloo_fanout_latency_seconds', 'From publish to the last local send of a crew event.', LATENCY_BUCKETS),
    ),
    storeWriteSeconds: registry.register(
      new Histogram('leeloo_store_write_seconds', 'Duration of one group-commit write to the store.', LATENCY_BUCKETS),
    ),
  };
}
