import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeFeatures } from '../../cloud/compose.js';
import { playInput } from '../../cloud/store/areas/history.js';
import { RECAP_COLORS, RECAP_HEATMAP, RECAP_IMAGE } from '../../cloud/history/recap-image.js';
import { recapRange } from '../../cloud/time-zones.js';
import type { CrewRecap } from '../../protocol/index.js';
import { crewCookie } from '../helpers/crew-link.js';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { isType, type TestClient } from '../helpers/ws-client.js';

/*
 * The crew recap of "Listening together": a month or a year of the crew's plays and shares,
 * per member and for the crew, through the crew page's API (JSON and the PNG to share), on a
 * relay composed as cloud/main.ts composes it. Expected figures come from the plays and
 * shares the test stores, counted here.
 */

/** Decodes a PNG as a browser would: its size and the RGB of a pixel. */
async function decodePng(png: Buffer): Promise<{ width: number; height: number; at: (x: number, y: number) => number[] }> {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const g = canvas.getContext('2d');
  g.drawImage(image, 0, 0);
  const data = g.getImageData(0, 0, image.width, image.height).data;
  return { width: image.width, height: image.height, at: (x, y) => [...data.subarray((y * image.width + x) * 4, (y * image.width + x) * 4 + 3)] };
}

describe('recapRange', () => {
  it.each([
    ['2026-11', 'UTC', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
    ['2026-12', 'UTC', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['2026', 'UTC', '2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['2026-03', 'Europe/Berlin', '2026-02-28T23:00:00.000Z', '2026-03-31T22:00:00.000Z'],
  ])('%s in %s', (period, zone, from, to) => {
    expect(recapRange(period, zone)).toEqual({ fromMs: Date.parse(from), toMs: Date.parse(to) });
  });
  it('refuses what is not a period or a zone', () => {
    expect(() => recapRange('2026-13', 'UTC')).toThrow(/YYYY-MM or YYYY/);
    expect(() => recapRange('2026-11', 'Mars/Base')).toThrow(/not a time zone/);
  });
});

describe('the crew recap on the crew page', () => {
  let relay: InProcessRelay;
  let olga: TestClient;
  let ben: TestClient;
  let olgaId: string;
  let benId: string;
  let cookie: string;
  const month = new Date().toISOString().slice(0, 7);
  const start = Date.parse(`${month}-01T00:00:00Z`);
  const uri = (n: number) => `spotify:track:${String(n).padStart(22, 'P')}`;
  const share = (client: TestClient, n: number, key: string) =>
    client.request(
      {
        type: 'message',
        msg_type: 'song_push',
        client_msg_id: key,
        payload: { spotify_uri: uri(n), track: `Song ${n}`, artist: 'Band', album: '', album_art_url: '', note: '' },
      },
      isType('ack'),
    );
  const get = async (path: string) => {
    const res = await fetch(`${relay.httpUrl}/crew/api/history/${path}`, { headers: { cookie } });
    return res;
  };

  beforeAll(async () => {
    relay = await startInProcessRelay({ features: [composeFeatures] });
    olga = await relay.connect();
    olgaId = String((await olga.request({ type: 'hello', protocol_version: 3, device_name: 'Olga' }, isType('welcome'))).device_id);
    const crew = await olga.request({ type: 'create_crew', display_name: 'Olga', crew_name: 'Night Owls' }, isType('crew_created'));
    ben = await relay.connect();
    benId = String((await ben.request({ type: 'hello', protocol_version: 3, device_name: 'Ben' }, isType('welcome'))).device_id);
    await ben.request({ type: 'join_crew', crew_code: crew.crew_code, display_name: 'Ben' }, isType('crew_joined'));
    const crewId = (await relay.store.crews.getMembership(olgaId))!.crewId;
    // Song 3 was shared last month already: sharing it again is no first share.
    await relay.store.log.appendEvents([
      {
        crewId,
        from: { deviceId: olgaId },
        event: {
          type: 'message',
          from_device: olgaId,
          from_name: 'Olga',
          timestamp: start - 5 * 86_400_000,
          msg_type: 'song_push',
          payload: { spotify_uri: uri(3), track: 'Song 3', artist: 'Band', album: '', album_art_url: '', note: '' },
        },
      },
    ]);
    await share(olga, 1, 's1');
    await share(ben, 2, 's2');
    await share(ben, 1, 's3');
    await share(ben, 3, 's4');
    // Plays this month: Olga 3 × Song 1 on Monday-ish hours, Ben 2 × Song 2; one play last month that must not count.
    const at = (day: number, hour: number) => start + day * 86_400_000 + hour * 3_600_000;
    await relay.store.history.addPlays([
      ...[0, 1, 2].map((i) =>
        playInput({
          memberId: olgaId,
          source: 'import_extended',
          endMs: at(0, 20) + i * 240_000,
          track: 'Song 1',
          artist: 'Band',
          trackUri: uri(1),
          msPlayed: 240_000,
        }),
      ),
      ...[0, 1].map((i) =>
        playInput({
          memberId: benId,
          source: 'import_extended',
          endMs: at(1, 9) + i * 200_000,
          track: 'Song 2',
          artist: 'Other',
          trackUri: uri(2),
          msPlayed: 200_000,
        }),
      ),
      playInput({ memberId: benId, source: 'import_extended', endMs: start - 3_600_000, track: 'Old', artist: 'Past', trackUri: uri(9), msPlayed: 200_000 }),
    ]);
    cookie = await crewCookie(relay.httpUrl, olga);
  });

  afterAll(async () => {
    await olga?.close();
    await ben?.close();
    await relay?.close();
  });

  it('counts the crew and each member, who shared most, the first shares and when the crew listens', async () => {
    const res = await get(`recap?period=${month}&tz=UTC`);
    expect(res.status).toBe(200);
    const recap = (await res.json()) as CrewRecap;
    expect(recap).toMatchObject({ period: month, time_zone: 'UTC', from_ms: start });
    expect(recap.crew).toMatchObject({ plays: 5, listening_ms: 3 * 240_000 + 2 * 200_000 });
    expect(recap.crew.top_tracks.map((t) => [t.track, t.plays])).toEqual([
      ['Song 1', 3],
      ['Song 2', 2],
    ]);
    expect(recap.crew.top_artists.map((a) => [a.artist, a.plays])).toEqual([
      ['Band', 3],
      ['Other', 2],
    ]);
    expect(recap.members.map((m) => [m.name, m.plays, m.shares, m.top_tracks[0]?.track])).toEqual([
      ['Olga', 3, 1, 'Song 1'],
      ['Ben', 2, 3, 'Song 2'],
    ]);
    expect(recap.shares.total).toBe(4);
    expect(recap.shares.first_shares.map((s) => [s.track, s.shared_by])).toEqual([
      ['Song 1', 'Olga'],
      ['Song 2', 'Ben'],
    ]);
    const weekday = (new Date(start).getUTCDay() + 6) % 7;
    expect(recap.heatmap.cells[weekday]![20]).toBe(3);
    expect(recap.heatmap.cells.flat().reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('draws it as a PNG to share: the crew heatmap lights where the crew listened', async () => {
    const res = await get(`recap.png?period=${month}&tz=UTC`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const image = await decodePng(Buffer.from(await res.arrayBuffer()));
    expect([image.width, image.height]).toEqual([RECAP_IMAGE.width, RECAP_IMAGE.height]);
    const weekday = (new Date(start).getUTCDay() + 6) % 7;
    const cellAt = (day: number, hour: number) =>
      image.at(RECAP_HEATMAP.x + hour * (RECAP_HEATMAP.cell + RECAP_HEATMAP.gap) + 10, RECAP_HEATMAP.y + day * (RECAP_HEATMAP.cell + RECAP_HEATMAP.gap) + 10);
    const hex = (c: string) => [1, 3, 5].map((i) => Number.parseInt(c.slice(i, i + 2), 16));
    expect(cellAt(weekday, 20)).toEqual(hex(RECAP_COLORS.accent));
    expect(cellAt(weekday, 3)).toEqual(hex(RECAP_COLORS.cold));
    // A year with nothing in it draws a different (empty) picture, not an error.
    const empty = await get('recap.png?period=2001&tz=UTC');
    expect(empty.status).toBe(200);
    const emptyImage = await decodePng(Buffer.from(await empty.arrayBuffer()));
    expect(emptyImage.at(RECAP_HEATMAP.x + 10, RECAP_HEATMAP.y + 10)).toEqual(hex(RECAP_COLORS.cold));
  });

  it('refuses a bad period or zone with a sentence, and a request without the member link', async () => {
    expect((await get('recap?period=last-month')).status).toBe(400);
    expect(await (await get('recap?period=2026-11&tz=Mars/Base')).json()).toMatchObject({ code: 'invalid_message' });
    const anonymous = await fetch(`${relay.httpUrl}/crew/api/history/recap.png?period=${month}`);
    expect(anonymous.status).toBe(401);
  });
});
