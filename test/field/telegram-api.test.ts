import { afterEach, describe, expect, it } from 'vitest';
import { queueWithCrewPages } from '../helpers/queue-features.js';
import { telegramFeatureFactory } from '../../cloud/telegram/telegram-feature.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { TestClient, isType, type Frame } from '../helpers/ws-client.js';

/*
 * The Telegram bot (leeloo_server/telegram_bot.py in squid-baby/Leeloo_Ui) as it calls the
 * relay: relay_post/relay_get with Content-Type JSON and, when TELEGRAM_API_SECRET is set,
 * X-Api-Secret. It reads data['crew_code'], data.get('devices_online'), data.get('error'),
 * data.get('message'), data.get('devices_reached'), data.get('device_names'), data.get('telegram_users').
 */

const SECRET = 'bot-shared-secret-7f3a';
const ANA = 581_234_567;

let relay: InProcessRelay | null = null;
let proc: RelayProcess | null = null;
let clock = 1_800_000_000_000;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await relay?.close();
  await proc?.cleanup();
  relay = null;
  proc = null;
});

async function start(env: Record<string, string> = { TELEGRAM_API_SECRET: SECRET }): Promise<InProcessRelay> {
  clock = 1_800_000_000_000;
  relay = await startInProcessRelay({ env, features: [telegramFeatureFactory({ now: () => clock }), queueWithCrewPages()] });
  return relay;
}

/** telegram_bot.py api_headers(). */
function botHeaders(secret: string | null = SECRET): Record<string, string> {
  return { 'Content-Type': 'application/json', ...(secret ? { 'X-Api-Secret': secret } : {}) };
}

async function botPost(
  path: string,
  body: unknown,
  options: { base?: string; secret?: string | null } = {},
): Promise<{ status: number; data: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${options.base ?? relay!.httpUrl}${path}`, { method: 'POST', headers: botHeaders(options.secret), body: JSON.stringify(body) });
  return { status: res.status, data: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

async function botGet(path: string, params: Record<string, string>, base = relay!.httpUrl): Promise<{ status: number; data: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params)}`, { headers: botHeaders() });
  return { status: res.status, data: (await res.json()) as Record<string, unknown> };
}

/** send_crew_message(): what the bot posts for a text typed in Telegram. */
const botMessage = (crewCode: string, text: string, userId = ANA, name = 'Ana') => ({
  telegram_user_id: userId,
  crew_code: crewCode,
  sender_name: name,
  msg_type: 'text',
  payload: { text, timestamp: 1_800_000_000.123 },
});

async function connect(url?: string): Promise<TestClient> {
  const client = url ? await TestClient.connect(url) : await relay!.connect();
  clients.push(client);
  return client;
}

/** leeloo_client.py join_crew(): the answer is the very next frame. */
async function gadgetJoins(crewCode: string, deviceId: string, name: string, url?: string): Promise<TestClient> {
  const client = await connect(url);
  client.send({ type: 'join_crew', crew_code: crewCode, device_id: deviceId, display_name: name });
  expect((await client.next()).type).toBe('crew_joined');
  return client;
}

function expectBotMessage(frame: Frame, text: string): void {
  expect(frame.type).toBe('message');
  expect(frame.from_device).toBe('telegram');
  expect(frame.from_name).toBe('Ana');
  expect(frame.msg_type).toBe('text');
  expect(frame.payload).toEqual({ text });
  expect(Number.isInteger(frame.timestamp)).toBe(true);
}

