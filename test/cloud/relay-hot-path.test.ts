import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { ConfigError, loadConfig } from '../../cloud/config.js';
import { createRelayMetrics } from '../../cloud/metrics.js';
import { PENDING_FRAMES_PAUSE_AT, Session } from '../../cloud/sessions.js';
import { openSqliteStore } from '../../cloud/store/sqlite-store.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A real loopback socket pair: the relay's side wrapped in a Session, and the client. */
async function sessionPair(): Promise<{ session: Session; client: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  await new Promise((resolve) => client.once('open', resolve));
  const server = await accepted;
  cleanups.push(
    () => new Promise<void>((resolve) => wss.close(() => resolve())),
    () => client.terminate(),
  );
  const metrics = createRelayMetrics({ connections: () => 1, devicesOnline: () => 0 });
  return { session: new Session(server, { rateLimit: { perSecond: 1000, burst: 1000 }, metrics, remoteAddress: undefined }), client };
}

describe('back-pressure on a sender', () => {
  it('stops reading a socket while its frames wait to be handled and reads it again once they are', async () => {
    const { session } = await sessionPair();
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const handled: number[] = [];
    const tasks = Array.from({ length: PENDING_FRAMES_PAUSE_AT - 1 }, (_, i) =>
      session.enqueue(async () => {
        await blocked;
        handled.push(i);
      }),
    );
    expect(session.ws.isPaused).toBe(false);
    tasks.push(session.enqueue(async () => void handled.push(PENDING_FRAMES_PAUSE_AT - 1)));
    expect(session.ws.isPaused).toBe(true);
    release();
    await Promise.all(tasks);
    await waitUntil(() => !session.ws.isPaused, 'the socket to be read again');
    expect(handled).toEqual(Array.from({ length: PENDING_FRAMES_PAUSE_AT }, (_, i) => i));
  });

  it('keeps reading through a failing handler', async () => {
    const { session } = await sessionPair();
    const tasks = Array.from({ length: PENDING_FRAMES_PAUSE_AT }, () =>
      session.enqueue(async () => {
        throw new Error('handler failed');
      }),
    );
    expect(session.ws.isPaused).toBe(true);
    await Promise.allSettled(tasks);
    await waitUntil(() => !session.ws.isPaused, 'the socket to be read again');
  });
});

describe('LEELOO_SQLITE_SYNC', () => {
  it('defaults to full, accepts normal and refuses anything else with a sentence naming it', () => {
    expect(loadConfig({}).sqliteSync).toBe('full');
    expect(loadConfig({ LEELOO_SQLITE_SYNC: 'normal' }).sqliteSync).toBe('normal');
    expect(() => loadConfig({ LEELOO_SQLITE_SYNC: 'off' })).toThrow(ConfigError);
    try {
      loadConfig({ LEELOO_SQLITE_SYNC: 'off' });
    } catch (error) {
      expect((error as ConfigError).problems.join('\n')).toContain('LEELOO_SQLITE_SYNC');
    }
  });

  it('opens the store with the synchronous level it names', async () => {
    const dir = await makeTempDir();
    cleanups.push(() => removeTempDir(dir));
    const levels: number[] = [];
    for (const synchronous of ['full', 'normal'] as const) {
      const store = openSqliteStore(path.join(dir, `${synchronous}.db`), { synchronous });
      levels.push(store.db.pragma('synchronous', { simple: true }) as number);
      await store.close();
    }
    expect(levels).toEqual([2, 1]);
  });
});
