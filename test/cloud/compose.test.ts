import { afterEach, describe, expect, it } from 'vitest';
import { composeFeatures } from '../../cloud/compose.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { isType } from '../helpers/ws-client.js';

/*
 * The composition root (cloud/compose.ts) as cloud/main.ts uses it. The ports it hands on are
 * checked where they are used: Spotify → history in history-feature.test.ts, Spotify → queue
 * in queue/track-lookup.test.ts, history and queue → MCP and the crew pages in test/cloud/mcp/.
 */

const WEEK_MS = 7 * 86_400_000;
let relay: InProcessRelay | null = null;

afterEach(async () => {
  await relay?.close();
  relay = null;
});

describe('the composition root', () => {
  it('builds the features in order, each after the ones whose ports it takes', async () => {
    relay = await startInProcessRelay({ features: [composeFeatures] });
    expect(composeFeatures(relay.relay.context).map((feature) => feature.name)).toEqual(['spotify', 'history', 'queue', 'crew-pages', 'telegram', 'mcp']);
  });

  it("hands the queue history's throwback: a quiet queue plays what the crew shared on this weekday a week before", async () => {
    // The queue's clock a week ahead, so a share made now is a week old to it.
    relay = await startInProcessRelay({ features: [(context) => composeFeatures(context, { queue: { now: () => Date.now() + WEEK_MS } })] });
    const owner = await relay.connect();
    try {
      const deviceId = String((await owner.request({ type: 'hello', protocol_version: 3, device_name: 'Olga' }, isType('welcome'))).device_id);
      await owner.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'));
      const crewId = (await relay.store.crews.getMembership(deviceId))!.crewId;
      // Stored without the relay's fan-out, so the share is in the crew's history but was never queued.
      const payload = { spotify_uri: `spotify:track:${'T'.repeat(22)}`, track: 'Old Favourite', artist: 'Band', album: 'LP', album_art_url: '', note: '' };
      await relay.store.log.appendEvents([
        { crewId, event: { type: 'message', msg_type: 'song_push', from_device: deviceId, from_name: 'Olga', timestamp: Date.now(), payload } },
      ]);
      const filled = owner.next((frame) => frame.type === 'queue_state' && (frame.queue as { now_playing: unknown }).now_playing !== null);
      await owner.request({ type: 'queue_throwback', enabled: true, client_msg_id: 'tb' }, isType('ack', { client_msg_id: 'tb' }));
      expect((await filled).queue).toMatchObject({ now_playing: { spotify_uri: payload.spotify_uri, track: 'Old Favourite', throwback: true } });
    } finally {
      await owner.close();
    }
  });
});
