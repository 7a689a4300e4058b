import { z } from 'zod';
import {
  ClientMsgId,
  CrewWord,
  DeviceId,
  DeviceSecret,
  DisplayName,
  MessageText,
  OptionalText,
  ReactionWord,
  Seq,
  ShortText,
  SpotifyUri,
  Timestamp,
} from './common.js';
import { ERROR_CODE_LIST } from './errors.js';
import { QUEUE_STATE_CHANGING, QueueInbound, QueueOutbound } from './queue.js';
import { SpotifyInbound, SpotifyOutbound } from './spotify.js';

/*
 * Every message of every generation is written down here once: its zod schema is the
 * runtime check and `z.infer` gives its type. Unknown extra fields are dropped, not
 * refused, because field gadgets may send more than they need to.
 */

// ---------------------------------------------------------------------------
// Crew message payloads (`message {msg_type, payload}`, second generation onwards)
// ---------------------------------------------------------------------------

export const SongPush = z.object({
  artist: ShortText(200),
  track: ShortText(200),
  album: OptionalText(200),
  spotify_uri: SpotifyUri,
  album_art_url: z.union([z.url({ protocol: /^https?$/ }), z.literal('')]).default(''),
  note: OptionalText(280),
});
export type SongPush = z.infer<typeof SongPush>;

export const MessagePayloads = {
  // Up to a Telegram message: the bot relays whole messages, line breaks included.
  text: z.object({ text: MessageText(4096) }),
  reaction: z.object({ reaction: ReactionWord, to_device: DeviceId.optional() }),
  song_push: SongPush,
  nudge: z.object({}),
  // The voice parser keeps what it heard ("friday 7pm"); the gadget sends "" for no description.
  hang_propose: z.object({
    datetime: ShortText(100),
    description: OptionalText(200),
  }),
  hang_confirm: z.object({ to_device: DeviceId.optional() }),
} as const;

export type MsgType = keyof typeof MessagePayloads;
export const MSG_TYPES = Object.keys(MessagePayloads) as [MsgType, ...MsgType[]];

/** `{msg_type, payload}` with the payload checked against its msg_type. */
export const CrewMessageBody = z.discriminatedUnion('msg_type', [
  z.object({ msg_type: z.literal('text'), payload: MessagePayloads.text }),
  z.object({ msg_type: z.literal('reaction'), payload: MessagePayloads.reaction }),
  z.object({ msg_type: z.literal('song_push'), payload: MessagePayloads.song_push }),
  z.object({ msg_type: z.literal('nudge'), payload: MessagePayloads.nudge.default({}) }),
  z.object({ msg_type: z.literal('hang_propose'), payload: MessagePayloads.hang_propose }),
  z.object({ msg_type: z.literal('hang_confirm'), payload: MessagePayloads.hang_confirm.default({}) }),
]);
export type CrewMessageBody = z.infer<typeof CrewMessageBody>;

// Fields every state-changing message of the current protocol carries.
const stateChange = { client_msg_id: ClientMsgId.optional() };

// ---------------------------------------------------------------------------
// Device → relay
// ---------------------------------------------------------------------------

/** Names one copy of a crew's log (see CrewState.epoch). */
const LogEpoch = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const Inbound = {
  // First generation. `protocol_version` and `device_secret` are the current protocol's
  // additions; first-generation gadgets omit both. Without a device_id the relay issues one
  // (in `registered`); without a crew_code the device is in no crew (the Spotify sign-in
  // scripts register only to receive their tokens).
  register: z.object({
    type: z.literal('register'),
    device_id: DeviceId.optional(),
    // The fleet's relay read an empty code as none.
    crew_code: z.union([z.literal('').transform(() => undefined), CrewWord]).optional(),
    device_name: DisplayName.default('LEELOO'),
    protocol_version: z.number().int().positive().optional(),
    device_secret: DeviceSecret.optional(),
    ...stateChange,
  }),
  share_music: z.object({
    type: z.literal('share_music'),
    spotify_uri: SpotifyUri,
    artist: ShortText(200),
    track: ShortText(200),
    album: OptionalText(200),
    ...stateChange,
  }),
  reaction: z.object({
    type: z.literal('reaction'),
    reaction_type: ReactionWord,
    ...stateChange,
  }),
  ping: z.object({ type: z.literal('ping') }),

  // Second generation.
  create_crew: z.object({
    type: z.literal('create_crew'),
    device_id: DeviceId.optional(),
    display_name: DisplayName,
    /**
     * The code the gadget got at setup: a free code creates the crew under it, a taken one
     * puts the device into that crew (two gadgets of one crew booting together).
     */
    crew_code: CrewWord.optional(),
    crew_name: ShortText(40).optional(),
    ...stateChange,
  }),
  join_crew: z.object({
    type: z.literal('join_crew'),
    crew_code: CrewWord,
    device_id: DeviceId.optional(),
    display_name: DisplayName,
    ...stateChange,
  }),
  message: z.intersection(z.object({ type: z.literal('message'), ...stateChange }), CrewMessageBody),

  // Current protocol.
  hello: z.object({
    type: z.literal('hello'),
    protocol_version: z.number().int().positive(),
    device_id: DeviceId.optional(),
    device_secret: DeviceSecret.optional(),
    device_name: DisplayName,
  }),
  /** `epoch`: the crew log's epoch the device's after_seq belongs to (from its last welcome/resumed/resync). */
  resume: z.object({ type: z.literal('resume'), crew_code: CrewWord, after_seq: Seq, epoch: LogEpoch.optional() }),
  leave_crew: z.object({ type: z.literal('leave_crew'), ...stateChange }),
  rename_crew: z.object({ type: z.literal('rename_crew'), crew_name: ShortText(40), ...stateChange }),
  remove_member: z.object({ type: z.literal('remove_member'), device_id: DeviceId, ...stateChange }),
  rotate_code: z.object({ type: z.literal('rotate_code'), ...stateChange }),
  /** The owner's crew settings: `share_history` shows members who join later the crew's past (off by default). */
  set_crew_settings: z.object({ type: z.literal('set_crew_settings'), share_history: z.boolean(), ...stateChange }),
  set_display_name: z.object({ type: z.literal('set_display_name'), display_name: DisplayName, ...stateChange }),

  // The crew's shared queue (protocol/queue.ts).
  ...QueueInbound,

  // Spotify sign-in hand-off and token broker (protocol/spotify.ts).
  ...SpotifyInbound,
} as const;

