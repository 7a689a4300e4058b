import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { SilentProxy } from '../helpers/silent-proxy.js';
import { waitUntil } from '../helpers/wait-until.js';
import { isType, OpenClients, TestClient } from '../helpers/ws-client.js';
import { gen1, gen2 } from './field-frames.js';

/**
 * Older gadgets have no acks and no resume: a frame counts as delivered to one only once a
 * WebSocket pong the relay asked for after it came back. A link that goes silent (no FIN,
 * no RST) swallows what was sent meanwhile; it all comes again, in order, on reconnect.
 */
describe('field conformance: a legacy gadget on a silent link', () => {
  let relay: InProcessRelay;
  let proxy: SilentProxy;
  const clients = new OpenClients(() => relay.connect());
  const viaProxy = () => TestClient.connect(proxy.url());

  beforeAll(async () => {
    relay = await startInProcessRelay();
  });
  afterEach(async () => {
    await clients.closeAll();
    await proxy?.close();
  });
  afterAll(async () => {
    await relay.close();
  });

  const delivered = async (deviceId: string) => (await relay.store.crews.getMembership(deviceId))?.deliveredSeq ?? -1;

  async function shareFrom(sender: TestClient, n: number): Promise<number> {
    const ack = await sender.request(
      {
        type: 'message',
        msg_type: 'song_push',
        client_msg_id: `share-${n}`,
        payload: { artist: 'Band', track: `Track ${n}`, spotify_uri: `spotify:track:silent${n}` },
      },
      isType('ack', { client_msg_id: `share-${n}` }),
    );
    return ack.seq as number;
  }

  it('second generation: 10 shares sent while the link is silent all arrive after it reconnects, none twice', async () => {
    proxy = await SilentProxy.start(relay.port);
    const sender = await clients.connect();
    await sender.request({ type: 'hello', protocol_version: 3, device_name: 'Sender' }, isType('welcome'));
    const code = (await sender.request({ type: 'create_crew', display_name: 'Sender' }, isType('crew_created'))).crew_code as string;

    const gadget = await viaProxy();
    gadget.send(gen2.joinCrew(code, '', 'Kitchen'));
    const joined = await gadget.next();
    const deviceId = joined.device_id as string;
    await sender.next(isType('member_joined'));

    // One share arrives while the link is fine; its pong confirms it.
    const seq0 = await shareFrom(sender, 0);
    expect(await gadget.next(isType('message'))).toMatchObject({ payload: { track: 'Track 0' } });
    await waitUntil(async () => (await delivered(deviceId)) >= seq0, 'the first share confirmed by a pong');

    proxy.silence();
    const sent: number[] = [];
    for (let n = 1; n <= 10; n++) sent.push(await shareFrom(sender, n));
    // The relay wrote them all to the socket; none is confirmed, so none counts as delivered.
    expect(await delivered(deviceId)).toBe(seq0);

    // leeloo_brain reconnects and rejoins with its saved id and code.
    const back = await viaProxy();
    back.send(gen2.joinCrew(code, deviceId, 'Kitchen'));
    expect(await back.next()).toMatchObject({ type: 'crew_joined', device_id: deviceId });
    const tracks: string[] = [];
    for (let n = 1; n <= 10; n++) tracks.push(String(((await back.next(isType('message'))).payload as { track: string }).track));
    expect(tracks).toEqual(Array.from({ length: 10 }, (_, i) => `Track ${i + 1}`));
    // None twice, and not the one confirmed before the silence.
    await back.expectQuiet((f) => f.type !== 'message');
    expect(back.received.filter((f) => f.type === 'message')).toHaveLength(10);
    await waitUntil(async () => (await delivered(deviceId)) >= sent[9]!, 'the replayed shares confirmed');
    await gadget.terminate();
  });

  it('first generation: shares swallowed by a silent link come again as music_shared on the next register', async () => {
    proxy = await SilentProxy.start(relay.port);
    const sender = await clients.connect();
    await sender.request({ type: 'hello', protocol_version: 3, device_name: 'Sender' }, isType('welcome'));
    await sender.request({ type: 'register', protocol_version: 3, crew_code: 'delta', device_name: 'Sender' }, isType('registered'));

    const gadget = await viaProxy();
    gadget.send(gen1.register({ device_id: 'leeloo_silent1', crew_code: 'delta', device_name: 'Old' }));
    await gadget.next(isType('registered'));
    await gadget.barrier();
    proxy.silence();
    for (let n = 1; n <= 3; n++) await shareFrom(sender, 100 + n);

    const back = await viaProxy();
    back.send(gen1.register({ device_id: 'leeloo_silent1', crew_code: 'DELTA', device_name: 'Old' }));
    expect(await back.next()).toEqual({ type: 'registered', device_id: 'leeloo_silent1' });
    const tracks: string[] = [];
    for (let n = 1; n <= 3; n++) tracks.push(String((await back.next(isType('music_shared'))).track));
    expect(tracks).toEqual(['Track 101', 'Track 102', 'Track 103']);
    await back.expectQuiet();
    await gadget.terminate();
  });
});
