import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spotifyFeatureFactory } from '../../cloud/spotify/spotify-feature.js';
import { startFakeSpotify, type FakeSpotify } from '../fakes/fake-spotify.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { waitUntil } from '../helpers/wait-until.js';
import { isType, OpenClients, type Frame, type TestClient } from '../helpers/ws-client.js';
import { gen1, gen2 } from './field-frames.js';

/*
 * Where the ack of a crew entry (register, create_crew, join_crew) and of the Spotify
 * commands (spotify_signin_start, spotify_app_register, spotify_app_remove) sits among the
 * frames the sender receives. An entry's answer comes first (second-generation gadgets
 * read the very next frame as the answer), then its ack, then what the relay held for the
 * device (a legacy Spotify sign-in's tokens), then the crew's backlog; a Spotify command's
 * ack comes before its answer. The field gadgets send no client_msg_id and get no ack.
 */

const PUBLIC_URL = 'https://leeloobot.example';
const CLIENT_ID = 'f8c3c0120e694af283d7d7f7c2f67d4c';
const CLIENT_SECRET = 'relaysecret0123456789abcdef';
const CREW_APP_ID = 'crewapp0123456789abcdef0123456789';

let spotify: FakeSpotify;
let relay: InProcessRelay;
const clients = new OpenClients(() => relay.connect());

beforeEach(async () => {
  spotify = await startFakeSpotify();
  spotify.registerApp(CLIENT_ID, CLIENT_SECRET);
  spotify.addUser({ id: 'nathan', displayName: 'Nathan' });
  relay = await startInProcessRelay({
    env: {
      PUBLIC_URL,
      SPOTIFY_CLIENT_ID: CLIENT_ID,
      SPOTIFY_CLIENT_SECRET: CLIENT_SECRET,
      LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
      SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
      SPOTIFY_API_URL: spotify.apiUrl,
    },
    features: [spotifyFeatureFactory().factory],
  });
});

afterEach(async () => {
  await clients.closeAll();
  await relay.close();
  await spotify.close();
});

/** A frame as this test compares it: an ack or error whole (minus its sentence), anything else by type. */
function shape(frame: Frame): unknown {
  if (frame.type === 'ack') return frame;
  if (frame.type === 'error') return { type: 'error', code: frame.code, client_msg_id: frame.client_msg_id };
  if (frame.type === 'message') return `message:${String(frame.msg_type)}`;
  return frame.type;
}

/** Every frame `client` receives for `message`, in order, up to a ping/pong barrier. */
async function framesFor(client: TestClient, message: unknown): Promise<Frame[]> {
  client.send(message);
  return client.barrier();
}

async function currentDevice(name: string): Promise<TestClient> {
  const client = await clients.connect();
  await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  return client;
}

/** The three older-generation entries as the field gadgets build them (client_msg_id added when given). */
const OLDER_ENTRIES = [
  {
    answer: 'registered',
    frame: (deviceId: string, code: string, id?: string) =>
      id
        ? { type: 'register', device_id: deviceId, crew_code: code, device_name: 'Old', client_msg_id: id }
        : gen1.register({ device_id: deviceId, crew_code: code, device_name: 'Old' }),
  },
  {
    answer: 'crew_created',
    frame: (deviceId: string, code: string, id?: string) =>
      id ? { type: 'create_crew', device_id: deviceId, display_name: 'Old', crew_code: code, client_msg_id: id } : gen2.createCrew(deviceId, 'Old', code),
  },
  {
    answer: 'crew_joined',
    frame: (deviceId: string, code: string, id?: string) =>
      id ? { type: 'join_crew', crew_code: code, device_id: deviceId, display_name: 'Old', client_msg_id: id } : gen2.joinCrew(code, deviceId, 'Old'),
  },
] as const;

/** The fake Spotify's consent for a legacy gadget (state = its device id), then the relay's callback page. */
async function legacySignIn(deviceId: string): Promise<void> {
  const query = new URLSearchParams({ client_id: CLIENT_ID, response_type: 'code', redirect_uri: `${PUBLIC_URL}/spotify/callback`, state: deviceId });
  const back = await fetch(`${spotify.accountsUrl}/authorize?${query}`, { redirect: 'manual' });
  const page = await fetch(back.headers.get('location')!.replace(PUBLIC_URL, relay.httpUrl), { redirect: 'manual' });
  expect(await page.text()).toContain('gets its sign-in when it next connects');
}

