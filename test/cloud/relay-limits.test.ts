import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { isType, OpenClients, type TestClient } from '../helpers/ws-client.js';

/** Bad frames get stable codes, floods and giants are cut off, and other sockets keep being served. */
describe('relay limits and bad frames', () => {
  let relay: InProcessRelay;
  let bystander: TestClient;
  let watcher: TestClient;
  const clients = new OpenClients(() => relay.connect());
  const connect = clients.connect;

  beforeAll(async () => {
    relay = await startInProcessRelay({
      env: { RATE_LIMIT_PER_SECOND: '5', RATE_LIMIT_BURST: '10', RATE_LIMIT_CLOSE_AFTER: '20', HEARTBEAT_INTERVAL_MS: '200' },
    });
    // Two well-behaved devices in one crew: every test checks they are still served.
    bystander = await connect();
    await bystander.request({ type: 'hello', protocol_version: 3, device_name: 'Calm' }, isType('welcome'));
    const created = await bystander.request({ type: 'create_crew', display_name: 'Calm' }, isType('crew_created'));
    watcher = await connect();
    await watcher.request({ type: 'hello', protocol_version: 3, device_name: 'Watch' }, isType('welcome'));
    await watcher.request({ type: 'join_crew', crew_code: created.crew_code, display_name: 'Watch' }, isType('crew_joined'));
    await bystander.next(isType('member_joined'));
  });
  afterAll(async () => {
    await clients.closeAll();
    await relay.close();
  });

  let counter = 0;
  async function othersStillServed(): Promise<void> {
    counter += 1;
    bystander.send({ type: 'message', msg_type: 'text', payload: { text: `still here ${counter}` }, client_msg_id: `calm-${counter}` });
    await bystander.next(isType('ack', { client_msg_id: `calm-${counter}` }));
    expect(await watcher.next(isType('message'))).toMatchObject({ payload: { text: `still here ${counter}` } });
  }

  it('invalid JSON → invalid_json', async () => {
    const c = await connect();
    c.send('{"type": "ping",');
    expect(await c.next()).toMatchObject({ type: 'error', code: 'invalid_json' });
    c.send('[1,2,3]');
    expect(await c.next()).toMatchObject({ type: 'error', code: 'invalid_message' });
    await othersStillServed();
  });

  it('binary frame → binary_frame', async () => {
    const c = await connect();
    c.sendBinary(Buffer.from('{"type":"ping"}'));
    expect(await c.next()).toMatchObject({ type: 'error', code: 'binary_frame' });
    await othersStillServed();
  });

  it('wrong field types → invalid_message naming the fields', async () => {
    const c = await connect();
    c.send({ type: 'hello', protocol_version: '3', device_name: 5 });
    const error = await c.next();
    expect(error).toMatchObject({ type: 'error', code: 'invalid_message', ref_type: 'hello' });
    expect(error.message).toMatch(/protocol_version/);
    expect(error.message).toMatch(/device_name/);
    c.send({ type: 'message', msg_type: 'text', payload: { text: '' }, client_msg_id: 'bad-1' });
    expect(await c.next()).toMatchObject({ code: 'invalid_message', client_msg_id: 'bad-1' });
    await othersStillServed();
  });

  it('unknown type → unknown_type; messages before hello → not_registered; old hello → unsupported_version', async () => {
    const c = await connect();
    c.send({ type: 'teleport', to: 'mars' });
    expect(await c.next()).toMatchObject({ code: 'unknown_type' });
    c.send({ type: 'share_music', spotify_uri: 'spotify:track:x1', artist: 'A', track: 'T' });
    expect(await c.next()).toMatchObject({ code: 'not_registered', ref_type: 'share_music' });
    c.send({ type: 'hello', protocol_version: 2, device_name: 'Old' });
    expect(await c.next()).toMatchObject({ code: 'unsupported_version' });
    await c.request({ type: 'hello', protocol_version: 3, device_name: 'Lonely' }, isType('welcome'));
    c.send({ type: 'message', msg_type: 'nudge', payload: {}, client_msg_id: 'n1' });
    expect(await c.next()).toMatchObject({ code: 'not_in_crew', client_msg_id: 'n1' });
    c.send({ type: 'hello', protocol_version: 3, device_name: 'Again' });
    expect(await c.next()).toMatchObject({ code: 'conflict' });
    await othersStillServed();
  });

  it('a 4 MB frame closes the socket with 1009', async () => {
    const c = await connect();
    c.send(JSON.stringify({ type: 'message', msg_type: 'text', payload: { text: 'x'.repeat(4 * 1024 * 1024) } }));
    expect((await c.closed).code).toBe(1009);
    await othersStillServed();
  });

  it('a flood gets rate_limited with retry_after_ms, then the socket is closed with 1008', async () => {
    const c = await connect();
    for (let i = 0; i < 200 && c.ws.readyState === WebSocket.OPEN; i += 1) c.send({ type: 'ping' });
    const limited = await c.next(isType('error', { code: 'rate_limited' }));
    expect(limited.retry_after_ms).toBeGreaterThan(0);
    expect((await c.closed).code).toBe(1008);
    await othersStillServed();
  });

  it('a flooding gadget hears which frames were refused, and what was admitted is still handled before the 1008', async () => {
    const c = await connect();
    await c.request({ type: 'hello', protocol_version: 3, device_name: 'Flood' }, isType('welcome'));
    await c.request({ type: 'create_crew', display_name: 'Flood' }, isType('crew_created'));
    for (let i = 0; i < 100 && c.ws.readyState === WebSocket.OPEN; i += 1) {
      c.send({ type: 'message', msg_type: 'text', payload: { text: `burst ${i}` }, client_msg_id: `burst-${i}` });
    }
    expect((await c.closed).code).toBe(1008);
    const acked = new Set(c.received.filter((f) => f.type === 'ack').map((f) => f.client_msg_id));
    const refused = c.received.filter((f) => f.type === 'error' && f.code === 'rate_limited');
    expect(acked.size).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.client_msg_id).toMatch(/^burst-\d+$/);
      expect(acked.has(r.client_msg_id)).toBe(false);
    }
    // RATE_LIMIT_CLOSE_AFTER is 20 refusals in a row: the 19 after the last admitted frame are answered, the 20th closes.
    // (A token that refills mid-burst on a busy machine admits a frame and starts the count again.)
    const index = (id: unknown) => Number(String(id).slice('burst-'.length));
    const lastAdmitted = Math.max(...[...acked].map(index));
    expect(refused.filter((r) => index(r.client_msg_id) > lastAdmitted).length).toBe(19);
    // Up to the last answered frame, each was either acked (admitted, handled despite the close) or named as refused.
    const named = new Set(refused.map((r) => r.client_msg_id));
    const last = Math.max(...[...acked, ...named].map(index));
    for (let i = 0; i <= last; i += 1) expect(acked.has(`burst-${i}`) || named.has(`burst-${i}`)).toBe(true);
    await othersStillServed();
  });

  it('a socket that stops answering pings is terminated by the heartbeat', async () => {
    const silent = new WebSocket(relay.wsUrl, { autoPong: false });
    const closed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
    await new Promise((resolve) => silent.once('open', resolve));
    // 1006: the relay dropped the TCP connection without a closing handshake.
    expect(await closed).toBe(1006);
    await othersStillServed();
  });

  it('only /ws and / upgrade', async () => {
    const wrong = new WebSocket(relay.wsUrl.replace('/ws', '/elsewhere'));
    const failure = await new Promise<string>((resolve) => wrong.once('error', (e) => resolve(e.message)));
    expect(failure).toMatch(/404/);
    const root = new WebSocket(relay.wsUrl.replace(/\/ws$/, '/'));
    await new Promise((resolve, reject) => root.once('open', resolve).once('error', reject));
    root.close();
  });
});
