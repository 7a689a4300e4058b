import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../device/outbox.js';

const log = pino({ level: 'silent' });
const share = {
  type: 'message' as const,
  msg_type: 'song_push' as const,
  payload: { artist: 'Björk', track: 'Joga', album: 'Homogenic', spotify_uri: 'spotify:track:1t7MU8NxS3ty4vMRq2sV5B', album_art_url: '', note: '' },
};

describe('Outbox', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'leeloo-outbox-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps queued messages across a restart, in order, until they are removed', async () => {
    const first = new Outbox(dir, log);
    await first.open();
    const a = await first.add(share);
    const b = await first.add({ type: 'message', msg_type: 'text', payload: { text: 'hello crew' } });
    const c = await first.add({ type: 'message', msg_type: 'nudge', payload: {} });
    expect(new Set([a.clientMsgId, b.clientMsgId, c.clientMsgId]).size).toBe(3);
    await first.remove(b.clientMsgId);

    const second = new Outbox(dir, log);
    await second.open();
    expect(second.list().map((e) => e.clientMsgId)).toEqual([a.clientMsgId, c.clientMsgId]);
    expect(second.list()[0]!.message).toEqual({ ...share, client_msg_id: a.clientMsgId });

    const d = await second.add({ type: 'message', msg_type: 'text', payload: { text: 'after restart' } });
    expect(second.list().map((e) => e.clientMsgId)).toEqual([a.clientMsgId, c.clientMsgId, d.clientMsgId]);
  });

  it('writes files only the device user can read', async () => {
    const outbox = new Outbox(dir, log);
    await outbox.open();
    await outbox.add(share);
    const [file] = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    expect((await stat(path.join(dir, file!))).mode & 0o777).toBe(0o600);
  });

  it('ignores a temp file left by a crash mid-write and moves damaged files aside', async () => {
    const outbox = new Outbox(dir, log);
    await outbox.open();
    const kept = await outbox.add(share);
    await writeFile(path.join(dir, '.000000000009-x.json.abc.tmp'), '{"queuedAt": 1, "mess');
    await writeFile(path.join(dir, '000000000010-broken.json'), '{"queuedAt": 1, "message": {"type": "message"}}');
    await writeFile(path.join(dir, '000000000011-notjson.json'), 'garbage');

    const reopened = new Outbox(dir, log);
    await reopened.open();
    expect(reopened.list().map((e) => e.clientMsgId)).toEqual([kept.clientMsgId]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await readdir(path.join(dir, 'rejected'))).sort()).toEqual(['000000000010-broken.json', '000000000011-notjson.json']);
    // New messages go after every order number ever used, damaged ones included.
    const next = await reopened.add(share);
    expect(next.order).toBe(12);
  });

  it('refuses to queue a message that does not match its schema, writing nothing', async () => {
    const outbox = new Outbox(dir, log);
    await outbox.open();
    await expect(outbox.add({ type: 'message', msg_type: 'text', payload: { text: '' } })).rejects.toThrow(/payload\.text must not be empty/);
    expect(outbox.size).toBe(0);
    expect((await readdir(dir)).filter((f) => f.endsWith('.json'))).toEqual([]);
  });

  it('says false when removing what is not queued', async () => {
    const outbox = new Outbox(dir, log);
    await outbox.open();
    expect(await outbox.remove('nope')).toBe(false);
  });
});