export type InboundType = keyof typeof Inbound;
export type InboundOf<T extends InboundType> = z.infer<(typeof Inbound)[T]>;
export type InboundMessage = { [T in InboundType]: InboundOf<T> }[InboundType];

/** Inbound types that change state: they are acknowledged and deduplicated by client_msg_id. */
export const STATE_CHANGING: ReadonlySet<InboundType> = new Set<InboundType>([
  'register',
  'share_music',
  'reaction',
  'create_crew',
  'join_crew',
  'message',
  'leave_crew',
  'rename_crew',
  'remove_member',
  'rotate_code',
  'set_crew_settings',
  'set_display_name',
  ...QUEUE_STATE_CHANGING,
]);

// ---------------------------------------------------------------------------
// Relay → device
// ---------------------------------------------------------------------------

export const Member = z.object({
  device_id: DeviceId,
  display_name: DisplayName,
  online: z.boolean(),
  is_owner: z.boolean(),
});
export type Member = z.infer<typeof Member>;

/** Crew state as the current protocol sees it (in `welcome`, `crew_created`, `crew_joined`). */
export const CrewState = z.object({
  /** Stable for the crew's life, unlike the code (which the owner may rotate). */
  crew_id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
  crew_code: CrewWord,
  crew_name: z.string(),
  owner_device_id: DeviceId,
  members: z.array(Member),
  latest_seq: Seq,
  /**
   * Names this copy of the crew's log: renewed when the relay's store is restored from a
   * backup, so seqs a device saw before the restore are not taken for the restored log's.
   */
  epoch: LogEpoch.optional(),
  /** The owner shares the crew's history with newcomers: a member who joins later reads the log from its start. */
  share_history: z.boolean().optional(),
});
export type CrewState = z.infer<typeof CrewState>;

/** Present on everything the relay fans out to a crew, for current-protocol devices. */
const fanOut = { seq: Seq.optional(), crew_code: CrewWord.optional() };

