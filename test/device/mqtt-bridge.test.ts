import { randomUUID } from 'node:crypto';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queueWithCrewPages } from '../helpers/queue-features.js';
import { spotifyFeatureFactory } from '../../cloud/spotify/spotify-feature.js';
import { gadgetActionsFor } from '../../device/actions.js';
import { Backoff } from '../../device/backoff.js';
import { parseConfig, type MqttConfig } from '../../device/config.js';
import { Controller } from '../../device/controller.js';
import { createButtons } from '../../device/drivers.js';
import { COMMAND_NAMES, ENTITIES, LINE_MAX, MESSAGE_MAX, crewPageUrl } from '../../device/ha-discovery.js';
import { type BRIDGE_ERRORS, MqttBridge, parseCommand } from '../../device/mqtt-bridge.js';
import { latestShare } from '../../device/state.js';
import { fakeTrack, startFakeSpotify, type FakeSpotify } from '../fakes/fake-spotify.js';
import { RecordingDisplay } from '../fakes/recording-display.js';
import { signInOnPhone } from '../helpers/phone-sign-in.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { startSimGadget } from '../helpers/sim-gadget.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';
import { MosquittoProcess } from '../helpers/mosquitto.js';

const log = pino({ level: 'silent' });
const BROKER = 'mqtt://127.0.0.1:1883';
const PUBLIC_URL = 'https://leeloo.example';
const JOGA = fakeTrack('4u7EnebtmKWzUH433cf5Qv', { name: 'Joga', artists: ['Björk'], album: 'Homogenic' });

// ---------------------------------------------------------------------------
// What Home Assistant's MQTT integration requires of each component's discovery config
// (full key names). Strict: a misspelt key is a key HA ignores.
// ---------------------------------------------------------------------------

