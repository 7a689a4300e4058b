import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../cloud/config.js';
import type { Feature, FeatureFactory } from '../../cloud/feature.js';
import { createLogger } from '../../cloud/log.js';
import { createRelay } from '../../cloud/server.js';
import { openStore } from '../../cloud/store/open-store.js';
import { ProtocolError } from '../../protocol/index.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { isType, OpenClients } from '../helpers/ws-client.js';

/** How the relay hands socket messages to features, and what their failures become. */
describe('feature handler dispatch', () => {
  let relay: InProcessRelay;
  const seen: { deviceId: string | null; crewCode: string | null; type: string }[] = [];
  const clients = new OpenClients(() => relay.connect());
  const connect = clients.connect;

  const probe: FeatureFactory = (context): Feature => ({
    name: 'probe',
    handlers: {
      queue_get: async (session, message) => {
        seen.push({ deviceId: session.deviceId, crewCode: session.crew?.crewCode ?? null, type: message.type });
        session.send({ type: 'pong', timestamp: 1 });
      },
      airhorn: async (_session, message) => {
        const id = 'client_msg_id' in message ? message.client_msg_id : undefined;
        if (id === 'refuse') throw new ProtocolError('not_owner', 'Only the crew owner may sound this.');
        if (id === 'crash') throw new Error('database on fire: secret=hunter2');
        if (id === 'reject') return Promise.reject(new TypeError('undefined is not a function'));
        context.log.info('airhorn handled');
        return { seq: 7 };
      },
    },
    start: async () => undefined,
    stop: async () => undefined,
  });

  beforeAll(async () => {
    relay = await startInProcessRelay({ features: [probe] });
  });
  afterAll(async () => {
    await clients.closeAll();
    await relay.close();
  });

  it('calls a feature handler only for identified sessions, with the session view', async () => {
    const c = await connect();
    c.send({ type: 'queue_get' });
    expect(await c.next()).toMatchObject({ type: 'error', code: 'not_registered', ref_type: 'queue_get' });
    expect(seen).toEqual([]);

    const welcome = await c.request({ type: 'hello', protocol_version: 3, device_name: 'Probe' }, isType('welcome'));
    const created = await c.request({ type: 'create_crew', display_name: 'Probe' }, isType('crew_created'));
    expect(await c.request({ type: 'queue_get' }, () => true)).toMatchObject({ type: 'pong', timestamp: 1 });
    expect(seen).toEqual([{ deviceId: welcome.device_id, crewCode: created.crew_code, type: 'queue_get' }]);
  });

  it('a ProtocolError becomes its error frame; anything else internal_error; the socket keeps working', async () => {
    const c = await connect();
    await c.request({ type: 'hello', protocol_version: 3, device_name: 'Horn' }, isType('welcome'));
    const before = await relay.relay.metrics.errors.get({ code: 'internal_error' });

    expect(await c.request({ type: 'airhorn', client_msg_id: 'refuse' }, isType('error'))).toEqual({
      type: 'error',
      code: 'not_owner',
      error: 'not_owner',
      message: 'Only the crew owner may sound this.',
      client_msg_id: 'refuse',
      ref_type: 'airhorn',
    });
    for (const id of ['crash', 'reject']) {
      const failed = await c.request({ type: 'airhorn', client_msg_id: id }, isType('error'));
      expect(failed).toMatchObject({ code: 'internal_error', error: 'internal_error', client_msg_id: id, ref_type: 'airhorn' });
      // The cause is logged, never sent to the device.
      expect(JSON.stringify(failed)).not.toMatch(/fire|hunter2|not a function/);
    }
    expect(await relay.relay.metrics.errors.get({ code: 'internal_error' })).toBe(before + 2);
    expect(await c.request({ type: 'airhorn', client_msg_id: 'fine' }, isType('ack'))).toEqual({ type: 'ack', client_msg_id: 'fine', seq: 7 });
  });

  it('a type handled twice fails when the relay is built', async () => {
    const dataDir = await makeTempDir('leeloo-clash-');
    const store = await openStore(loadConfig({ PORT: '0', HOST: '127.0.0.1', LEELOO_DATA_DIR: dataDir }));
    try {
      const clash: FeatureFactory = () => ({
        name: 'clash',
        handlers: { ping: async () => undefined },
        start: async () => undefined,
        stop: async () => undefined,
      });
      const build = () => createRelay({ config: loadConfig({ PORT: '0' }), store, log: createLogger('silent'), features: [clash] });
      expect(build).toThrow(/feature clash registers a handler for "ping"/);
    } finally {
      await store.close();
      await removeTempDir(dataDir);
    }
  });
});

describe('a feature route that fails', () => {
  it('answers 500 internal_error without the cause, and logs the cause', async () => {
    const lines: string[] = [];
    const log = createLogger('error', { write: (line: string) => void lines.push(line) });
    const broken: FeatureFactory = () => {
      const router = express.Router();
      router.get('/broken', () => {
        throw new Error('disk on fire');
      });
      return { name: 'broken', router, start: async () => undefined, stop: async () => undefined };
    };
    const relay = await startInProcessRelay({ features: [broken], log });
    try {
      const answer = await fetch(`${relay.httpUrl}/broken`);
      expect(answer.status).toBe(500);
      const body = await answer.json();
      expect(body).toMatchObject({ code: 'internal_error', error: 'internal_error' });
      expect(JSON.stringify(body)).not.toContain('disk on fire');
      const logged = lines.map((line) => JSON.parse(line) as { msg: string; path?: string; err?: { message: string } });
      expect(logged).toContainEqual(
        expect.objectContaining({ msg: 'HTTP request failed', path: '/broken', err: expect.objectContaining({ message: 'disk on fire' }) }),
      );
    } finally {
      await relay.close();
    }
  });
});
