import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { MessagePayloads } from '../protocol/index.js';
import type { ActionResult, GadgetActions, GadgetView } from './actions.js';
import { Backoff } from './backoff.js';
import type { MqttConfig } from './config.js';
import {
  COMMAND_NAMES,
  LINE_MAX,
  MESSAGE_MAX,
  crewPageUrl,
  discoveryMessages,
  discoveryTopics,
  gadgetTopics,
  type CommandName,
  type GadgetEventKind,
  type GadgetTopics,
} from './ha-discovery.js';
import { latestShare, type ReactionFlash } from './state.js';

/**
 * The gadget on an MQTT broker, the way zigbee2mqtt puts its devices there: availability
 * (birth `online`, last will `offline`, retained, QoS 1), one retained JSON state, events,
 * Home Assistant discovery, and command topics that run the same actions as the buttons.
 *
 * Lifecycle: the constructor stores dependencies; start() subscribes to the gadget and
 * opens the connection (it never waits for the broker); stop() undoes exactly that.
 * Nothing is queued while the broker is away: the state is retained and published whole
 * on every connect, and events are worthless later, so an outage costs the display, the
 * buttons and the relay nothing.
 */

export interface MqttBridgeDeps {
  readonly config: MqttConfig;
  readonly actions: GadgetActions;
  readonly deviceName: string;
  readonly relayUrl: string;
  readonly log: Logger;
  /** Reconnect delays; tests shorten them. */
  readonly backoff?: Backoff;
}

/** Codes of the error messages on `<baseTopic>/<device_id>/error`. */
export const BRIDGE_ERRORS = {
  unknown_command: 'There is no such command topic; the discovery configs list the ones there are.',
  too_large: 'The payload is larger than a command takes.',
  invalid_payload: 'The payload is not what this command takes.',
  invalid_text: 'The text is not one the crew can be sent.',
  invalid_line: 'The line cannot be shown on the screen.',
  not_done: 'The gadget could not do it.',
} as const;
export type BridgeErrorCode = keyof typeof BRIDGE_ERRORS;

export interface BridgeError {
  readonly code: BridgeErrorCode;
  readonly message: string;
}

export type Command =
  | { readonly name: 'share_now' | 'react_love' | 'react_fire' | 'airhorn' }
  | { readonly name: 'play_along'; readonly on: boolean }
  | { readonly name: 'message' | 'notify'; readonly text: string };

const PAYLOAD_MAX = 2048;
/** QoS 1 publishes not yet acknowledged; beyond this the broker is not keeping up and state waits for the next connect. */
const IN_FLIGHT_MAX = 50;
/** How long stop() waits for the broker to take the `offline`. */
const STOP_WAIT_MS = 2_000;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Checks a command payload completely before anything is done with it. */
export function parseCommand(name: string, payload: Buffer): Command | BridgeError {
  if (!(COMMAND_NAMES as readonly string[]).includes(name)) {
    return bridgeError('unknown_command', `"${name}" is not a command; use one of ${COMMAND_NAMES.join(', ')}.`);
  }
  if (payload.length > PAYLOAD_MAX) return bridgeError('too_large', `The payload has ${payload.length} bytes; a command takes at most ${PAYLOAD_MAX}.`);
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return bridgeError('invalid_payload', 'The payload is not UTF-8 text.');
  }
  const command = name as CommandName;
  if (command === 'play_along') {
    if (text !== 'ON' && text !== 'OFF') return bridgeError('invalid_payload', `play_along takes ON or OFF, not ${JSON.stringify(text.slice(0, 40))}.`);
    return { name: command, on: text === 'ON' };
  }
  if (command === 'message') return messageCommand(text);
  if (command === 'notify') return lineCommand(text);
  if (text !== 'PRESS') return bridgeError('invalid_payload', `${command} is a button: send PRESS, not ${JSON.stringify(text.slice(0, 40))}.`);
  return { name: command };
}

function messageCommand(text: string): Command | BridgeError {
  if (text.length > MESSAGE_MAX) return bridgeError('invalid_text', `The message has ${text.length} characters; at most ${MESSAGE_MAX} fit.`);
  const parsed = MessagePayloads.text.safeParse({ text });
  if (!parsed.success) return bridgeError('invalid_text', `The message ${parsed.error.issues[0]?.message ?? 'is not valid'}.`);
  return { name: 'message', text: parsed.data.text };
}

