import { isReaction, type CrewState, type OutboundMessage, type Reaction, type SongPush } from '../protocol/index.js';

/**
 * The app state the screens draw from. The controller owns one instance and replaces
 * it through the pure functions below, so a screen never sees a half-applied event.
 */

export type ConnectionStatus = 'offline' | 'connecting' | 'online' | 'error';

export interface ConnectionState {
  readonly status: ConnectionStatus;
  /** A sentence for the status screen: why we are offline, what failed. */
  readonly detail: string;
  /** When the next reconnect attempt is due (ms since epoch), while offline. */
  readonly retryAt: number | null;
}

export interface MemberView {
  readonly deviceId: string;
  readonly name: string;
  readonly online: boolean;
  readonly isOwner: boolean;
}

export interface CrewView {
  readonly code: string;
  readonly name: string;
  readonly ownerDeviceId: string;
  readonly members: readonly MemberView[];
}

interface ItemBase {
  /** `seq:N` for relay events, `out:<client_msg_id>` for what this device sent. */
  readonly key: string;
  readonly fromDevice: string;
  readonly fromName: string;
  readonly at: number;
  readonly mine: boolean;
  readonly read: boolean;
}

export interface ShareItem extends ItemBase {
  readonly kind: 'share';
  readonly share: SongPush;
  /** `key` is the reaction event's key: a replay after reconnect (own reactions included) is not counted twice. */
  readonly reactions: readonly { reaction: Reaction; fromName: string; fromDevice: string; key?: string }[];
}

export interface NoteItem extends ItemBase {
  readonly kind: 'text' | 'nudge' | 'hang_propose' | 'hang_confirm';
  readonly text: string;
  readonly datetime?: string;
}

export type FeedItem = ShareItem | NoteItem;

export interface ReactionFlash {
  readonly reaction: Reaction;
  readonly fromName: string;
  readonly at: number;
}

export interface DeviceState {
  readonly deviceName: string;
  readonly deviceId: string | null;
  readonly relayUrl: string;
  readonly connection: ConnectionState;
  readonly crew: CrewView | null;
  /** Oldest first, bounded to FEED_LIMIT. */
  readonly feed: readonly FeedItem[];
  /** Messages waiting in the outbox for the relay's ack. */
  readonly outboxPending: number;
  /** The latest incoming reaction, for the animation. */
  readonly flash: ReactionFlash | null;
}

export const FEED_LIMIT = 100;
/** Reactions kept per share: a share the crew keeps reacting to must not grow for months. */
export const REACTIONS_LIMIT = 50;

export function initialState(deviceName: string, relayUrl: string): DeviceState {
  return {
    deviceName,
    deviceId: null,
    relayUrl,
    connection: { status: 'offline', detail: 'Starting…', retryAt: null },
    crew: null,
    feed: [],
    outboxPending: 0,
    flash: null,
  };
}

export function withConnection(state: DeviceState, connection: ConnectionState): DeviceState {
  return { ...state, connection };
}

export function withCrew(state: DeviceState, crew: CrewState | null): DeviceState {
  if (!crew) return { ...state, crew: null };
  return {
    ...state,
    crew: {
      code: crew.crew_code,
      name: crew.crew_name,
      ownerDeviceId: crew.owner_device_id,
      members: crew.members.map((m) => ({
        deviceId: m.device_id,
        name: m.display_name,
        online: m.online,
        isOwner: m.is_owner,
      })),
    },
  };
}

function upsertMember(state: DeviceState, deviceId: string, change: Partial<MemberView> & { name: string }): DeviceState {
  if (!state.crew) return state;
  const members = state.crew.members;
  const found = members.some((m) => m.deviceId === deviceId);
  const next = found
    ? members.map((m) => (m.deviceId === deviceId ? { ...m, ...change } : m))
    : [...members, { deviceId, online: true, isOwner: false, ...change }];
  return { ...state, crew: { ...state.crew, members: next } };
}

function removeMember(state: DeviceState, deviceId: string): DeviceState {
  if (!state.crew) return state;
  return { ...state, crew: { ...state.crew, members: state.crew.members.filter((m) => m.deviceId !== deviceId) } };
}

function appendItem(state: DeviceState, item: FeedItem): DeviceState {
  if (state.feed.some((existing) => existing.key === item.key)) return state;
  return { ...state, feed: [...state.feed, item].slice(-FEED_LIMIT) };
}

function noteText(body: Extract<OutboundMessage, { type: 'message' }>): { text: string; datetime?: string } {
  switch (body.msg_type) {
    case 'text':
      return { text: body.payload.text };
    case 'nudge':
      return { text: 'nudged you' };
    case 'hang_propose':
      return { text: body.payload.description, datetime: body.payload.datetime };
    case 'hang_confirm':
      return { text: "is in — let's hang" };
    default:
      return { text: '' };
  }
}

