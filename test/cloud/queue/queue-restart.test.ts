import { afterEach, describe, expect, it } from 'vitest';
import { RelayProcess } from '../../helpers/relay-process.js';
import { isType, type Frame, type TestClient } from '../../helpers/ws-client.js';

/* The real relay process (cloud/main.ts) killed with SIGKILL mid-track and started again on its data dir. */

let relay: RelayProcess | null = null;
let client: TestClient | null = null;

afterEach(async () => {
  client?.ws.close();
  await relay?.cleanup();
});

const track = (i: number, duration: number) => ({
  type: 'queue_add',
  spotify_uri: `spotify:track:${String(i).padStart(22, 'K')}`,
  track: `Song ${i}`,
  artist: 'Band',
  duration_ms: duration,
  client_msg_id: `add-${i}`,
});

type Snapshot = { now_playing: { item_id: string; started_at: number; clock_duration_ms: number } | null; up_next: Array<{ item_id: string }> };

describe('queue clock across a relay restart', () => {
  it('neither loses nor repeats a track when the relay is killed mid-track', async () => {
    relay = await RelayProcess.start();
    client = await relay.connect();
    const welcome = await client.request({ type: 'hello', protocol_version: 3, device_name: 'Olga' }, isType('welcome'));
    const created = await client.request({ type: 'create_crew', display_name: 'Olga', client_msg_id: 'c1' }, isType('crew_created'));
    const crewCode = String(created.crew_code);
    const acks: Frame[] = [];
    for (const [i, duration] of [
      [1, 2_500],
      [2, 60_000],
      [3, 60_000],
    ] as const) {
      acks.push(await client.request(track(i, duration), isType('ack', { client_msg_id: `add-${i}` })));
    }
    const before = (await client.request({ type: 'queue_get' }, isType('queue_state'))).queue as Snapshot;
    const [first, second, third] = [before.now_playing!, before.up_next[0]!, before.up_next[1]!];
    expect(first.clock_duration_ms).toBe(2_500);

    await relay.kill();
    relay = await relay.restart();
    client = await relay.connect();
    await client.request(
      { type: 'hello', protocol_version: 3, device_name: 'Olga', device_id: welcome.device_id, device_secret: welcome.device_secret },
      isType('welcome'),
    );
    // Missed events are replayed by resume; an advance that is still to come arrives live.
    client.send({ type: 'resume', crew_code: crewCode, after_seq: acks.at(-1)!.seq });
    const advanced = await client.next((f) => f.type === 'queue_state' && (f.change as { kind: string }).kind === 'advanced', 15_000);
    const after = advanced.queue as Snapshot;
    expect(advanced.change).toMatchObject({ item_id: first.item_id, by: null });
    expect(after.now_playing!.item_id).toBe(second.item_id);
    expect(after.now_playing!.started_at).toBeGreaterThanOrEqual(first.started_at + 2_500);
    expect(after.up_next.map((i) => i.item_id)).toEqual([third.item_id]);

    const now = (await client.request({ type: 'queue_get' }, isType('queue_state'))).queue as Snapshot;
    expect(now.now_playing!.item_id).toBe(second.item_id);
    expect(now.now_playing!.started_at).toBe(after.now_playing!.started_at);
    // Nothing else happened to the queue: no second advance, no replay of the first track.
    const rest = (await client.barrier()).filter((f) => f.type === 'queue_state');
    expect(rest.filter((f) => (f.queue as Snapshot).now_playing?.item_id === first.item_id && (f.seq as number) > (advanced.seq as number))).toEqual([]);
    expect(rest.filter((f) => (f.change as { kind: string }).kind === 'advanced')).toEqual([]);
  }, 60_000);
});
