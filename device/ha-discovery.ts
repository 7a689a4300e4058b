/**
 * Home Assistant MQTT discovery for one gadget, as pure data: the topics under
 * `<baseTopic>/<device_id>/`, and one retained config message per entity under
 * `<discoveryPrefix>/<component>/leeloo_<device_id>/<object_id>/config`. Every entity
 * belongs to one HA device (the gadget) and carries the same `origin` block. HA has no
 * MQTT media_player, so now playing is a sensor with attributes plus an image.
 */

export const DEVICE_VERSION = '0.1.0';

export interface GadgetIdentity {
  readonly deviceId: string;
  readonly deviceName: string;
  /** The crew page on the relay, when the relay's URL is known. */
  readonly configurationUrl: string | null;
}

export interface GadgetTopics {
  readonly root: string;
  readonly availability: string;
  /** Retained JSON: now playing, last share, last reaction, crew online, relay, play along. */
  readonly state: string;
  /** Retained: the album art URL of what plays (the image entity's url_topic). */
  readonly artUrl: string;
  readonly error: string;
  /** `<root>/set/<command>`; subscribe to `<root>/set/+`. */
  readonly commands: string;
  event(kind: GadgetEventKind): string;
  command(name: CommandName): string;
}

export const EVENT_KINDS = ['share', 'reaction', 'airhorn'] as const;
export type GadgetEventKind = (typeof EVENT_KINDS)[number];