function lineCommand(raw: string): Command | BridgeError {
  const text = raw.trim();
  if (!text) return bridgeError('invalid_line', 'The line is empty.');
  if (/[\u0000-\u001f\u007f]/.test(text)) return bridgeError('invalid_line', 'The line must be one line of text, without control characters.');
  if (text.length > LINE_MAX) return bridgeError('invalid_line', `The line has ${text.length} characters; at most ${LINE_MAX} fit on the screen.`);
  return { name: 'notify', text };
}

function bridgeError(code: BridgeErrorCode, message: string): BridgeError {
  return { code, message };
}

/** The retained state document: what HA's sensors read with value templates. */
export function stateDocument(view: GadgetView): Record<string, unknown> {
  const { state, nowPlaying } = view;
  const share = latestCrewShare(view);
  const flash = state.flash;
  return {
    now_playing: nowPlaying
      ? { track: nowPlaying.track, artist: nowPlaying.artist, album: nowPlaying.album, art_url: nowPlaying.artUrl ?? '', playing: nowPlaying.isPlaying }
      : null,
    last_share: share
      ? {
          who: share.fromName,
          track: share.share.track,
          artist: share.share.artist,
          album: share.share.album,
          spotify_uri: share.share.spotify_uri,
          note: share.share.note,
          at: iso(share.at),
        }
      : null,
    last_reaction: flash ? { reaction: flash.reaction, who: flash.fromName, at: iso(flash.at) } : null,
    crew: state.crew?.name ?? null,
    crew_online: state.crew?.members.filter((m) => m.online).length ?? 0,
    relay: state.connection.status,
    play_along: view.playAlong ? 'ON' : 'OFF',
  };
}

/** The newest share from a crew mate (the gadget's own shares are not news to its home). */
function latestCrewShare(view: GadgetView): ReturnType<typeof latestShare> {
  return latestShare({ ...view.state, feed: view.state.feed.filter((item) => !item.mine) });
}

