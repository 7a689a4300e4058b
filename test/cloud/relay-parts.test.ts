import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { ConfigError, loadConfig } from '../../cloud/config.js';
import { newCrewCode } from '../../cloud/crew-codes.js';
import { deviceSecretMatches, hashDeviceSecret, newDeviceSecret } from '../../cloud/device-credentials.js';
import { Counter, Histogram, MetricsRegistry, createRelayMetrics } from '../../cloud/metrics.js';
import { SEND_BUFFER_LIMIT_BYTES, Session } from '../../cloud/sessions.js';
import { TokenBucket } from '../../cloud/token-bucket.js';
import { CREW_CODE_PATTERN, DeviceSecret } from '../../protocol/index.js';

describe('relay config', () => {
  it('has defaults for everything', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, dataDir: './data', redisUrl: undefined, heartbeatIntervalMs: 30_000, maxPayloadBytes: 65_536, trustProxy: false });
    expect(config.rateLimit).toEqual({ perSecond: 20, burst: 40, closeAfter: 60 });
  });

  it('reads trust proxy as boolean, hop count or address list', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
  });

  it('lists every bad setting in a readable sentence', () => {
    try {
      loadConfig({ PORT: '99999', LOG_LEVEL: 'loud', REDIS_URL: 'http://x', HEARTBEAT_INTERVAL_MS: '-5' });
      expect.unreachable('loadConfig accepted bad settings');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      for (const name of ['PORT', 'LOG_LEVEL', 'REDIS_URL', 'HEARTBEAT_INTERVAL_MS']) expect(problems).toContain(name);
    }
  });
});

describe('credentials and codes', () => {
  it('issues secrets the protocol accepts and matches them only exactly', () => {
    const secret = newDeviceSecret();
    expect(DeviceSecret.safeParse(secret).success).toBe(true);
    const hash = hashDeviceSecret(secret);
    expect(deviceSecretMatches(secret, hash)).toBe(true);
    expect(deviceSecretMatches(`${secret}x`, hash)).toBe(false);
    expect(deviceSecretMatches(undefined, hash)).toBe(false);
    expect(newDeviceSecret()).not.toBe(secret);
  });

  it('makes crew codes from the alphabet without I, O, 0, 1', () => {
    const codes = new Set(Array.from({ length: 300 }, newCrewCode));
    for (const code of codes) expect(code).toMatch(CREW_CODE_PATTERN);
    expect(codes.size).toBeGreaterThan(290);
  });
});

describe('token bucket', () => {
  it('allows the burst, then refills at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()].every((r) => r.ok)).toBe(true);
    expect(bucket.take()).toEqual({ ok: false, retryAfterMs: 100 });
    now += 100;
    expect(bucket.take().ok).toBe(true);
    expect(bucket.take().ok).toBe(false);
  });
});

describe('metrics registry', () => {
  it('renders counters with escaped labels and cumulative histograms', () => {
    const registry = new MetricsRegistry();
    const counter = registry.register(new Counter('x_total', 'Xs.'));
    counter.inc({ type: 'a"b' });
    counter.inc({ type: 'a"b' }, 2);
    const histogram = registry.register(new Histogram('y_seconds', 'Ys.', [0.1, 1]));
    histogram.observe(0.05);
    histogram.observe(0.5);
    histogram.observe(5);
    const text = registry.render();
    expect(text).toContain('x_total{type="a\\"b"} 3');
    expect(text).toContain('# TYPE y_seconds histogram');
    expect(text).toContain('y_seconds_bucket{le="0.1"} 1\ny_seconds_bucket{le="1"} 2\ny_seconds_bucket{le="+Inf"} 3');
    expect(text).toContain('y_seconds_sum 5.55');
    expect(text).toContain('y_seconds_count 3');
  });
});

/** A socket whose peer stopped reading: everything sent stays in bufferedAmount. */
class StuckSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  terminated = false;
  pingCallbacks: ((error?: Error) => void)[] = [];
  send(data: string): void {
    this.sent.push(data);
    this.bufferedAmount += Buffer.byteLength(data);
  }
  ping(_data: unknown, _mask: unknown, cb: (error?: Error) => void): void {
    this.pingCallbacks.push(cb);
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }
}

describe('slow clients', () => {
  const session = (ws: StuckSocket) => {
    const metrics = createRelayMetrics({ connections: () => 0, devicesOnline: () => 0 });
    return { metrics, session: new Session(ws as unknown as WebSocket, { rateLimit: { perSecond: 1, burst: 1 }, metrics, remoteAddress: undefined }) };
  };
  const frame = { type: 'pong', timestamp: 1 } as const;

  it('drops a socket that stops reading instead of buffering without bound', () => {
    const ws = new StuckSocket();
    const { session: s, metrics } = session(ws);
    s.send(frame);
    expect(ws.sent).toHaveLength(1);
    ws.bufferedAmount = SEND_BUFFER_LIMIT_BYTES + 1;
    s.send(frame);
    s.send(frame);
    expect(ws.sent).toHaveLength(1);
    expect(ws.terminated).toBe(true);
    expect(s.closing).toBe(true);
    expect(metrics.slowClients.get()).toBe(1);
  });

  it('drained() waits until the socket took what was sent, or closed', async () => {
    const ws = new StuckSocket();
    const { session: s } = session(ws);
    await s.drained();
    expect(ws.pingCallbacks).toHaveLength(0);
    ws.bufferedAmount = 1024 * 1024;
    let done = false;
    const first = s.drained().then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    ws.pingCallbacks[0]!();
    await first;
    const second = s.drained();
    ws.emit('close');
    await second;
    expect(ws.listenerCount('close')).toBe(0);
  });
});