export const Outbound = {
  // First generation.
  registered: z.object({ type: z.literal('registered'), device_id: DeviceId, device_secret: DeviceSecret.optional() }),
  music_shared: z.object({
    type: z.literal('music_shared'),
    spotify_uri: SpotifyUri,
    artist: z.string(),
    track: z.string(),
    album: z.string(),
    pushed_by: z.string(),
    timestamp: Timestamp,
    ...fanOut,
  }),
  reaction: z.object({
    type: z.literal('reaction'),
    reaction_type: z.string(),
    from: z.string(),
    timestamp: Timestamp,
    ...fanOut,
  }),
  pong: z.object({ type: z.literal('pong'), timestamp: Timestamp.optional() }),
  spotify_auth_complete: z.object({
    type: z.literal('spotify_auth_complete'),
    tokens: z.object({
      access_token: z.string(),
      refresh_token: z.string().optional(),
      expires_in: z.number().int().positive(),
    }),
  }),

  // Second generation.
  crew_created: z.object({
    type: z.literal('crew_created'),
    device_id: DeviceId,
    crew_code: CrewWord,
    /** Second-generation gadgets store it (the oldest read it unconditionally). */
    crew_id: z.string(),
    device_secret: DeviceSecret.optional(),
    crew: CrewState.optional(),
  }),
  crew_joined: z.object({
    type: z.literal('crew_joined'),
    device_id: DeviceId,
    crew_code: CrewWord,
    crew_id: z.string(),
    /** How many of the crew's devices are online, the joiner included (a number, as gadgets print it). */
    crew_members: z.number().int().nonnegative(),
    /** Display names of the other online devices, in join order. */
    member_names: z.array(z.string()),
    device_secret: DeviceSecret.optional(),
    crew: CrewState.optional(),
  }),
  member_joined: z.object({
    type: z.literal('member_joined'),
    device_id: DeviceId,
    display_name: z.string(),
    ...fanOut,
  }),
  member_offline: z.object({
    type: z.literal('member_offline'),
    device_id: DeviceId,
    display_name: z.string(),
    ...fanOut,
  }),
  message: z.intersection(
    z.object({
      type: z.literal('message'),
      from_device: DeviceId,
      from_name: z.string(),
      timestamp: Timestamp,
      client_msg_id: ClientMsgId.optional(),
      ...fanOut,
    }),
    CrewMessageBody,
  ),
  error: z.object({
    type: z.literal('error'),
    code: z.enum(ERROR_CODE_LIST),
    /** Same as `code`: second-generation gadgets read `error`. */
    error: z.enum(ERROR_CODE_LIST),
    message: z.string(),
    client_msg_id: ClientMsgId.optional(),
    /** The type of the message that caused it, when it could be read. */
    ref_type: z.string().optional(),
    retry_after_ms: z.number().int().nonnegative().optional(),
  }),

  // Current protocol.
  welcome: z.object({
    type: z.literal('welcome'),
    protocol_version: z.number().int().positive(),
    device_id: DeviceId,
    /** Sent once, when the relay issues the credential; the device must keep it. */
    device_secret: DeviceSecret.optional(),
    crew: CrewState.nullable(),
    server_time: Timestamp,
    /** The relay's per-connection rate: frames per second and burst; a client paces what it sends to it. */
    rate_limit: z.object({ per_second: z.number().positive(), burst: z.number().int().positive() }).optional(),
  }),
  ack: z.object({
    type: z.literal('ack'),
    client_msg_id: ClientMsgId,
    /** The crew seq the message was stored under, when it produced a crew event. */
    seq: Seq.optional(),
    /** True when the relay had already handled this client_msg_id. */
    duplicate: z.boolean().optional(),
  }),
  resumed: z.object({
    type: z.literal('resumed'),
    crew_code: CrewWord,
    after_seq: Seq,
    latest_seq: Seq,
    replayed: z.number().int().nonnegative(),
    epoch: LogEpoch.optional(),
  }),
  resync: z.object({
    type: z.literal('resync'),
    crew_code: CrewWord,
    /**
     * epoch_changed: the relay's log was restored from a backup since the device's after_seq.
     * too_far_behind: more live events waited for this socket than the relay holds (it did not
     * resume after welcome, or its replay could not keep up); they were dropped.
     */
    reason: z.enum(['history_gone', 'ahead_of_relay', 'epoch_changed', 'too_far_behind']),
    crew: CrewState,
  }),
  member_left: z.object({
    type: z.literal('member_left'),
    device_id: DeviceId,
    display_name: z.string(),
    removed: z.boolean(),
    ...fanOut,
  }),
  member_renamed: z.object({
    type: z.literal('member_renamed'),
    device_id: DeviceId,
    display_name: z.string(),
    ...fanOut,
  }),
  crew_renamed: z.object({ type: z.literal('crew_renamed'), crew_name: z.string(), ...fanOut }),
  /** The owner changed the crew's settings (set_crew_settings or the crew page). */
  crew_settings_changed: z.object({ type: z.literal('crew_settings_changed'), share_history: z.boolean(), ...fanOut }),
  /** Sent to the crew's members only; the old code stops working at once. */
  crew_code_changed: z.object({
    type: z.literal('crew_code_changed'),
    old_crew_code: CrewWord,
    new_crew_code: CrewWord,
    ...fanOut,
  }),
  /** Sent to a device that left or was removed. */
  crew_left: z.object({ type: z.literal('crew_left'), crew_code: CrewWord, removed: z.boolean() }),

  // The crew's shared queue (protocol/queue.ts).
  ...QueueOutbound,

  // Spotify sign-in hand-off and token broker (protocol/spotify.ts).
  ...SpotifyOutbound,
} as const;

export type OutboundType = keyof typeof Outbound;
export type OutboundOf<T extends OutboundType> = z.infer<(typeof Outbound)[T]>;
export type OutboundMessage = { [T in OutboundType]: OutboundOf<T> }[OutboundType];

/**
 * What the relay fans out to a crew and stores under a seq: the current protocol's
 * shape, from which the older dialects are derived (see dialects.ts).
 */
export const CREW_EVENT_TYPES = [
  'message',
  'member_joined',
  'member_offline',
  'member_left',
  'member_renamed',
  'crew_renamed',
  'crew_settings_changed',
  'crew_code_changed',
  'queue_state',
  'airhorn',
] as const satisfies readonly OutboundType[];
export type CrewEventType = (typeof CREW_EVENT_TYPES)[number];
export type CrewEvent = Extract<OutboundMessage, { type: CrewEventType }>;

/** The crew events a crew page's event stream carries: all but the code change (a page's link names the crew, not its code). */
export const PAGE_EVENT_TYPES = CREW_EVENT_TYPES.filter((type) => type !== 'crew_code_changed');
