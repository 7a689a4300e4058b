import { describe, expect, it } from 'vitest';
import { CrewCode, ERROR_CODES, Inbound, parseInbound, parseOutbound, renderEvent, type CrewEvent } from '../../protocol/index.js';

const SONG = { artist: 'Björk', track: 'Joga', album: 'Homogenic', spotify_uri: 'spotify:track:4uLU6hMCjMI75M1A2tKUQC', album_art_url: '', note: 'for you' };
const base = { from_device: 'dev-a', from_name: 'Ana', timestamp: 1_700_000_000_000, seq: 7, crew_code: 'LEELOO-7KQ2' };
const share: CrewEvent = { type: 'message', msg_type: 'song_push', payload: SONG, client_msg_id: 'm1', ...base };
const love: CrewEvent = { type: 'message', msg_type: 'reaction', payload: { reaction: 'love', to_device: 'dev-b' }, ...base };
const text: CrewEvent = { type: 'message', msg_type: 'text', payload: { text: 'hi' }, ...base };
const joined: CrewEvent = { type: 'member_joined', device_id: 'dev-c', display_name: 'Cy', seq: 8, crew_code: 'LEELOO-7KQ2' };

/** A small seeded generator: the same frames on every run, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function arbitrary(next: () => number, depth = 0): unknown {
  const pick = Math.floor(next() * (depth > 2 ? 6 : 9));
  const strings = ['', 'LEELOO-7KQ2', 'leeloo-7kq2', 'spotify:track:x', '__proto__', 'constructor', '\u0000', 'x'.repeat(600), '💥'];
  switch (pick) {
    case 0:
      return null;
    case 1:
      return next() > 0.5;
    case 2:
      return Math.floor(next() * 2 ** 40) * (next() > 0.8 ? -1 : 1);
    case 3:
      return next() * 1e308;
    case 4:
      return strings[Math.floor(next() * strings.length)];
    case 5:
      return undefined;
    case 6:
      return Array.from({ length: Math.floor(next() * 4) }, () => arbitrary(next, depth + 1));
    default: {
      const keys = ['type', 'msg_type', 'payload', 'crew_code', 'device_id', 'display_name', 'client_msg_id', 'text', 'spotify_uri', 'after_seq', '__proto__'];
      return Object.fromEntries(keys.filter(() => next() > 0.5).map((k) => [k, arbitrary(next, depth + 1)]));
    }
  }
}

describe('crew codes', () => {
  it('accept any case and stray spaces, and refuse the letters people confuse', () => {
    expect(CrewCode.parse(' leeloo-7kq2 ')).toBe('LEELOO-7KQ2');
    for (const bad of ['LEELOO-7KQ0', 'LEELOO-OKQ2', 'LEELOO-IKQ2', 'LEELOO-1KQ2', 'LEELOO-7KQ', 'LEELOO7KQ2X']) {
      expect(CrewCode.safeParse(bad).success, bad).toBe(false);
    }
  });
});

describe('dialects', () => {
  it('gives first-generation gadgets exactly the music_shared and reaction frames they were built for', () => {
    expect(renderEvent(share, 1)).toEqual({
      type: 'music_shared',
      spotify_uri: SONG.spotify_uri,
      artist: 'Björk',
      track: 'Joga',
      album: 'Homogenic',
      pushed_by: 'Ana',
      timestamp: base.timestamp,
    });
    expect(renderEvent(love, 1)).toEqual({ type: 'reaction', reaction_type: 'love', from: 'Ana', timestamp: base.timestamp });
    expect(renderEvent(text, 1)).toBeNull();
    expect(renderEvent(joined, 1)).toBeNull();
  });

  it('gives second-generation gadgets message and presence frames without seq, crew code or client id', () => {
    const rendered = renderEvent(share, 2) as Record<string, unknown>;
    expect(rendered).toEqual({ type: 'message', msg_type: 'song_push', payload: SONG, from_device: 'dev-a', from_name: 'Ana', timestamp: base.timestamp });
    expect(renderEvent(joined, 2)).toEqual({ type: 'member_joined', device_id: 'dev-c', display_name: 'Cy' });
    expect(renderEvent({ type: 'crew_renamed', crew_name: 'Owls', seq: 9, crew_code: 'LEELOO-7KQ2' }, 2)).toBeNull();
  });

  it('gives the current protocol the stored event itself, and every rendering is a valid outbound frame', () => {
    expect(renderEvent(share, 3)).toBe(share);
    for (const event of [share, love, text, joined]) {
      for (const generation of [1, 2, 3] as const) {
        const frame = renderEvent(event, generation);
        if (frame) expect(parseOutbound(JSON.stringify(frame)).ok, `${event.type}/${generation}`).toBe(true);
      }
    }
  });
});

describe('parseInbound', () => {
  it('names what is wrong in a sentence, and says "is required" for a missing field', () => {
    const result = parseInbound('{"type":"join_crew","crew_code":"LEELOO-7KQ2"}');
    expect(result).toMatchObject({ ok: false, code: 'invalid_message', message: 'Invalid "join_crew" message: display_name is required.' });
    expect(parseInbound('{"type":"message","msg_type":"text","payload":{"text":"   "}}')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/payload\.text must not be empty/),
    });
    expect(parseInbound('{"type":"join_crew","crew_code":"  ","display_name":"Bo"}')).toMatchObject({ ok: false, code: 'invalid_crew_code' });
  });

  it('treats a null field as absent, in the frame and in its payload; a required one stays required', () => {
    const song = parseInbound(
      '{"type": "message", "msg_type": "song_push", "payload": {"artist": "A", "track": "T", "album": null, "spotify_uri": "spotify:track:abc", "album_art_url": null, "note": null}}',
    );
    expect(song).toMatchObject({ ok: true, message: { payload: { album: '', album_art_url: '', note: '' } } });
    expect(parseInbound('{"type": "create_crew", "device_id": null, "display_name": "N", "crew_code": null, "crew_name": null}')).toEqual({
      ok: true,
      message: { type: 'create_crew', display_name: 'N' },
    });
    expect(parseInbound('{"type": "message", "msg_type": "reaction", "payload": {"reaction": "wave", "to_device": null}}')).toEqual({
      ok: true,
      message: { type: 'message', msg_type: 'reaction', payload: { reaction: 'wave' } },
    });
    expect(parseInbound('{"type": "register", "device_id": null, "crew_code": null, "device_name": null}')).toEqual({
      ok: true,
      message: { type: 'register', device_name: 'LEELOO' },
    });
    expect(parseInbound('{"type": "join_crew", "crew_code": "ALPHA", "device_id": null, "display_name": null}')).toMatchObject({
      ok: false,
      code: 'invalid_message',
      message: 'Invalid "join_crew" message: display_name is required.',
    });
  });

  it('never throws and always answers with a known code, whatever arrives', () => {
    const next = random(20261122);
    const types = [...Object.keys(Inbound), 'nope', ''];
    for (let i = 0; i < 3000; i++) {
      const value = arbitrary(next);
      const frame =
        value && typeof value === 'object' && !Array.isArray(value) && next() > 0.3 ? { ...value, type: types[Math.floor(next() * types.length)] } : value;
      const raw = next() > 0.9 ? String(JSON.stringify(frame)).slice(0, Math.floor(next() * 40)) : (JSON.stringify(frame) ?? 'undefined');
      const result = parseInbound(raw);
      if (!result.ok) {
        expect(Object.hasOwn(ERROR_CODES, result.code), result.code).toBe(true);
        expect(result.message.length).toBeGreaterThan(10);
        expect(result.message.length).toBeLessThan(600);
      }
    }
  });
});