/** A topic HA may publish to or subscribe to: no wildcards, no empty levels at the ends. */
const Topic = z
  .string()
  .min(1)
  .regex(/^[^#+\u0000]+$/, 'no wildcards')
  .refine((t) => !t.startsWith('/') && !t.endsWith('/'), 'no empty level');
const Template = z.string().regex(/\{\{.*\}\}/s, 'a Jinja template');
const Common = {
  name: z.string().min(1).nullable(),
  unique_id: z.string().regex(/^[a-z0-9_-]+$/i),
  icon: z
    .string()
    .regex(/^mdi:[a-z0-9-]+$/)
    .optional(),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  availability: z.array(z.strictObject({ topic: Topic, payload_available: z.string().optional(), payload_not_available: z.string().optional() })).min(1),
  device: z.strictObject({
    identifiers: z.array(z.string().min(1)).min(1),
    name: z.string().min(1),
    model: z.string().min(1),
    manufacturer: z.string().min(1),
    sw_version: z.string().min(1),
    configuration_url: z.url({ protocol: /^https?$/ }).optional(),
  }),
  origin: z.strictObject({ name: z.string().min(1), sw_version: z.string().optional(), support_url: z.url().optional() }),
  entity_category: z.enum(['diagnostic', 'config']).optional(),
};
const HA_SCHEMAS: Record<string, z.ZodType> = {
  sensor: z.strictObject({
    ...Common,
    state_topic: Topic,
    value_template: Template.optional(),
    json_attributes_topic: Topic.optional(),
    state_class: z.enum(['measurement', 'total', 'total_increasing']).optional(),
    unit_of_measurement: z.string().optional(),
    entity_category: z.literal('diagnostic').optional(),
  }),
  image: z
    .strictObject({ ...Common, url_topic: Topic.optional(), image_topic: Topic.optional(), url_template: Template.optional() })
    .refine((c) => (c.url_topic === undefined) !== (c.image_topic === undefined), 'exactly one of url_topic and image_topic'),
  event: z.strictObject({ ...Common, state_topic: Topic, event_types: z.array(z.string().min(1)).min(1), value_template: Template.optional() }),
  binary_sensor: z.strictObject({
    ...Common,
    state_topic: Topic,
    value_template: Template.optional(),
    payload_on: z.string(),
    payload_off: z.string(),
    device_class: z.enum(['connectivity', 'problem', 'running', 'update']).optional(),
    entity_category: z.literal('diagnostic').optional(),
  }),
  button: z.strictObject({ ...Common, command_topic: Topic, payload_press: z.string().optional() }),
  switch: z.strictObject({
    ...Common,
    command_topic: Topic,
    state_topic: Topic.optional(),
    value_template: Template.optional(),
    payload_on: z.string(),
    payload_off: z.string(),
    state_on: z.string().optional(),
    state_off: z.string().optional(),
  }),
  text: z
    .strictObject({
      ...Common,
      command_topic: Topic,
      state_topic: Topic.optional(),
      min: z.int().min(0),
      max: z.int().min(1).max(255),
      mode: z.enum(['text', 'password']),
      pattern: z.string().optional(),
    })
    .refine((c) => c.min <= c.max, 'min ≤ max'),
  notify: z.strictObject({ ...Common, command_topic: Topic }),
};

// ---------------------------------------------------------------------------
// A subscriber on the broker that keeps what it saw.
// ---------------------------------------------------------------------------

interface Seen {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

class Watcher {
  readonly seen: Seen[] = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => this.seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
  }

  static async open(topics: string[], url = BROKER): Promise<Watcher> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 50, clientId: `watch-${randomUUID()}` });
    const watcher = new Watcher(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return watcher;
  }

  /** The last payload on a topic, or undefined. */
  last(topic: string): string | undefined {
    return [...this.seen].reverse().find((s) => s.topic === topic)?.payload;
  }

  json(topic: string): Record<string, unknown> | undefined {
    const text = this.last(topic);
    return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  }

  async until(test: () => boolean, what: string): Promise<void> {
    await waitUntil(test, what);
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

// ---------------------------------------------------------------------------

describe('mqtt command payloads', () => {
  it('takes exactly what HA sends and explains everything else with a stable code', () => {
    expect(parseCommand('share_now', Buffer.from('PRESS'))).toEqual({ name: 'share_now' });
    expect(parseCommand('play_along', Buffer.from('OFF'))).toEqual({ name: 'play_along', on: false });
    expect(parseCommand('message', Buffer.from('dinner at 8?'))).toEqual({ name: 'message', text: 'dinner at 8?' });
    expect(parseCommand('notify', Buffer.from('  Door bell  '))).toEqual({ name: 'notify', text: 'Door bell' });
    const refusals: [string, Buffer, keyof typeof BRIDGE_ERRORS][] = [
      ['launch', Buffer.from('PRESS'), 'unknown_command'],
      ['share_now', Buffer.from('press'), 'invalid_payload'],
      ['airhorn', Buffer.from(''), 'invalid_payload'],
      ['play_along', Buffer.from('on'), 'invalid_payload'],
      ['message', Buffer.from([0xff, 0xfe]), 'invalid_payload'],
      ['message', Buffer.from('   '), 'invalid_text'],
      ['message', Buffer.from('x'.repeat(MESSAGE_MAX + 1)), 'invalid_text'],
      ['message', Buffer.alloc(5000, 0x61), 'too_large'],
      ['notify', Buffer.from(''), 'invalid_line'],
      ['notify', Buffer.from('two\nlines'), 'invalid_line'],
      ['notify', Buffer.from('y'.repeat(LINE_MAX + 1)), 'invalid_line'],
    ];
    for (const [name, payload, code] of refusals) {
      const result = parseCommand(name, payload);
      expect(result, `${name} ${payload.toString().slice(0, 20)}`).toMatchObject({ code });
      expect((result as { message: string }).message).toMatch(/\S.*[.]$/);
    }
  });

  it('points the HA device at the crew page of the relay it uses', () => {
    expect(crewPageUrl('ws://127.0.0.1:8080/ws')).toBe('http://127.0.0.1:8080/crew');
    expect(crewPageUrl('wss://leeloo.example.com/ws')).toBe('https://leeloo.example.com/crew');
    expect(crewPageUrl('not a url')).toBeNull();
  });
});

describe('MQTT bridge on the real Mosquitto, a real relay and two gadgets', () => {
  let spotify: FakeSpotify;
  let relay: InProcessRelay;
  let root: string;
  let home: Controller;
  let friend: Controller;
  const homeText: string[][] = [];
  const running: MqttBridge[] = [];
  const watchers: Watcher[] = [];

  beforeAll(async () => {
    spotify = await startFakeSpotify();
    spotify.registerApp('leeloo-relay-app');
    spotify.addUser({ id: 'anna', displayName: 'Anna' });
    spotify.setCurrentlyPlaying('anna', { track: JOGA, progress_ms: 30_000, is_playing: true });
    relay = await startInProcessRelay({
      env: {
        PUBLIC_URL,
        SPOTIFY_CLIENT_ID: 'leeloo-relay-app',
        LEELOO_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
        SPOTIFY_ACCOUNTS_URL: spotify.accountsUrl,
        SPOTIFY_API_URL: spotify.apiUrl,
      },
      features: [spotifyFeatureFactory().factory, queueWithCrewPages()],
    });
    root = await makeTempDir('leeloo-mqtt-');
    ({ controller: home } = await startSimGadget({
      relayUrl: relay.wsUrl,
      name: 'Kitchen',
      root,
      display: new RecordingDisplay(),
      onPresent: (frame) => homeText.push([...(frame.text ?? [])]),
    }));
    await waitUntil(() => home.state.connection.status === 'online' && home.state.crew !== null, 'home gadget online in a crew');
    await waitUntil(() => home.spotify.signIn.session !== null, 'the sign-in QR');
    await signInOnPhone(home.spotify.signIn.session!.url, PUBLIC_URL, relay.httpUrl);
    await waitUntil(() => home.spotify.nowPlaying.playing?.track === 'Joga', 'Joga playing on the home gadget');
    ({ controller: friend } = await startSimGadget({
      relayUrl: relay.wsUrl,
      name: 'Ana',
      root,
      crewCode: home.state.crew!.code,
      display: new RecordingDisplay(),
    }));
    await waitUntil(() => home.state.crew!.members.filter((m) => m.online).length === 2, 'friend online in the crew');
  });

  afterEach(async () => {
    for (const bridge of running.splice(0)) await bridge.stop();
    for (const watcher of watchers.splice(0)) await watcher.close();
  });

  afterAll(async () => {
    await friend?.stop();
    await home?.stop();
    await relay?.close();
    await spotify?.close();
    await removeTempDir(root);
  });

  /** Its own base topic and discovery prefix per test, so retained messages of one never meet another. */
  function settings(change: Partial<MqttConfig> = {}, url = BROKER): MqttConfig {
    const prefix = `leeloo-test-${randomUUID()}`;
    return {
      ...parseConfig({}, '/').mqtt,
      enabled: true,
      url,
      baseTopic: `${prefix}/leeloo`,
      discoveryPrefix: `${prefix}/homeassistant`,
      statusTopic: `${prefix}/homeassistant/status`,
      ...change,
    };
  }

  async function startBridge(config: MqttConfig, gadget = home): Promise<MqttBridge> {
    const bridge = new MqttBridge({
      config,
      actions: gadgetActionsFor(gadget),
      deviceName: gadget.state.deviceName,
      relayUrl: relay.wsUrl,
      log,
      backoff: new Backoff(20, 200),
    });
    running.push(bridge);
    await bridge.start();
    return bridge;
  }

  async function watch(topics: string[], url?: string): Promise<Watcher> {
    const watcher = await Watcher.open(topics, url);
    watchers.push(watcher);
    return watcher;
  }

  const root_ = (config: MqttConfig) => `${config.baseTopic}/${home.state.deviceId}`;
  const configs = (w: Watcher, config: MqttConfig) => w.seen.filter((s) => s.topic.startsWith(`${config.discoveryPrefix}/`) && s.topic.endsWith('/config'));

  it('publishes one HA device whose entity configs are what HA parses, with the same unique_ids after a restart', async () => {
    const config = settings();
    await startBridge(config);
    const w = await watch([`${config.discoveryPrefix}/#`]);
    await w.until(() => new Set(configs(w, config).map((s) => s.topic)).size === ENTITIES.length, 'every discovery config');
    const parsed = configs(w, config).map((s) => ({ ...s, body: JSON.parse(s.payload) as Record<string, unknown> }));
    for (const message of parsed) {
      const component = message.topic.split('/').at(-4) as string;
      const result = (HA_SCHEMAS[component] as z.ZodType).safeParse(message.body);
      expect(result.success, `${message.topic}: ${result.error?.message}`).toBe(true);
      expect(message.topic).toMatch(new RegExp(`^${config.discoveryPrefix}/${component}/leeloo_${home.state.deviceId}/[a-z_]+/config$`));
    }
    const components = parsed.map((m) => m.topic.split('/').at(-4)).sort();
    expect(components).toEqual([
      'binary_sensor',
      'button',
      'button',
      'button',
      'button',
      'event',
      'event',
      'event',
      'image',
      'notify',
      'sensor',
      'sensor',
      'switch',
      'text',
    ]);
    const devices = new Set(parsed.map((m) => JSON.stringify(m.body.device)));
    expect(devices.size).toBe(1);
    expect(JSON.parse([...devices][0] as string)).toMatchObject({
      identifiers: [`leeloo_${home.state.deviceId}`],
      name: 'Kitchen',
      configuration_url: `${relay.httpUrl}/crew`,
    });
    const ids = parsed.map((m) => m.body.unique_id).sort();
    expect(new Set(ids).size).toBe(ids.length);
    // The buttons' and the switch's command topics are the bridge's own command topics.
    const commandTopics = parsed.flatMap((m) => (typeof m.body.command_topic === 'string' ? [m.body.command_topic] : []));
    for (const topic of commandTopics) expect(COMMAND_NAMES).toContain(topic.slice(`${root_(config)}/set/`.length));

    for (const bridge of running.splice(0)) await bridge.stop();
    const again = await watch([`${config.discoveryPrefix}/#`]);
    await again.until(() => configs(again, config).length === ENTITIES.length, 'retained configs after the restart');
    expect(configs(again, config).every((s) => s.retain)).toBe(true);
    await startBridge(config);
    await again.until(() => configs(again, config).length === 2 * ENTITIES.length, 'configs published again');
    expect(
      configs(again, config)
        .slice(ENTITIES.length)
        .map((s) => JSON.parse(s.payload).unique_id)
        .sort(),
    ).toEqual(ids);
  });

  it('waits for the device id a new gadget gets at its first start, then appears under it', async () => {
    const config = parseConfig(
      {
        relay: { url: relay.wsUrl },
        device: { name: 'Attic' },
        dataDir: path.join(root, 'attic'),
        sim: { mirror: { enabled: false }, snapshotKeep: 0, keyboard: false },
      },
      root,
    );
    const display = new RecordingDisplay();
    const attic = new Controller({ config, display, buttons: createButtons(config, log, { display }), log });
    const mqttConfig = settings();
    const bridge = await startBridge(mqttConfig, attic);
    expect(attic.state.deviceId).toBeNull();
    expect(bridge.connected).toBe(false);
    const w = await watch([`${mqttConfig.baseTopic}/+/availability`]);
    await attic.start();
    try {
      await w.until(() => w.seen.some((s) => s.payload === 'online'), 'the new gadget online');
      expect(w.seen.map((s) => s.topic)).toEqual([`${mqttConfig.baseTopic}/${attic.state.deviceId}/availability`]);
    } finally {
      for (const running_ of running.splice(0)) await running_.stop();
      await attic.stop();
    }
  });

  it('fails to start, and only itself, when its TLS file is gone', async () => {
    const bridge = new MqttBridge({
      config: settings({ url: 'mqtts://127.0.0.1:8883', ca: path.join(root, 'vanished-ca.pem') }),
      actions: gadgetActionsFor(home),
      deviceName: 'Kitchen',
      relayUrl: relay.wsUrl,
      log,
    });
    await expect(bridge.start()).rejects.toThrow(/ENOENT/);
    await bridge.stop();
    expect(bridge.connected).toBe(false);
    await home.sendText('still here');
    await waitUntil(() => friend.state.feed.some((i) => i.kind === 'text' && i.text === 'still here'), 'the gadget still sends');
  });

  it('keeps online retained while connected, and the broker says offline when the socket dies', async () => {
    const config = settings();
    const bridge = await startBridge(config);
    const availability = `${root_(config)}/availability`;
    const first = await watch([availability]);
    await first.until(() => first.last(availability) === 'online', 'online');
    const late = await watch([availability]);
    await late.until(() => late.seen.length > 0, 'the retained availability');
    expect(late.seen[0]).toEqual({ topic: availability, payload: 'online', retain: true });

    // Not a clean disconnect: only the broker's last will can say offline.
    (bridge as unknown as { client: MqttClient }).client.stream.destroy();
    await first.until(() => first.last(availability) === 'offline', 'the last will');
    await first.until(() => first.last(availability) === 'online', 'online again after the reconnect');

    await bridge.stop();
    running.splice(0);
    await first.until(() => first.last(availability) === 'offline', 'offline on a clean stop');
    const after = await watch([availability]);
    await after.until(() => after.seen.length > 0, 'the retained availability after stop');
    expect(after.seen[0]).toMatchObject({ payload: 'offline', retain: true });
  });

  it('sends a text to a crew mate through the relay, and reacts to a share the way the button does', async () => {
    const config = settings();
    await startBridge(config);
    const w = await watch([`${root_(config)}/#`]);
    await w.until(() => w.last(`${root_(config)}/availability`) === 'online', 'bridge online');

    await w.client.publishAsync(`${root_(config)}/set/message`, 'Dinner at 8?', { qos: 1 });
    await waitUntil(() => friend.state.feed.some((i) => i.kind === 'text' && i.text === 'Dinner at 8?' && !i.mine), 'the text at the friend');

    await friend.shareTrack({
      artist: 'Toto',
      track: 'Africa',
      album: 'Toto IV',
      spotify_uri: 'spotify:track:2374M0fQpWi3dLnB54qaLX',
      album_art_url: '',
      note: 'for the drive',
    });
    const shareEvent = `${root_(config)}/event/share`;
    await w.until(() => w.json(shareEvent)?.track === 'Africa', 'the share event (an automation flashes a light on it)');
    expect(w.json(shareEvent)).toMatchObject({ event_type: 'share', who: 'Ana', artist: 'Toto', note: 'for the drive' });
    expect(w.seen.find((s) => s.topic === shareEvent)?.retain).toBe(false);
    await w.until(() => (w.json(`${root_(config)}/state`)?.last_share as { track?: string } | null)?.track === 'Africa', 'last share in the state');

    await w.client.publishAsync(`${root_(config)}/set/react_love`, 'PRESS', { qos: 1 });
    await waitUntil(
      () => latestShare(friend.state)?.reactions.some((r) => r.reaction === 'love' && r.fromName === 'Kitchen') === true,
      "love on the friend's share",
    );

    // And the other way round: a reaction to the home gadget's share is an event.
    await home.shareTrack({ artist: 'a-ha', track: 'Take On Me', album: '', spotify_uri: 'spotify:track:2WfaOiMkCvy7F5fcp2zZ8L', album_art_url: '', note: '' });
    await waitUntil(() => latestShare(friend.state)?.share.track === 'Take On Me', 'the home share at the friend');
    await friend.react('fire');
    await w.until(() => w.json(`${root_(config)}/event/reaction`)?.event_type === 'fire', 'the reaction event');
    expect(w.json(`${root_(config)}/event/reaction`)).toMatchObject({ who: 'Ana' });
    await w.until(() => (w.json(`${root_(config)}/state`)?.last_reaction as { reaction?: string } | null)?.reaction === 'fire', 'the reaction in the state');
    expect(w.json(`${root_(config)}/state`)).toMatchObject({
      crew_online: 2,
      relay: 'online',
      play_along: 'OFF',
      last_reaction: { reaction: 'fire', who: 'Ana' },
    });
  });

  it('sounds the airhorn both ways and switches play along', async () => {
    const config = settings();
    await startBridge(config);
    const w = await watch([`${root_(config)}/#`]);
    await w.until(() => w.last(`${root_(config)}/availability`) === 'online', 'bridge online');

    await w.client.publishAsync(`${root_(config)}/set/airhorn`, 'PRESS', { qos: 1 });
    await waitUntil(() => friend.currentScreen === 'airhorn' && friend.queue.airhorn.blast?.fromName === 'Kitchen', 'the airhorn at the friend');
    expect(friend.queue.soundAirhorn()).toBe(true);
    await w.until(() => w.json(`${root_(config)}/event/airhorn`)?.who === 'Ana', 'the airhorn event');
    expect(w.json(`${root_(config)}/event/airhorn`)).toMatchObject({ event_type: 'airhorn' });

    await w.client.publishAsync(`${root_(config)}/set/play_along`, 'ON', { qos: 1 });
    await w.until(() => w.json(`${root_(config)}/state`)?.play_along === 'ON', 'play along on');
    expect(home.queue.playAlong.enabled).toBe(true);
    await w.client.publishAsync(`${root_(config)}/set/play_along`, 'OFF', { qos: 1 });
    await w.until(() => w.json(`${root_(config)}/state`)?.play_along === 'OFF', 'play along off');
  });

  it('shares what plays from the share button in HA, and says why when nothing does', async () => {
    const config = settings();
    await startBridge(config);
    const w = await watch([`${root_(config)}/#`]);
    await w.until(() => (w.json(`${root_(config)}/state`)?.now_playing as { track?: string } | null)?.track === 'Joga', 'now playing in the state');
    expect(w.json(`${root_(config)}/state`)?.now_playing).toEqual({
      track: 'Joga',
      artist: 'Björk',
      album: 'Homogenic',
      art_url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/images\//),
      playing: true,
    });
    expect(w.last(`${root_(config)}/art_url`)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/images\//);

    await w.client.publishAsync(`${root_(config)}/set/share_now`, 'PRESS', { qos: 1 });
    await waitUntil(
      () => friend.state.feed.some((i) => i.kind === 'share' && i.share.track === 'Joga' && i.fromName === 'Kitchen'),
      'Joga shared with the friend',
    );

    spotify.setCurrentlyPlaying('anna', null);
    await home.spotify['poller'].pollNow();
    await w.until(() => w.json(`${root_(config)}/state`)?.now_playing === null, 'nothing playing in the state');
    // The share button shows why on the screen; the bridge says the same sentence.
    await w.client.publishAsync(`${root_(config)}/set/share_now`, 'PRESS', { qos: 1 });
    await w.until(() => w.json(`${root_(config)}/error`) !== undefined, 'the error');
    expect(w.json(`${root_(config)}/error`)).toEqual({ code: 'not_done', command: 'share_now', message: 'Nothing is playing to share.' });
    spotify.setCurrentlyPlaying('anna', { track: JOGA, progress_ms: 30_000, is_playing: true });
  });

  it('shows a line from notify on the screen', async () => {
    const config = settings();
    const bridge = await startBridge(config);
    await waitUntil(() => bridge.connected, 'bridge connected');
    const w = await watch([`${root_(config)}/error`]);
    await w.client.publishAsync(`${root_(config)}/set/notify`, 'Washing machine is done', { qos: 1 });
    await waitUntil(() => homeText.at(-1)?.includes('Washing machine is done') === true, 'the line on the screen');
  });

  it('answers bad payloads on the error topic and does nothing with them', async () => {
    const config = settings();
    const bridge = await startBridge(config);
    await waitUntil(() => bridge.connected, 'bridge connected');
    const error = `${root_(config)}/error`;
    const w = await watch([error]);
    const feedBefore = friend.state.feed.length;
    const framesBefore = homeText.length;
    const bad: [string, string | Buffer, string][] = [
      ['message', '', 'invalid_text'],
      ['message', 'x'.repeat(MESSAGE_MAX + 1), 'invalid_text'],
      ['notify', 'Unseen line\nsecond', 'invalid_line'],
      ['play_along', 'maybe', 'invalid_payload'],
      ['react_love', 'YES', 'invalid_payload'],
      ['selfdestruct', 'PRESS', 'unknown_command'],
    ];
    for (const [name, payload] of bad) await w.client.publishAsync(`${root_(config)}/set/${name}`, payload, { qos: 1 });
    await w.until(() => w.seen.length === bad.length, 'an error for every bad payload');
    expect(w.seen.map((s) => JSON.parse(s.payload))).toEqual(bad.map(([command, , code]) => ({ code, command, message: expect.stringMatching(/\.$/) })));
    // A valid message after them is a barrier: the bad ones went nowhere before it.
    await w.client.publishAsync(`${root_(config)}/set/message`, 'barrier', { qos: 1 });
    await waitUntil(() => friend.state.feed.some((i) => i.kind === 'text' && i.text === 'barrier'), 'the barrier text');
    expect(friend.state.feed.slice(feedBefore).map((i) => (i.kind === 'text' ? i.text : i.kind))).toEqual(['barrier']);
    expect(homeText.slice(framesBefore).some((text) => text.some((t) => t.includes('Unseen line')))).toBe(false);
  });

  it('publishes discovery and state again when HA says online', async () => {
    const config = settings();
    const bridge = await startBridge(config);
    await waitUntil(() => bridge.connected, 'bridge connected');
    const w = await watch([`${config.discoveryPrefix}/#`, `${root_(config)}/state`]);
    await w.until(() => configs(w, config).length === ENTITIES.length && w.last(`${root_(config)}/state`) !== undefined, 'discovery and state');
    const seenBefore = w.seen.length;
    await w.client.publishAsync(config.statusTopic, 'offline', { qos: 1 });
    await w.client.publishAsync(config.statusTopic, 'online', { qos: 1 });
    await w.until(() => configs(w, config).length === 2 * ENTITIES.length, 'discovery again');
    await w.until(() => w.seen.slice(seenBefore).some((s) => s.topic === `${root_(config)}/state`), 'state again');
  });

  it('removes the entities when discovery is turned off, and everything when the bridge is', async () => {
    const config = settings();
    await startBridge(config);
    const w = await watch([`${config.discoveryPrefix}/#`, `${root_(config)}/#`]);
    await w.until(() => configs(w, config).length === ENTITIES.length, 'discovery');
    for (const bridge of running.splice(0)) await bridge.stop();

    await startBridge({ ...config, homeassistant: false });
    await w.until(() => configs(w, config).filter((s) => s.payload === '').length === ENTITIES.length, 'empty configs');
    await w.until(() => w.last(`${root_(config)}/availability`) === 'online', 'state still published');
    for (const bridge of running.splice(0)) await bridge.stop();

    await startBridge({ ...config, enabled: false });
    const gone = [`${root_(config)}/availability`, `${root_(config)}/state`];
    await w.until(() => gone.every((topic) => w.last(topic) === ''), 'availability and state removed');
    const late = await watch([`${config.discoveryPrefix}/#`, `${root_(config)}/#`]);
    // Nothing retained is left: a probe published after the subscription is the first thing it sees.
    await late.client.publishAsync(`${root_(config)}/probe`, 'p');
    await late.until(() => late.seen.length > 0, 'the probe');
    expect(late.seen.map((s) => s.topic)).toEqual([`${root_(config)}/probe`]);
  });

  it('keeps the screen and the relay going while its broker is down, and republishes when it is back', async () => {
    const broker = await MosquittoProcess.start();
    try {
      const config = settings({}, broker.url);
      const bridge = await startBridge(config);
      await waitUntil(() => bridge.connected, 'bridge connected to its own broker');
      await broker.stop();
      await waitUntil(() => !bridge.connected, 'bridge sees the outage');

      const framesBefore = homeText.length;
      await friend.sendText('while the broker is down');
      await waitUntil(() => homeText.slice(framesBefore).some((text) => text.some((t) => t.includes('while the broker is down'))), 'the text on the screen');
      expect(home.state.connection.status).toBe('online');
      await home.sendText('the relay still takes ours');
      await waitUntil(() => friend.state.feed.some((i) => i.kind === 'text' && i.text === 'the relay still takes ours'), 'own text through the relay');

      await broker.restart();
      const w = await watch([`${root_(config)}/#`, `${config.discoveryPrefix}/#`], broker.url);
      await w.until(() => w.last(`${root_(config)}/availability`) === 'online', 'online on the restarted broker');
      await w.until(
        () => configs(w, config).length === ENTITIES.length && w.json(`${root_(config)}/state`)?.relay === 'online',
        'discovery and state republished',
      );
    } finally {
      for (const bridge of running.splice(0)) await bridge.stop();
      for (const watcher of watchers.splice(0)) await watcher.close();
      await broker.remove();
    }
  });
});
