import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { ConfigError, loadConfig } from '../../cloud/config.js';
import { newCrewCode } from '../../cloud/crew-codes.js';
import { deviceSecretMatches, hashDeviceSecret, newDeviceSecret } from '../../cloud/device-credentials.js';
import { createRelayMetrics } from '../../cloud/metrics.js';
import { SEND_BUFFER_LIMIT_BYTES, Session } from '../../cloud/sessions.js';
import { TokenBucket } from '../../cloud/token-bucket.js';
import { CREW_CODE_PATTERN, DeviceSecret } from '../../protocol/index.js';

describe('relay config', () => {
  it('has defaults for everything', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      dataDir: './data',
      redisUrl: undefined,
      heartbeatIntervalMs: 30_000,
      maxPayloadBytes: 65_536,
      trustProxy: false,
    });
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

describe('relay metrics (prom-client)', () => {
  it('renders Node.js defaults, the build, gadgets by generation, escaped labels and cumulative histograms', async () => {
    const metrics = createRelayMetrics(
      { connections: () => 3, devicesOnline: () => 2, gadgetsOnline: () => ({ legacy: 1, current: 2 }) },
      { version: '9.9.9' },
    );
    metrics.messagesIn.inc({ type: 'a"b' });
    metrics.messagesIn.inc({ type: 'a"b' }, 2);
    metrics.features.spotifyCall('rate_limited');
    metrics.features.queueAction('queue_add');
    metrics.features.historyImport('done');
    metrics.fanOutSeconds.observe(0.0004);
    metrics.fanOutSeconds.observe(0.3);
    metrics.fanOutSeconds.observe(5);
    const text = await metrics.registry.metrics();
    expect(text).toContain('leeloo_messages_in_total{type="a\\"b"} 3');
    expect(await metrics.messagesIn.get({ type: 'a"b' })).toBe(3);
    expect(text).toContain(`leeloo_build_info{version="9.9.9",node="${process.versions.node}"} 1`);
    expect(text).toMatch(/^leeloo_connections 3$/m);
    expect(text).toContain('leeloo_gadgets_online{generation="legacy"} 1');
    expect(text).toContain('leeloo_gadgets_online{generation="current"} 2');
    expect(text).toContain('leeloo_spotify_calls_total{outcome="rate_limited"} 1');
    expect(text).toContain('leeloo_queue_actions_total{action="queue_add"} 1');
    expect(text).toContain('leeloo_history_imports_total{outcome="done"} 1');
    expect(text).toContain('leeloo_fanout_latency_seconds_bucket{le="0.0005"} 1');
    expect(text).toContain('leeloo_fanout_latency_seconds_bucket{le="0.5"} 2');
    expect(text).toContain('leeloo_fanout_latency_seconds_bucket{le="+Inf"} 3');
    expect(text).toContain('leeloo_fanout_latency_seconds_count 3');
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it('keeps the recent error codes for the operator, most frequent first', async () => {
    const metrics = createRelayMetrics({ connections: () => 0, devicesOnline: () => 0 });
    for (const code of ['rate_limited', 'not_owner', 'rate_limited']) metrics.errors.inc({ code });
    expect(metrics.errors.recentByCode(0)).toEqual([
      { code: 'rate_limited', count: 2 },
      { code: 'not_owner', count: 1 },
    ]);
    expect(metrics.errors.recentByCode(Date.now() + 1000)).toEqual([]);
    expect(await metrics.errors.get({ code: 'rate_limited' })).toBe(2);
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

  it('drops a socket that stops reading instead of buffering without bound', async () => {
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
    expect((await metrics.slowClients.get()).values[0]?.value).toBe(1);
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