/** Attaches a reaction to the newest share from the device it was meant for (or the newest share). */
function addReaction(
  state: DeviceState,
  reaction: Reaction,
  toDevice: string | undefined,
  from: { fromName: string; fromDevice: string; key: string },
): DeviceState {
  const index = findLastIndex(state.feed, (item) => item.kind === 'share' && (!toDevice || item.fromDevice === toDevice));
  if (index < 0) return state;
  const share = state.feed[index] as ShareItem;
  const updated: ShareItem = { ...share, reactions: [...share.reactions, { reaction, ...from }].slice(-REACTIONS_LIMIT) };
  const feed = state.feed.slice();
  feed[index] = updated;
  return { ...state, feed };
}

function findLastIndex<T>(items: readonly T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i] as T)) return i;
  return -1;
}

function applyMessage(state: DeviceState, message: Extract<OutboundMessage, { type: 'message' }>, key: string): DeviceState {
  const mine = message.from_device === state.deviceId;
  const base = { key, fromDevice: message.from_device, fromName: message.from_name, at: message.timestamp, mine, read: mine };
  if (message.msg_type === 'reaction') {
    // The relay sends this device only the reactions it can draw; anything else is skipped.
    const reaction = message.payload.reaction;
    if (!isReaction(reaction)) return state;
    // A replay (resume after reconnect sends this device's own events too) counts once and does not animate again.
    if (state.feed.some((item) => item.kind === 'share' && item.reactions.some((r) => r.key === key))) return state;
    const next = addReaction(state, reaction, message.payload.to_device, { fromName: base.fromName, fromDevice: base.fromDevice, key });
    if (mine) return next;
    return { ...next, flash: { reaction, fromName: message.from_name, at: message.timestamp } };
  }
  if (message.msg_type === 'song_push') {
    return appendItem(state, { ...base, kind: 'share', share: message.payload, reactions: [] });
  }
  return appendItem(state, { ...base, kind: message.msg_type, ...noteText(message) });
}

/** Applies one event from the relay. Events this state does not show leave it unchanged. */
export function applyEvent(state: DeviceState, message: OutboundMessage): DeviceState {
  const key = message.type === 'message' && message.client_msg_id ? `msg:${message.client_msg_id}` : `seq:${'seq' in message ? message.seq : Date.now()}`;
  switch (message.type) {
    case 'message':
      return applyMessage(state, message, key);
    case 'member_joined':
      return upsertMember(state, message.device_id, { name: message.display_name, online: true });
    case 'member_offline':
      return upsertMember(state, message.device_id, { name: message.display_name, online: false });
    case 'member_renamed':
      return upsertMember(state, message.device_id, { name: message.display_name });
    case 'member_left':
      return removeMember(state, message.device_id);
    case 'crew_renamed':
      return state.crew ? { ...state, crew: { ...state.crew, name: message.crew_name } } : state;
    case 'crew_code_changed':
      return state.crew ? { ...state, crew: { ...state.crew, code: message.new_crew_code } } : state;
    case 'crew_left':
      return { ...state, crew: null };
    default:
      return state;
  }
}

/** Records what this device sent, so its own share shows (and takes reactions) before the relay echoes it. */
export function applyOwnMessage(state: DeviceState, clientMsgId: string, body: Extract<OutboundMessage, { type: 'message' }>): DeviceState {
  return applyMessage(state, body, `msg:${clientMsgId}`);
}

export function latestShare(state: DeviceState): ShareItem | null {
  const index = findLastIndex(state.feed, (item) => item.kind === 'share');
  return index < 0 ? null : (state.feed[index] as ShareItem);
}

export function notes(state: DeviceState): NoteItem[] {
  return state.feed.filter((item): item is NoteItem => item.kind !== 'share');
}

/** Unread items per member device id. */
export function unreadCounts(state: DeviceState): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of state.feed) {
    if (!item.read) counts.set(item.fromDevice, (counts.get(item.fromDevice) ?? 0) + 1);
  }
  return counts;
}

/** Marks every item of the given kinds read (the user has looked at the screen showing them). */
export function markRead(state: DeviceState, kinds: readonly FeedItem['kind'][]): DeviceState {
  if (!state.feed.some((item) => !item.read && kinds.includes(item.kind))) return state;
  return { ...state, feed: state.feed.map((item) => (kinds.includes(item.kind) && !item.read ? { ...item, read: true } : item)) };
}