describe('where the ack of an entry sits', () => {
  it('current protocol: the answer, then the ack, then nothing else; a retry is answered again and acked as a duplicate', async () => {
    const owner = await currentDevice('Owner');
    const create = { type: 'create_crew', display_name: 'Owner', client_msg_id: 'c1' };
    const created = await framesFor(owner, create);
    expect(created.map(shape)).toEqual(['crew_created', { type: 'ack', client_msg_id: 'c1' }]);
    const code = String(created[0]!.crew_code);
    // The answer was lost and the gadget sends the same create_crew again: the same crew, no second one.
    const crews = (await relay.store.crews.listCrews({ limit: 1000 })).length;
    const again = await framesFor(owner, create);
    expect(again.map(shape)).toEqual(['crew_created', { type: 'ack', client_msg_id: 'c1', duplicate: true }]);
    expect(again[0]!.crew_code).toBe(code);
    expect((await relay.store.crews.listCrews({ limit: 1000 })).length).toBe(crews);
    // Another create_crew (a new client_msg_id) is a new crew.
    const other = await framesFor(owner, { ...create, client_msg_id: 'c2' });
    expect(other[0]!.crew_code).not.toBe(code);
    expect(other.map(shape)).toEqual(['crew_created', { type: 'ack', client_msg_id: 'c2' }]);
    await framesFor(owner, { type: 'join_crew', crew_code: code, display_name: 'Owner', client_msg_id: 'back' });

    const friend = await currentDevice('Friend');
    const join = { type: 'join_crew', crew_code: code, display_name: 'Friend', client_msg_id: 'j1' };
    expect((await framesFor(friend, join)).map(shape)).toEqual(['crew_joined', { type: 'ack', client_msg_id: 'j1' }]);
    // Entering again is answered again (the answer is what the device needs) and acked as a duplicate: it changed nothing.
    expect((await framesFor(friend, join)).map(shape)).toEqual(['crew_joined', { type: 'ack', client_msg_id: 'j1', duplicate: true }]);

    const registered = await clients.connect();
    const register = { type: 'register', protocol_version: 3, crew_code: code, device_name: 'Third', client_msg_id: 'r1' };
    expect((await framesFor(registered, register)).map(shape)).toEqual(['registered', { type: 'ack', client_msg_id: 'r1' }]);
    // Without a crew code (the sign-in scripts' way): the answer and the ack.
    const script = await clients.connect();
    expect((await framesFor(script, { type: 'register', protocol_version: 3, device_name: 'Script', client_msg_id: 'r2' })).map(shape)).toEqual([
      'registered',
      { type: 'ack', client_msg_id: 'r2' },
    ]);
    // A refused entry gets its error only.
    const stranger = await currentDevice('Stranger');
    expect((await framesFor(stranger, { type: 'join_crew', crew_code: 'LEELOO-ZZZZ', display_name: 'Stranger', client_msg_id: 'j2' })).map(shape)).toEqual([
      { type: 'error', code: 'invalid_crew_code', client_msg_id: 'j2' },
    ]);
  });

  for (const [n, entry] of OLDER_ENTRIES.entries()) {
    for (const clientMsgId of [undefined, `e${n}`]) {
      it(`older generations: ${entry.answer} answers, ${clientMsgId ? 'the ack follows it, then' : 'then'} held tokens, then the backlog`, async () => {
        const deviceId = `leeloo_order${n}${clientMsgId ? 'a' : 'b'}`;
        const code = `LEELOO-OR${n}${clientMsgId ? 'A' : 'B'}`;
        const friend = await clients.connect();
        friend.send(gen2.createCrew('', 'Friend', code));
        await friend.next(isType('crew_created'));

        let gadget = await clients.connect();
        gadget.send(entry.frame(deviceId, code));
        await gadget.next(isType(entry.answer));
        await gadget.barrier();
        await gadget.close();
        await waitUntil(() => !relay.relay.context.isOnline(deviceId), `${deviceId} offline`);

        // While it is away: a share in its crew, and its Spotify sign-in completed on a phone.
        friend.send(gen2.pushSong('spotify:track:Away1', 'Band', 'Away'));
        await friend.barrier();
        await legacySignIn(deviceId);

        gadget = await clients.connect();
        const frames = (await framesFor(gadget, entry.frame(deviceId, code, clientMsgId))).map(shape);
        const backlog = n === 0 ? 'music_shared' : 'message:song_push';
        // Back in the crew it was already in: nothing changed, so the ack says duplicate (a create_crew naming the crew's code is a join).
        const ack = clientMsgId ? [{ type: 'ack', client_msg_id: clientMsgId, duplicate: true }] : [];
        expect(frames).toEqual([entry.answer, ...ack, 'spotify_auth_complete', backlog]);
      });
    }
  }
});

describe('where the ack of a Spotify command sits', () => {
  it('the ack, then the answer; refused: the error only; a retry is handled and acked again', async () => {
    const owner = await currentDevice('Owner');
    const created = await owner.request({ type: 'create_crew', display_name: 'Owner' }, isType('crew_created'));
    const member = await currentDevice('Member');
    await member.request({ type: 'join_crew', crew_code: created.crew_code, display_name: 'Member' }, isType('crew_joined'));
    await owner.next(isType('member_joined'));

    expect((await framesFor(owner, { type: 'spotify_signin_start', client_msg_id: 's1' })).map(shape)).toEqual([
      { type: 'ack', client_msg_id: 's1' },
      'spotify_signin_session',
    ]);
    expect((await framesFor(owner, { type: 'spotify_signin_start' })).map(shape)).toEqual(['spotify_signin_session']);

    const register = { type: 'spotify_app_register', client_id: CREW_APP_ID, client_msg_id: 'a1' };
    expect((await framesFor(owner, register)).map(shape)).toEqual([{ type: 'ack', client_msg_id: 'a1' }, 'spotify_app']);
    // Registering the same app again changes nothing; nothing is stored under the client_msg_id, so it is handled again.
    expect((await framesFor(owner, register)).map(shape)).toEqual([{ type: 'ack', client_msg_id: 'a1' }, 'spotify_app']);
    expect((await framesFor(member, { ...register, client_msg_id: 'a2' })).map(shape)).toEqual([{ type: 'error', code: 'not_owner', client_msg_id: 'a2' }]);

    expect((await framesFor(owner, { type: 'spotify_app_remove', client_msg_id: 'a3' })).map(shape)).toEqual([
      { type: 'ack', client_msg_id: 'a3' },
      'spotify_app',
    ]);
    expect((await framesFor(member, { type: 'spotify_app_remove', client_msg_id: 'a4' })).map(shape)).toEqual([
      { type: 'error', code: 'not_owner', client_msg_id: 'a4' },
    ]);
    expect((await framesFor(owner, { type: 'spotify_app_remove' })).map(shape)).toEqual(['spotify_app']);
  });
});