/** The broker's host:port without any user:password a URL may carry. */
function brokerHost(url: string | null): string {
  try {
    return new URL(url ?? '').host;
  } catch {
    return 'unknown';
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export class MqttBridge {
  private client: MqttClient | null = null;
  private topics: GadgetTopics | null = null;
  private deviceId: string | null = null;
  private readonly backoff: Backoff;
  private retry: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void)[] = [];
  private published = { state: '', artUrl: '' };
  private inFlight = 0;
  private seenShares = new Set<string>();
  private lastFlash: ReactionFlash | null = null;
  private stopping = false;

  constructor(private readonly deps: MqttBridgeDeps) {
    this.backoff = deps.backoff ?? new Backoff(1000, 60_000);
  }

  /** True while the broker connection is up. */
  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /**
   * Subscribes to the gadget and connects once its device id is known. With
   * `enabled: false` it only connects to remove the gadget from the broker and HA.
   * Throws (for the caller to log) when the TLS files cannot be read.
   */
  async start(): Promise<void> {
    this.stopping = false;
    const view = this.deps.actions.view();
    this.remember(view);
    this.unsubscribe.push(this.deps.actions.onChange(() => this.onGadgetChange()));
    this.unsubscribe.push(this.deps.actions.onAirhorn((who, at) => this.publishEvent('airhorn', { event_type: 'airhorn', who, at: iso(at) })));
    if (view.state.deviceId) this.connect(view.state.deviceId);
  }

  /** Says `offline` (retained) and disconnects; undoes start(). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const off of this.unsubscribe.splice(0)) off();
    await this.disconnect();
  }

  private connect(deviceId: string): void {
    const { config } = this.deps;
    if (!config.url) return;
    this.deviceId = deviceId;
    const topics = gadgetTopics(config.baseTopic, deviceId);
    this.topics = topics;
    const client = mqtt.connect(config.url, this.clientOptions(deviceId, topics));
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('error', (error) => this.deps.log.warn({ err: error.message }, 'mqtt broker error'));
    client.on('close', () => this.scheduleReconnect(client));
  }

  private clientOptions(deviceId: string, topics: GadgetTopics): IClientOptions {
    const { config } = this.deps;
    return {
      clientId: `leeloo_${deviceId}`,
      ...(config.username !== null ? { username: config.username } : {}),
      ...(config.password !== null ? { password: config.password } : {}),
      ...(config.ca !== null ? { ca: readFileSync(config.ca) } : {}),
      ...(config.cert !== null ? { cert: readFileSync(config.cert) } : {}),
      ...(config.key !== null ? { key: readFileSync(config.key) } : {}),
      clean: true,
      keepalive: 30,
      connectTimeout: 10_000,
      // Reconnects are ours (back-off with jitter); nothing is queued for a broker that is away.
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      will: config.enabled ? { topic: topics.availability, payload: Buffer.from('offline'), qos: 1, retain: true } : undefined,
    };
  }

  private scheduleReconnect(client: MqttClient): void {
    if (this.stopping || client !== this.client || this.retry) return;
    const delay = this.backoff.next();
    this.deps.log.info({ delayMs: delay }, 'mqtt broker connection closed; reconnecting');
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.stopping && client === this.client) client.reconnect();
    }, delay);
    this.retry.unref();
  }

  private onConnect(client: MqttClient): void {
    this.backoff.reset();
    this.inFlight = 0;
    const { config } = this.deps;
    if (!config.enabled) return void this.removeEverything(client);
    const topics = this.topics as GadgetTopics;
    this.deps.log.info({ broker: brokerHost(config.url) }, 'mqtt bridge connected');
    this.send(topics.availability, 'online', true);
    client.subscribe([topics.commands, config.statusTopic], { qos: 1 }, (error) => {
      if (error) this.deps.log.warn({ err: error.message }, 'mqtt subscribe failed');
    });
    this.publishAll();
  }

  /** Discovery (or its removal) and the whole state: after each connect and when HA comes online. */
  private publishAll(): void {
    const { config } = this.deps;
    const topics = this.topics as GadgetTopics;
    const deviceId = this.deviceId as string;
    if (config.homeassistant) {
      const gadget = { deviceId, deviceName: this.deps.deviceName, configurationUrl: crewPageUrl(this.deps.relayUrl) };
      for (const message of discoveryMessages(config.discoveryPrefix, topics, gadget)) this.send(message.topic, JSON.stringify(message.payload), true);
    } else {
      for (const topic of discoveryTopics(config.discoveryPrefix, deviceId)) this.send(topic, '', true);
    }
    this.published = { state: '', artUrl: '' };
    this.publishState(this.deps.actions.view());
  }

  /** Turned off: empty retained messages take the entities, the state and the availability away, then it disconnects. */
  private async removeEverything(client: MqttClient): Promise<void> {
    const { config } = this.deps;
    const topics = this.topics as GadgetTopics;
    const empty = [...discoveryTopics(config.discoveryPrefix, this.deviceId as string), topics.state, topics.artUrl, topics.availability];
    try {
      await Promise.all(empty.map((topic) => client.publishAsync(topic, '', { qos: 1, retain: true })));
      this.deps.log.info('the mqtt bridge is off: the gadget was removed from the broker and Home Assistant');
    } catch (error) {
      this.deps.log.warn({ err: (error as Error).message }, 'could not remove the gadget from the broker');
    }
    this.stopping = true;
    await client.endAsync().catch(() => undefined);
  }

  private async disconnect(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const client = this.client;
    this.client = null;
    if (!client) return;
    let said = false;
    if (client.connected && this.deps.config.enabled && this.topics) {
      // A clean disconnect sends no last will: say offline ourselves, but never wait long on a broker that is not answering.
      const offline = client.publishAsync(this.topics.availability, 'offline', { qos: 1, retain: true }).then(
        () => true,
        () => false,
      );
      said = await Promise.race([offline, sleep(STOP_WAIT_MS, false, { ref: false })]);
    }
    // A graceful end waits for every message still in flight, which a broker that stopped
    // answering never acknowledges: give it the same bound, then end by force.
    const ended = client.endAsync(!said || !client.connected).then(
      () => true,
      () => true,
    );
    if (!(await Promise.race([ended, sleep(STOP_WAIT_MS, false, { ref: false })]))) await client.endAsync(true).catch(() => undefined);
  }

  private onGadgetChange(): void {
    const view = this.deps.actions.view();
    const deviceId = view.state.deviceId;
    if (deviceId && deviceId !== this.deviceId && this.deps.config.url) {
      // First registration (or a new identity): the topics follow the device id.
      this.deviceId = deviceId;
      void this.disconnect().then(() => {
        if (!this.stopping) this.connect(deviceId);
      });
    }
    this.publishEvents(view);
    this.publishState(view);
  }

  private publishState(view: GadgetView): void {
    if (!this.deps.config.enabled || !this.topics) return;
    const state = JSON.stringify(stateDocument(view));
    const artUrl = view.nowPlaying?.artUrl ?? '';
    if (state !== this.published.state && this.send(this.topics.state, state, true)) this.published.state = state;
    if (artUrl !== this.published.artUrl && this.send(this.topics.artUrl, artUrl, true)) this.published.artUrl = artUrl;
  }

  /** Shares and reactions from crew mates that arrived since the last look. */
  private publishEvents(view: GadgetView): void {
    const { state } = view;
    for (const item of state.feed) {
      if (item.kind !== 'share' || item.mine || this.seenShares.has(item.key)) continue;
      const { share } = item;
      this.publishEvent('share', {
        event_type: 'share',
        who: item.fromName,
        track: share.track,
        artist: share.artist,
        album: share.album,
        spotify_uri: share.spotify_uri,
        album_art_url: share.album_art_url,
        note: share.note,
        at: iso(item.at),
      });
    }
    if (state.flash && state.flash !== this.lastFlash) {
      this.publishEvent('reaction', { event_type: state.flash.reaction, who: state.flash.fromName, at: iso(state.flash.at) });
    }
    this.remember(view);
  }

  private remember(view: GadgetView): void {
    this.seenShares = new Set(view.state.feed.map((item) => item.key));
    this.lastFlash = view.state.flash;
  }

  private publishEvent(kind: GadgetEventKind, payload: Record<string, unknown>): void {
    if (this.deps.config.enabled && this.topics) this.send(this.topics.event(kind), JSON.stringify(payload), false);
  }

  /** Publishes only on a live connection that keeps up; returns whether it went out. */
  private send(topic: string, payload: string, retain: boolean): boolean {
    const client = this.client;
    if (!client?.connected || this.inFlight >= IN_FLIGHT_MAX) return false;
    this.inFlight++;
    client.publish(topic, payload, { qos: 1, retain }, (error) => {
      this.inFlight = Math.max(0, this.inFlight - 1);
      if (error) this.deps.log.debug({ err: error.message, topic }, 'mqtt publish not acknowledged');
      // A state skipped while the broker lagged goes out once it has caught up.
      if (this.inFlight === 0 && client === this.client) this.publishState(this.deps.actions.view());
    });
    return true;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const { config } = this.deps;
    if (topic === config.statusTopic) {
      if (payload.toString() === 'online') this.publishAll();
      return;
    }
    const prefix = `${this.topics?.root}/set/`;
    if (topic.startsWith(prefix)) void this.onCommand(topic.slice(prefix.length), payload);
  }

  private async onCommand(name: string, payload: Buffer): Promise<void> {
    const command = parseCommand(name, payload);
    if ('code' in command) return this.publishError(name, command);
    let result: ActionResult;
    try {
      result = await this.run(command);
    } catch (error) {
      this.deps.log.error({ err: (error as Error).message, command: name }, 'mqtt command failed');
      result = { ok: false, message: 'The gadget failed to do it; it has been logged.' };
    }
    if (!result.ok) this.publishError(name, { code: 'not_done', message: result.message });
  }

  private async run(command: Command): Promise<ActionResult> {
    const actions = this.deps.actions;
    switch (command.name) {
      case 'share_now':
        return actions.shareNowPlaying();
      case 'react_love':
        return actions.react('love');
      case 'react_fire':
        return actions.react('fire');
      case 'airhorn':
        return actions.soundAirhorn();
      case 'play_along':
        return actions.setPlayAlong(command.on);
      case 'message':
        return actions.sendText(command.text);
      case 'notify':
        actions.showLine(command.text);
        return { ok: true };
    }
  }

  private publishError(command: string, error: BridgeError): void {
    this.deps.log.info({ command, code: error.code }, `mqtt command refused: ${error.message}`);
    if (this.topics) this.send(this.topics.error, JSON.stringify({ code: error.code, message: error.message, command }), false);
  }
}
