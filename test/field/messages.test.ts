import { describe, expect, it } from 'vitest';
import { relayForSuite } from '../helpers/relay-process.js';
import { isType, type Frame, type TestClient } from '../helpers/ws-client.js';
import { gen1, gen2 } from './field-frames.js';

/**
 * Every crew message as the gadgets build it, in a crew of all three generations: each
 * member reads it in its own dialect with the fields (and types) its code reads.
 */
describe('field conformance: crew messages', () => {
  const suite = relayForSuite();
  const { clients } = suite;

  /** A crew of a second-generation sender, a second-generation reader, a first-generation and a current gadget. */
  async function mixedCrew(): Promise<{ sender: TestClient; reader: TestClient; first: TestClient; current: TestClient; code: string }> {
    const sender = await clients.connect();
    sender.send(gen2.createCrew('', 'Nathan'));
    const code = (await sender.next()).crew_code as string;
    const reader = await clients.connect();
    reader.send(gen2.joinCrew(code, '', 'Amy'));
    await reader.next(isType('crew_joined'));
    const first = await clients.connect();
    first.send(gen1.register({ device_id: `g1-${code}`, crew_code: code, device_name: 'Old' }));
    await first.next(isType('registered'));
    const current = await clients.connect();
    await current.request({ type: 'hello', protocol_version: 3, device_name: 'New' }, isType('welcome'));
    await current.request({ type: 'join_crew', crew_code: code, display_name: 'New' }, isType('crew_joined'));
    await sender.barrier();
    await reader.barrier();
    return { sender, reader, first, current, code };
  }

  /** The reader's next crew message, with what _handle_message reads from it. */
  async function readMessage(reader: TestClient): Promise<Frame & { payload: Record<string, unknown> }> {
    const frame = await reader.next(isType('message'));
    expect(typeof frame.msg_type).toBe('string');
    expect(typeof frame.from_name).toBe('string');
    expect(typeof frame.payload).toBe('object');
    expect(typeof frame.timestamp).toBe('number');
    return frame as Frame & { payload: Record<string, unknown> };
  }

  it('text with line breaks and tabs, up to 4,096 characters, arrives unchanged', async () => {
    const { sender, reader, current } = await mixedCrew();
    const long = `${'line one\n\tindented\r\n'.repeat(200)}`.padEnd(4096, 'x');
    expect(long).toHaveLength(4096);
    sender.send(gen2.text(long));
    const got = await readMessage(reader);
    expect(got).toMatchObject({ msg_type: 'text', from_name: 'Nathan', payload: { text: long } });
    expect((await current.next(isType('message'))).payload).toEqual({ text: long });

    sender.send(gen2.text(`${long}y`));
    expect(await sender.next(isType('error'))).toMatchObject({
      code: 'invalid_message',
      message: expect.stringMatching(/payload\.text must be at most 4096 characters/),
    });
    sender.send(gen2.text('bell \u0007 rings'));
    expect(await sender.next(isType('error'))).toMatchObject({ code: 'invalid_message', message: expect.stringMatching(/control characters/) });
    await reader.expectQuiet();
  });

  it('reactions love, fire, haha, wave and another word, with to_device null: unchanged to the older generations', async () => {
    const { sender, reader, first, current } = await mixedCrew();
    for (const word of ['love', 'fire', 'haha', 'wave', 'wow']) {
      sender.send(gen2.reaction(word));
      const got = await readMessage(reader);
      expect(got).toMatchObject({ msg_type: 'reaction', from_name: 'Nathan', payload: { reaction: word } });
      expect(got.payload).not.toHaveProperty('to_device');
      const old = await first.next(isType('reaction'));
      expect(old).toEqual({ type: 'reaction', reaction_type: word, from: 'Nathan', timestamp: expect.any(Number) });
    }
    // The current protocol has kinds for love and fire only: it gets those, and no others.
    const kinds = [await current.next(isType('message')), await current.next(isType('message'))].map((f) => (f.payload as { reaction: string }).reaction);
    expect(kinds).toEqual(['love', 'fire']);
    await current.expectQuiet();

    sender.send(gen2.reaction('two words'));
    expect(await sender.next(isType('error'))).toMatchObject({ code: 'invalid_message' });
    sender.send(gen2.reaction('x'.repeat(25)));
    expect(await sender.next(isType('error'))).toMatchObject({ code: 'invalid_message' });
  });

  it('a first-generation reaction word reaches the second generation as a reaction message', async () => {
    const { reader, first } = await mixedCrew();
    first.send(gen1.reaction('haha'));
    expect(await readMessage(reader)).toMatchObject({ msg_type: 'reaction', from_name: 'Old', payload: { reaction: 'haha' } });
  });

  it('song_push with empty art and note, nudge, hang_propose with empty description and a free-form time, hang_confirm', async () => {
    const { sender, reader, first, current } = await mixedCrew();
    sender.send(gen2.pushSong('spotify:track:4uLU6hMCjMI75M1A2tKUQC', 'Rick Astley', 'Never Gonna Give You Up', 'Whenever You Need Somebody'));
    const song = await readMessage(reader);
    expect(song).toMatchObject({
      msg_type: 'song_push',
      payload: { artist: 'Rick Astley', track: 'Never Gonna Give You Up', spotify_uri: 'spotify:track:4uLU6hMCjMI75M1A2tKUQC', note: '', album_art_url: '' },
    });
    expect(await first.next(isType('music_shared'))).toMatchObject({
      spotify_uri: 'spotify:track:4uLU6hMCjMI75M1A2tKUQC',
      pushed_by: 'Nathan',
      artist: 'Rick Astley',
    });

    sender.send(gen2.nudge());
    expect(await readMessage(reader)).toMatchObject({ msg_type: 'nudge', payload: {} });

    sender.send(gen2.hangPropose('friday around 7pm'));
    const hang = await readMessage(reader);
    expect(hang).toMatchObject({ msg_type: 'hang_propose', payload: { datetime: 'friday around 7pm' } });
    expect(hang.payload.description ?? '').toBe('');
    sender.send(gen2.hangPropose('2026-12-04T19:00', 'tacos'));
    expect((await readMessage(reader)).payload).toEqual({ datetime: '2026-12-04T19:00', description: 'tacos' });

    sender.send(gen2.hangConfirm());
    expect(await readMessage(reader)).toMatchObject({ msg_type: 'hang_confirm', payload: {} });

    // The current protocol receives all of them too (its own dialect, with seq).
    const types: string[] = [];
    for (let i = 0; i < 5; i++) types.push(String((await current.next(isType('message'))).msg_type));
    expect(types).toEqual(['song_push', 'nudge', 'hang_propose', 'hang_propose', 'hang_confirm']);

    sender.send(gen2.hangPropose('x'.repeat(101)));
    expect(await sender.next(isType('error'))).toMatchObject({ code: 'invalid_message' });
    sender.send(gen2.hangPropose('friday', 'line\nbreak'));
    expect(await sender.next(isType('error'))).toMatchObject({
      code: 'invalid_message',
      message: expect.stringMatching(/description must not contain control characters/),
    });
  });

  it('non-ASCII names and text as Python escapes them arrive as the characters', async () => {
    const sender = await clients.connect();
    sender.send(gen2.createCrew('', 'Zoë'));
    const code = (await sender.next()).crew_code as string;
    const reader = await clients.connect();
    reader.send(gen2.joinCrew(code, '', 'Amy'));
    expect(await reader.next()).toMatchObject({ crew_members: 2, member_names: ['Zoë'] });
    sender.send(gen2.text('café 🎶'));
    expect(await readMessage(reader)).toMatchObject({ from_name: 'Zoë', payload: { text: 'café 🎶' } });
  });
});