export const COMMAND_NAMES = ['share_now', 'react_love', 'react_fire', 'airhorn', 'play_along', 'message', 'notify'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** The longest text the "message to crew" entity takes: HA states stop at 255 characters. */
export const MESSAGE_MAX = 255;
/** The longest notify line: one line on the 480-pixel screen. */
export const LINE_MAX = 60;

export function gadgetTopics(baseTopic: string, deviceId: string): GadgetTopics {
  const root = `${baseTopic}/${deviceId}`;
  return {
    root,
    availability: `${root}/availability`,
    state: `${root}/state`,
    artUrl: `${root}/art_url`,
    error: `${root}/error`,
    commands: `${root}/set/+`,
    event: (kind) => `${root}/event/${kind}`,
    command: (name) => `${root}/set/${name}`,
  };
}

/** `ws://host:8080/ws` → `http://host:8080/crew`: the crew page the relay serves. */
export function crewPageUrl(relayUrl: string): string | null {
  try {
    const url = new URL(relayUrl);
    url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    url.pathname = `${url.pathname.replace(/\/ws\/?$/, '')}/crew`;
    url.search = '';
    url.hash = '';
    return url.toString().replace(/\/\/crew$/, '/crew');
  } catch {
    return null;
  }
}

export interface DiscoveryMessage {
  readonly topic: string;
  /** The config as HA reads it (full key names, no abbreviations). */
  readonly payload: Record<string, unknown>;
}

type Component = 'sensor' | 'image' | 'event' | 'binary_sensor' | 'button' | 'switch' | 'text' | 'notify';

interface EntitySpec {
  readonly component: Component;
  readonly objectId: string;
  readonly name: string;
  readonly config: (t: GadgetTopics) => Record<string, unknown>;
}

const button = (objectId: string, name: string, command: CommandName, icon: string): EntitySpec => ({
  component: 'button',
  objectId,
  name,
  config: (t) => ({ command_topic: t.command(command), payload_press: 'PRESS', icon }),
});

const event = (kind: GadgetEventKind, name: string, eventTypes: string[], icon: string): EntitySpec => ({
  component: 'event',
  objectId: `${kind}_received`,
  name,
  config: (t) => ({ state_topic: t.event(kind), event_types: eventTypes, icon }),
});

/** Every entity of a gadget. object ids are part of the unique_ids: never rename one. */
export const ENTITIES: readonly EntitySpec[] = [
  {
    component: 'sensor',
    objectId: 'now_playing',
    name: 'Now playing',
    config: (t) => ({
      state_topic: t.state,
      value_template: "{{ value_json.now_playing.track if value_json.now_playing else 'Nothing playing' }}",
      json_attributes_topic: t.state,
      icon: 'mdi:music',
    }),
  },
  { component: 'image', objectId: 'album_art', name: 'Album art', config: (t) => ({ url_topic: t.artUrl }) },
  event('share', 'Share received', ['share'], 'mdi:music-note-plus'),
  event('reaction', 'Reaction received', ['love', 'fire'], 'mdi:heart'),
  event('airhorn', 'Airhorn received', ['airhorn'], 'mdi:bullhorn'),
  {
    component: 'binary_sensor',
    objectId: 'relay',
    name: 'Relay connection',
    config: (t) => ({
      state_topic: t.state,
      value_template: "{{ 'ON' if value_json.relay == 'online' else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
    }),
  },
  {
    component: 'sensor',
    objectId: 'crew_online',
    name: 'Crew online',
    config: (t) => ({
      state_topic: t.state,
      value_template: '{{ value_json.crew_online }}',
      state_class: 'measurement',
      icon: 'mdi:account-group',
    }),
  },
  button('share_now', 'Share now', 'share_now', 'mdi:share'),
  button('react_love', 'React love', 'react_love', 'mdi:heart'),
  button('react_fire', 'React fire', 'react_fire', 'mdi:fire'),
  button('airhorn', 'Airhorn', 'airhorn', 'mdi:bullhorn'),
  {
    component: 'switch',
    objectId: 'play_along',
    name: 'Play along',
    config: (t) => ({
      command_topic: t.command('play_along'),
      state_topic: t.state,
      value_template: '{{ value_json.play_along }}',
      payload_on: 'ON',
      payload_off: 'OFF',
      state_on: 'ON',
      state_off: 'OFF',
      icon: 'mdi:account-music',
    }),
  },
  {
    component: 'text',
    objectId: 'message',
    name: 'Message to crew',
    config: (t) => ({
      command_topic: t.command('message'),
      min: 1,
      max: MESSAGE_MAX,
      mode: 'text',
      icon: 'mdi:message-text',
    }),
  },
  { component: 'notify', objectId: 'screen', name: 'Screen', config: (t) => ({ command_topic: t.command('notify'), icon: 'mdi:monitor-message' }) },
];

function discoveryTopic(prefix: string, spec: EntitySpec, deviceId: string): string {
  return `${prefix}/${spec.component}/leeloo_${deviceId}/${spec.objectId}/config`;
}

/** The retained config messages of every entity of one gadget. */
export function discoveryMessages(prefix: string, topics: GadgetTopics, gadget: GadgetIdentity): DiscoveryMessage[] {
  const device = {
    identifiers: [`leeloo_${gadget.deviceId}`],
    name: gadget.deviceName,
    model: 'LEELOO music-sharing gadget',
    manufacturer: 'LEELOO',
    sw_version: DEVICE_VERSION,
    ...(gadget.configurationUrl ? { configuration_url: gadget.configurationUrl } : {}),
  };
  return ENTITIES.map((spec) => ({
    topic: discoveryTopic(prefix, spec, gadget.deviceId),
    payload: {
      name: spec.name,
      unique_id: `leeloo_${gadget.deviceId}_${spec.objectId}`,
      ...spec.config(topics),
      availability: [{ topic: topics.availability, payload_available: 'online', payload_not_available: 'offline' }],
      device,
      origin: { name: 'LEELOO', sw_version: DEVICE_VERSION },
      qos: 1,
    },
  }));
}

/** Every config topic of one gadget: an empty retained message on each removes the entities. */
export function discoveryTopics(prefix: string, deviceId: string): string[] {
  return ENTITIES.map((spec) => discoveryTopic(prefix, spec, deviceId));
}