describe('the Telegram bot API as telegram_bot.py calls it', () => {
  it('create → a gadget enters the code → message reaches it → status counts it', async () => {
    await start();
    const created = await botPost('/api/telegram/crew/create', { telegram_user_id: ANA });
    expect(created.status).toBe(200);
    expect(typeof created.data.crew_code).toBe('string');
    const crewCode = created.data.crew_code as string;
    expect(crewCode).toMatch(/^LEELOO-[A-HJ-NP-Z2-9]{4}$/);

    const gadget = await gadgetJoins(crewCode, 'leeloo_1a2b3c4d5e6f', "Nathan's LEELOO");
    const sent = await botPost('/api/telegram/message', botMessage(crewCode, 'see you at 8'));
    expect(sent.status).toBe(200);
    expect(sent.data).toEqual({ success: true, devices_reached: 1 });
    expectBotMessage(await gadget.next(isType('message')), 'see you at 8');

    const status = await botGet('/api/telegram/crew/status', { crew_code: crewCode.toLowerCase() });
    expect(status.status).toBe(200);
    expect(status.data).toEqual({ crew_code: crewCode, exists: true, devices_online: 1, device_names: ["Nathan's LEELOO"], telegram_users: 1 });
  });

  it('the first gadget to enter a crew made from Telegram becomes its owner', async () => {
    await start();
    const crewCode = (await botPost('/api/telegram/crew/create', { telegram_user_id: ANA })).data.crew_code as string;
    const first = await connect();
    await first.request({ type: 'hello', protocol_version: 3, device_name: 'Ana gadget' }, isType('welcome'));
    await first.request({ type: 'join_crew', crew_code: crewCode, display_name: 'Ana gadget' }, isType('crew_joined'));
    const renamed = await first.request({ type: 'rename_crew', crew_name: 'Night owls', client_msg_id: 'r1' }, (f) => f.type === 'ack' || f.type === 'error');
    expect(renamed.type).toBe('ack');

    const second = await connect();
    await second.request({ type: 'hello', protocol_version: 3, device_name: 'Bo' }, isType('welcome'));
    const joined = await second.request({ type: 'join_crew', crew_code: crewCode, display_name: 'Bo' }, isType('crew_joined'));
    const crew = joined.crew as { owner_device_id: string; crew_name: string };
    expect(crew.crew_name).toBe('Night owls');
    expect(crew.owner_device_id).not.toBe(`telegram:${ANA}`);
    const refused = await second.request({ type: 'rename_crew', crew_name: 'Mine', client_msg_id: 'r2' }, (f) => f.type === 'ack' || f.type === 'error');
    expect(refused.code).toBe('not_owner');
  });

  it('join: crew_not_found for an unknown code, devices_online (a number) for a gadget crew', async () => {
    await start();
    const missing = await botPost('/api/telegram/crew/join', { telegram_user_id: ANA, crew_code: 'LEELOO-ZZZZ' });
    expect(missing.status).toBe(404);
    expect(missing.data.error).toBe('crew_not_found');
    expect(typeof missing.data.message).toBe('string');

    const owner = await connect();
    owner.send({ type: 'create_crew', device_id: 'leeloo_owner00001', display_name: 'Kim' });
    const crewCode = (await owner.next()).crew_code as string;
    const joined = await botPost('/api/telegram/crew/join', { telegram_user_id: ANA, crew_code: crewCode.toLowerCase() });
    expect(joined.status).toBe(200);
    expect(joined.data).toEqual({ success: true, crew_code: crewCode, devices_online: 1 });
    // The crew hears that someone joined, as for any member.
    const heard = await owner.next(isType('member_joined'));
    expect(heard.device_id).toBe(`telegram:${ANA}`);

    const unknownStatus = await botGet('/api/telegram/crew/status', { crew_code: 'LEELOO-ZZZZ' });
    expect(unknownStatus.data).toEqual({ crew_code: 'LEELOO-ZZZZ', exists: false, devices_online: 0, device_names: [], telegram_users: 0 });
  });

  it('refuses a message from someone not in the crew with 403 not_in_crew', async () => {
    await start();
    const crewCode = (await botPost('/api/telegram/crew/create', { telegram_user_id: ANA })).data.crew_code as string;
    const stranger = await botPost('/api/telegram/message', botMessage(crewCode, 'hi', 999));
    expect(stranger.status).toBe(403);
    expect(stranger.data.error).toBe('not_in_crew');
    expect(typeof stranger.data.message).toBe('string');
    const wrongCrew = await botPost('/api/telegram/message', botMessage('LEELOO-ZZZZ', 'hi'));
    expect(wrongCrew.status).toBe(403);
    expect(wrongCrew.data.error).toBe('not_in_crew');
  });

  it('checks X-Api-Secret when TELEGRAM_API_SECRET is set', async () => {
    await start();
    for (const secret of [null, 'wrong', `${SECRET}x`, SECRET.slice(0, -1)]) {
      const refused = await botPost('/api/telegram/crew/create', { telegram_user_id: ANA }, { secret });
      expect(refused.status).toBe(401);
      expect(refused.data.error).toBe('unauthorized');
    }
    const status = await fetch(`${relay!.httpUrl}/api/telegram/crew/status?crew_code=LEELOO-ZZZZ`);
    expect(status.status).toBe(401);
    expect((await botPost('/api/telegram/crew/create', { telegram_user_id: ANA })).status).toBe(200);
  });

  it('is open without TELEGRAM_API_SECRET, as the fleet relay was', async () => {
    await start({});
    const created = await botPost('/api/telegram/crew/create', { telegram_user_id: ANA }, { secret: null });
    expect(created.status).toBe(200);
  });

  it('answers bad bodies with the error table code and a sentence', async () => {
    await start();
    const noUser = await botPost('/api/telegram/crew/create', {});
    expect(noUser.status).toBe(400);
    expect(noUser.data.error).toBe('invalid_message');
    expect(noUser.data.message).toMatch(/telegram_user_id/);
    const noCode = await botPost('/api/telegram/crew/join', { telegram_user_id: ANA });
    expect(noCode.status).toBe(400);
    expect(noCode.data.message).toMatch(/crew_code/);
    const badJson = await fetch(`${relay!.httpUrl}/api/telegram/message`, { method: 'POST', headers: botHeaders(), body: '{"telegram_user_id":' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as Record<string, unknown>).error).toBe('invalid_json');

    const crewCode = (await botPost('/api/telegram/crew/create', { telegram_user_id: ANA })).data.crew_code as string;
    const badType = await botPost('/api/telegram/message', { ...botMessage(crewCode, 'x'), msg_type: 'bogus' });
    expect(badType.status).toBe(400);
    expect(badType.data.error).toBe('invalid_message');
    expect(typeof badType.data.message).toBe('string');
    const noStatusCode = await botGet('/api/telegram/crew/status', {});
    expect(noStatusCode.status).toBe(400);
    expect(noStatusCode.data.error).toBe('invalid_message');
  });

  it('rate-limits each Telegram user, with Retry-After', async () => {
    await start();
    const crewCode = (await botPost('/api/telegram/crew/create', { telegram_user_id: ANA })).data.crew_code as string;
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof botPost>> | null = null;
    for (let i = 0; i < 10; i += 1) {
      last = await botPost('/api/telegram/message', botMessage(crewCode, `n${i}`));
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 429]);
    expect(last!.data.error).toBe('rate_limited');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    // Someone else in Telegram is not slowed down.
    expect((await botPost('/api/telegram/crew/create', { telegram_user_id: 42 })).status).toBe(200);
    clock += 3_000;
    expect((await botPost('/api/telegram/message', botMessage(crewCode, 'later'))).status).toBe(200);
  });

  it('stores messages as crew events: an offline gadget gets them on rejoin, a current-protocol one on resume', async () => {
    await start();
    const crewCode = (await botPost('/api/telegram/crew/create', { telegram_user_id: ANA })).data.crew_code as string;
    const old = await gadgetJoins(crewCode, 'leeloo_offline0001', 'Old');
    const modern = await connect();
    const welcome = await modern.request({ type: 'hello', protocol_version: 3, device_name: 'New' }, isType('welcome'));
    const joined = await modern.request({ type: 'join_crew', crew_code: crewCode, display_name: 'New' }, isType('crew_joined'));
    const fromSeq = (joined.crew as { latest_seq: number }).latest_seq;
    await old.close();
    await modern.close();

    const sent = await botPost('/api/telegram/message', botMessage(crewCode, 'while you were away'));
    expect(sent.data).toEqual({ success: true, devices_reached: 0 });

    const oldBack = await gadgetJoins(crewCode, 'leeloo_offline0001', 'Old');
    expectBotMessage(await oldBack.next(isType('message')), 'while you were away');

    const modernBack = await connect();
    const identity = { device_id: welcome.device_id, device_secret: welcome.device_secret };
    await modernBack.request({ type: 'hello', protocol_version: 3, device_name: 'New', ...identity }, isType('welcome'));
    modernBack.send({ type: 'resume', crew_code: crewCode, after_seq: fromSeq });
    const replayed = await modernBack.next(isType('message'));
    expectBotMessage(replayed, 'while you were away');
    expect(typeof replayed.seq).toBe('number');
    expect(replayed.crew_code).toBe(crewCode);
  });

  it('a first-generation gadget gets a Telegram reaction in its own dialect', async () => {
    await start();
    const first = await connect();
    first.send({ type: 'register', device_id: 'leeloo_gen1000001', crew_code: 'LEELOO-WAVE', device_name: 'LEELOO' });
    expect((await first.next()).type).toBe('registered');
    expect((await botPost('/api/telegram/crew/join', { telegram_user_id: ANA, crew_code: 'LEELOO-WAVE' })).status).toBe(200);
    const sent = await botPost('/api/telegram/message', { ...botMessage('LEELOO-WAVE', ''), msg_type: 'reaction', payload: { reaction: 'love' } });
    expect(sent.data).toEqual({ success: true, devices_reached: 1 });
    const frame = await first.next(isType('reaction'));
    expect(frame).toMatchObject({ type: 'reaction', reaction_type: 'love', from: 'Ana' });
    expect(Number.isInteger(frame.timestamp)).toBe(true);
  });

  it('Telegram members are on the crew page; the owner removes one and its messages are then refused', async () => {
    await start();
    const owner = await connect();
    await owner.request({ type: 'hello', protocol_version: 3, device_name: 'Olga' }, isType('welcome'));
    const crewCode = (await owner.request({ type: 'create_crew', display_name: 'Olga' }, isType('crew_created'))).crew_code as string;
    await botPost('/api/telegram/crew/join', { telegram_user_id: ANA, crew_code: crewCode });
    await botPost('/api/telegram/message', botMessage(crewCode, 'hello'));

    const link = await owner.request({ type: 'crew_link' }, isType('crew_link_issued'));
    const opened = await fetch(relay!.httpUrl + new URL(String(link.url)).pathname, { redirect: 'manual' });
    const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
    const state = (await (await fetch(`${relay!.httpUrl}/crew/api/state`, { headers: { cookie } })).json()) as { crew: { members: Record<string, unknown>[] } };
    expect(state.crew.members).toContainEqual({ device_id: `telegram:${ANA}`, display_name: 'Ana', is_owner: false, online: false, via: 'telegram' });

    const removed = await owner.request({ type: 'remove_member', device_id: `telegram:${ANA}`, client_msg_id: 'rm-1' }, isType('ack'));
    expect(typeof removed.seq).toBe('number');
    const refused = await botPost('/api/telegram/message', botMessage(crewCode, 'still here?'));
    expect(refused.status).toBe(403);
    expect(refused.data.error).toBe('not_in_crew');
  });

  it('no socket can speak as a Telegram member, and the operator cannot reset it into a gadget id', async () => {
    const ADMIN = 'admin-token-0123456789abcdef';
    await start({ TELEGRAM_API_SECRET: SECRET, ADMIN_TOKEN: ADMIN });
    const crewCode = (await botPost('/api/telegram/crew/create', { telegram_user_id: ANA })).data.crew_code as string;
    const modern = await connect();
    const refused = await modern.request({ type: 'hello', protocol_version: 3, device_id: `telegram:${ANA}`, device_name: 'Fake' }, isType('error'));
    expect(refused.code).toBe('unauthorized');
    const legacy = await connect();
    legacy.send({ type: 'join_crew', crew_code: crewCode, device_id: `telegram:${ANA}`, display_name: 'Fake' });
    expect((await legacy.next()).code).toBe('unauthorized');

    const admin = { authorization: `Bearer ${ADMIN}` };
    const reset = await fetch(`${relay!.httpUrl}/admin/devices/telegram:${ANA}/reset-credential`, { method: 'POST', headers: admin });
    expect(reset.status).toBe(409);
    expect(((await reset.json()) as Record<string, unknown>).message).toMatch(/Telegram user/);
    // The operator removes a Telegram member like any other.
    const removed = await fetch(`${relay!.httpUrl}/admin/crews/${crewCode}/members/telegram:${ANA}`, { method: 'DELETE', headers: admin });
    expect(removed.status).toBe(200);
    expect((await botGet('/api/telegram/crew/status', { crew_code: crewCode })).data.telegram_users).toBe(0);
  });

  it('Telegram members survive a relay restart (the relay as deployed)', async () => {
    const dataDir = await makeTempDir('leeloo-telegram-');
    proc = await RelayProcess.start({ dataDir, env: { TELEGRAM_API_SECRET: SECRET } });
    const crewCode = (await botPost('/api/telegram/crew/create', { telegram_user_id: ANA }, { base: proc.httpUrl })).data.crew_code as string;
    await proc.stop();
    proc = await proc.restart({ env: { TELEGRAM_API_SECRET: SECRET } });
    const gadget = await gadgetJoins(crewCode, 'leeloo_afterboot01', 'Boot', `${proc.httpUrl.replace('http', 'ws')}/ws`);
    const status = await botGet('/api/telegram/crew/status', { crew_code: crewCode }, proc.httpUrl);
    expect(status.data).toMatchObject({ exists: true, devices_online: 1, telegram_users: 1 });
    const sent = await botPost('/api/telegram/message', botMessage(crewCode, 'after the restart'), { base: proc.httpUrl });
    expect(sent.data).toEqual({ success: true, devices_reached: 1 });
    expectBotMessage(await gadget.next(isType('message')), 'after the restart');
    await gadget.close();
    await proc.cleanup();
    proc = null;
    await removeTempDir(dataDir);
  }, 60_000);
});
