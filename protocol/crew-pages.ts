import { z } from 'zod';
import { ClientMsgId, DeviceId, DisplayName, OptionalText } from './common.js';
import type { ErrorCode } from './errors.js';
import { CrewMessageBody, type CrewEvent, type OutboundOf } from './messages.js';
import { QueueInbound, QueueTrack, type QueueSnapshot } from './queue.js';
import { SpotifyClientId, SpotifyClientSecret } from './spotify.js';

/*
 * The crew pages' HTTP API (cloud/web/crew-pages.ts), for a phone holding a member link's
 * cookie: `/crew/api/…` takes JSON bodies (or query strings) and answers JSON; a refusal is
 * `CrewApiError` with the status of protocol/errors.ts. `/crew/api/events` is the live
 * stream of the crew's PAGE_EVENT_TYPES (messages.ts), each with its seq as the SSE id. The
 * member's history (`/crew/api/history/…`, also the operator's under
 * `/admin/history/members/:deviceId/…`) and MCP tokens (`/crew/api/mcp-tokens`) are mounted
 * there too. Schemas here parse requests; the interfaces are the answers.
 */

/** Every refused request: `error` repeats `code` (as on the socket); `retry_after_ms` with `rate_limited`. */
export interface CrewApiError {
  readonly code: ErrorCode;
  readonly error: ErrorCode;
  readonly message: string;
  readonly retry_after_ms?: number;
}

/** A client_msg_id in a page's body: one that is not valid is ignored (the request is then not deduplicated). */
const LooseClientMsgId = ClientMsgId.optional().catch(undefined);

/** A field a form sends as "" when left empty: "" is absent, anything else must pass `schema`. */
const formField = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

// ---------------------------------------------------------------------------
// The crew and its queue
// ---------------------------------------------------------------------------

/**
 * POST /crew/api/queue: a pasted Spotify track link or URI (`link`, else `spotify_uri`; a
 * value that is not text is ignored). Title and artist come from Spotify when the relay can
 * look them up; what the person typed wins.
 */
export const CrewQueueAddRequest = z.object({
  link: z.string().optional().catch(undefined),
  spotify_uri: z.string().optional().catch(undefined),
  track: formField(QueueTrack.shape.track),
  artist: formField(QueueTrack.shape.artist),
  album: formField(QueueTrack.shape.album.unwrap()),
  album_art_url: formField(QueueTrack.shape.album_art_url.unwrap()),
  duration_ms: formField(QueueTrack.shape.duration_ms.unwrap()),
  client_msg_id: LooseClientMsgId,
});
export type CrewQueueAddRequest = z.infer<typeof CrewQueueAddRequest>;

/**
 * The other queue commands, as the socket message without its `type`; `item_id` is the
 * path's (`/crew/api/queue/:itemId/vote`, `…/jam`, `…/skip-vote`, DELETE `/crew/api/queue/:itemId`), the
 * rest are POST `/crew/api/queue/skip|pause|resume|clear|throwback` and `/crew/api/airhorn`.
 */
export const CrewQueueCommandRequest = {
  queue_vote: QueueInbound.queue_vote.omit({ type: true }),
  queue_jam: QueueInbound.queue_jam.omit({ type: true }),
  queue_remove: QueueInbound.queue_remove.omit({ type: true }),
  queue_skip: QueueInbound.queue_skip.omit({ type: true }),
  queue_skip_vote: QueueInbound.queue_skip_vote.omit({ type: true }),
  queue_pause: QueueInbound.queue_pause.omit({ type: true }),
  queue_resume: QueueInbound.queue_resume.omit({ type: true }),
  queue_clear: QueueInbound.queue_clear.omit({ type: true }),
  queue_throwback: QueueInbound.queue_throwback.omit({ type: true }),
  airhorn: QueueInbound.airhorn.omit({ type: true }),
} as const;
export type CrewQueueCommandType = keyof typeof CrewQueueCommandRequest;

/** The answer to a queue command: the seq of the queue_state (or airhorn) that carried it, and the queue now. */
export interface CrewCommandResponse {
  readonly ok: true;
  readonly seq: number | null;
  readonly duplicate: boolean;
  readonly queue: QueueSnapshot | null;
}

/** PUT /crew/api/crew-settings (the owner's, as set_crew_settings on the socket). */
export const CrewSettingsRequest = z.object({ share_history: z.boolean(), client_msg_id: LooseClientMsgId });
export type CrewSettingsRequest = z.infer<typeof CrewSettingsRequest>;

export interface CrewSettingsResponse {
  readonly ok: true;
  readonly seq: number;
  readonly duplicate: boolean;
  readonly share_history: boolean;
}

export interface CrewPageMember {
  readonly device_id: string;
  readonly display_name: string;
  readonly is_owner: boolean;
  readonly online: boolean;
  /** A member without a gadget: a Telegram user of the bot, or a phone member the owner invited. */
  readonly via?: 'telegram' | 'phone';
}

// ---------------------------------------------------------------------------
// Phone members: the owner invites a person who has no gadget (cloud/web/crew-invites.ts)
// ---------------------------------------------------------------------------

/** POST /crew/api/invites (the owner's): a signed, single-use invite link to send the person. */
export interface CrewInviteResponse {
  readonly url: string;
  readonly expires_at: number;
}

/** POST /i/<invite> (the invite page's form, urlencoded): the newcomer's name in the crew. */
export const CrewInviteAcceptRequest = z.object({ display_name: DisplayName });
export type CrewInviteAcceptRequest = z.infer<typeof CrewInviteAcceptRequest>;

/** DELETE /crew/api/members/:deviceId (the owner's): a phone or Telegram member leaves the crew (`member_left {removed: true}`). */
export interface CrewMemberRemoveResponse {
  readonly ok: true;
  readonly seq: number;
}

/** GET /crew/api/state: what the page draws; `latest_seq` is where its event stream starts (`?after=`). */
export interface CrewStateResponse {
  readonly me: { readonly device_id: string; readonly display_name: string; readonly is_owner: boolean };
  readonly crew: { readonly crew_name: string; readonly share_history: boolean; readonly members: readonly CrewPageMember[] };
  readonly queue: QueueSnapshot;
  /** The newest shares, reactions, texts and airhorns the member may see, newest first. */
  readonly recent: readonly CrewEvent[];
  readonly latest_seq: number;
  readonly link_expires_at: number;
  readonly server_time: number;
}

// ---------------------------------------------------------------------------
// The crew's own Spotify app (owner only)
// ---------------------------------------------------------------------------

/** PUT /crew/api/spotify-app (a client secret only for apps without PKCE). */
export const CrewSpotifyAppRequest = z.object({ client_id: SpotifyClientId, client_secret: SpotifyClientSecret.optional() });
export type CrewSpotifyAppRequest = z.infer<typeof CrewSpotifyAppRequest>;

/** The answer of GET, PUT and DELETE /crew/api/spotify-app: what the owner's "Spotify app for this crew" section shows. */
export interface CrewSpotifyAppStatus {
  /** False while the relay has no encryption key / PUBLIC_URL: no app can sign anybody in. */
  readonly configured: boolean;
  /** Exactly what to paste as the app's redirect URI in Spotify's dashboard. */
  readonly redirect_uri: string | null;
  /** The crew's own app, or null when the crew uses the relay's app. */
  readonly client_id: string | null;
  readonly has_secret: boolean;
  /** Whether the relay has an app of its own for crews without one. */
  readonly relay_app: boolean;
  /** When Spotify last answered QUOTA_EXCEEDED for the app the crew signs in with (ms), or null. */
  readonly quota_exceeded_at: number | null;
  readonly quota_message: string | null;
  /** The crew's members and which app each one's Spotify sign-in uses. */
  readonly members: readonly { device_id: string; display_name: string; spotify_name: string | null; app: 'crew' | 'relay' | 'other' | null }[];
  /** Distinct Spotify accounts signed in with the crew's own app, against the development-mode budget. */
  readonly accounts_on_crew_app: number;
  readonly budget: number;
}

/** POST /crew/api/spotify-app/check: a sign-in of the owner's gadget with the crew's app, opened on the owner's phone. */
export type CrewSpotifyAppCheck = Omit<OutboundOf<'spotify_signin_session'>, 'type'>;

// ---------------------------------------------------------------------------
// The member's MCP tokens (/crew/api/mcp-tokens)
// ---------------------------------------------------------------------------

/** POST /crew/api/mcp-tokens: only a name (optional) for the member's own list. */
export const McpTokenRequest = z.object({ name: OptionalText(40) }).strict();
export type McpTokenRequest = z.infer<typeof McpTokenRequest>;

/** A token as its list shows it (never the token itself). */
export interface McpTokenView {
  readonly token_id: string;
  readonly name: string;
  readonly created_at: number;
  readonly last_used_at: number | null;
}

/** GET /crew/api/mcp-tokens. */
export interface McpTokenList {
  readonly mcp_url: string;
  readonly max_tokens: number;
  readonly tokens: readonly McpTokenView[];
}

/** How an MCP client is told where the relay is and who it speaks for (shown once, with the token). */
export interface McpClientSetup {
  readonly mcp_url: string;
  readonly authorization: string;
  readonly client_config: {
    readonly mcpServers: { readonly leeloo: { readonly type: 'http'; readonly url: string; readonly headers: { readonly Authorization: string } } };
  };
  readonly claude_code: string;
}

/** 201 to POST /crew/api/mcp-tokens: the token, this once. */
export type McpTokenCreated = McpTokenView & McpClientSetup & { readonly token: string };

/** DELETE /crew/api/mcp-tokens/:tokenId. */
export interface McpTokenRevoked {
  readonly revoked: string;
}

// ---------------------------------------------------------------------------
// The member's history (/crew/api/history/…): query strings
// ---------------------------------------------------------------------------

/** ms since epoch, or an ISO date/time. */
const instant = z.union([
  z
    .string()
    .regex(/^\d{1,15}$/)
    .transform(Number),
  z.iso.datetime({ offset: true }).transform(Date.parse),
  z.iso.date().transform(Date.parse),
]);
const count = (max: number) => z.coerce.number().int().min(1).max(max);

/** `member`: one member of the viewer's crew instead of the whole crew. */
export const HistoryRangeQuery = z.object({ from: instant.optional(), to: instant.optional(), member: DeviceId.optional() });
/** GET /history. */
export const HistoryTimelineQuery = HistoryRangeQuery.extend({ limit: count(500).default(100) });
/** GET /history/top. */
export const HistoryTopQuery = HistoryRangeQuery.extend({
  kind: z.enum(['tracks', 'artists']).default('tracks'),
  by: z.enum(['plays', 'time']).default('plays'),
  limit: count(100).default(10),
});
/** GET /history/heatmap. */
export const HistoryHeatmapQuery = HistoryRangeQuery.extend({ tz: z.string().max(64).default('UTC'), measure: z.enum(['plays', 'time']).default('plays') });
/** GET /history/on-this-day. */
export const HistoryOnThisDayQuery = z.object({
  member: DeviceId.optional(),
  date: z.string().max(10).optional(),
  tz: z.string().max(64).default('UTC'),
  mode: z.enum(['years', 'weeks']).default('years'),
  count: count(20).default(5),
  limit: count(100).default(20),
});
/** GET /history/throwback. */
export const HistoryThrowbackQuery = z.object({ tz: z.string().max(64).default('UTC'), weeks: count(52).default(8), limit: count(50).default(10) });
/** POST /history/import (the body is the export ZIP itself). */
export const HistoryImportQuery = z.object({ min_play_ms: z.coerce.number().int().min(0).max(3_600_000).optional(), name: z.string().max(200).optional() });

// ---------------------------------------------------------------------------
// The member's history: answers
// ---------------------------------------------------------------------------

export type TopMeasure = 'plays' | 'time';

export interface PlayView {
  readonly member_id: string;
  readonly played_at: number;
  readonly track: string;
  readonly artist: string;
  readonly album: string | null;
  readonly track_uri: string | null;
  readonly ms_played: number | null;
  readonly source: string;
}

export type TimelineItem =
  | { readonly kind: 'event'; readonly at: number; readonly seq: number; readonly event: CrewEvent }
  | { readonly kind: 'play'; readonly at: number; readonly play: PlayView };

export interface TopTrack {
  readonly track: string;
  readonly artist: string;
  readonly track_uri: string | null;
  readonly plays: number;
  readonly ms_played: number;
}
export interface TopArtist {
  readonly artist: string;
  readonly plays: number;
  readonly ms_played: number;
}
/** GET /history/heatmap. */
export interface Heatmap {
  readonly time_zone: string;
  readonly measure: TopMeasure;
  readonly cells: number[][];
}
export interface ShareView {
  readonly spotify_uri: string;
  readonly artist: string;
  readonly track: string;
  readonly album: string;
  readonly shared_by: string;
  readonly shared_at: number;
}
export interface OnThisDay {
  readonly date: string;
  readonly plays: PlayView[];
  readonly shares: ShareView[];
}
export interface ThrowbackTrack extends ShareView {
  readonly times_shared: number;
}

/** GET /history. */
export interface HistoryTimelineResponse {
  readonly items: readonly TimelineItem[];
}
/** GET /history/top. */
export type HistoryTopResponse =
  | { readonly kind: 'tracks'; readonly by: TopMeasure; readonly items: readonly TopTrack[] }
  | { readonly kind: 'artists'; readonly by: TopMeasure; readonly items: readonly TopArtist[] };
/** GET /history/on-this-day. */
export interface HistoryOnThisDayResponse {
  readonly days: readonly OnThisDay[];
}
/** GET /history/throwback. */
export interface HistoryThrowbackResponse {
  readonly items: readonly ThrowbackTrack[];
}

export type ImportState = 'queued' | 'reading' | 'committing' | 'done' | 'failed';

/** GET /history/import/:jobId, and each event of its stream (`progress`, then `done` or `failed`). */
export interface HistoryImportJob {
  readonly job_id: string;
  readonly member_id: string;
  readonly file_name: string;
  readonly state: ImportState;
  readonly bytes_read: number;
  readonly bytes_total: number;
  /** Plays imported, duplicates and each reason a record was skipped. */
  readonly counts: Readonly<Record<string, number>> | null;
  readonly error?: { readonly code: ErrorCode; readonly message: string };
}

/** 202 to POST /history/import: where to follow the job. */
export interface HistoryImportStarted {
  readonly job_id: string;
  readonly status_url: string;
  readonly events_url: string;
  readonly job: HistoryImportJob;
}

// ----- The member's own Spotify on the crew page: search to add, Connect devices -----

/** GET /crew/api/spotify/search?q=…&limit=…: Spotify's catalog, at most 10 (Spotify's cap since February 2026). */
export const CrewSpotifySearchQuery = z.object({
  q: z.string().trim().min(1, 'must not be empty').max(200),
  limit: z.coerce.number().int().min(1).max(10).default(8),
});

/** A catalog track as search finds it, in the fields POST /crew/api/queue takes. */
export interface FoundTrack {
  readonly spotify_uri: string;
  readonly track: string;
  readonly artist: string;
  readonly album: string;
  readonly duration_ms: number;
  readonly album_art_url: string | null;
}

export interface CrewSpotifySearchResponse {
  readonly tracks: readonly FoundTrack[];
  /** Whose Spotify sign-in asked: the member's own, or the crew owner's for a member without one. */
  readonly searched_with: 'yours' | 'owner';
}

/** One of the member's Spotify Connect devices; `id` null: Spotify lists it but it cannot be controlled. */
export interface SpotifyDeviceView {
  readonly id: string | null;
  readonly name: string;
  readonly type: string;
  readonly is_active: boolean;
}

/** GET /crew/api/spotify/devices. */
export interface CrewSpotifyDevicesResponse {
  readonly devices: readonly SpotifyDeviceView[];
}

/** PUT /crew/api/spotify/player: play on this device of the member's (Spotify's transfer playback). */
export const CrewPlayOnRequest = z.object({ device_id: z.string().min(1).max(128) }).strict();
export type CrewPlayOnRequest = z.infer<typeof CrewPlayOnRequest>;

// ----- The member's messages from the crew page: the same crew messages a gadget sends -----

/** POST /crew/api/messages: a text, a nudge, a hang proposal or confirm, a reaction or a share, as the member. */
export const CrewMessageRequest = CrewMessageBody.and(z.object({ client_msg_id: LooseClientMsgId }));
export type CrewMessageRequest = z.infer<typeof CrewMessageRequest>;

export interface CrewMessageResponse {
  readonly seq: number;
  readonly duplicate: boolean;
}

// ----- The crew's recap: a month or a year of the crew's music, with a shareable image -----

/** GET /crew/api/history/recap?period=YYYY-MM|YYYY&tz=… (and recap.png with the same query). */
export const HistoryRecapQuery = z.object({
  period: z.string().regex(/^\d{4}(-(0[1-9]|1[0-2]))?$/, 'must be YYYY-MM or YYYY'),
  tz: z.string().max(64).default('UTC'),
});

export interface RecapMember {
  readonly device_id: string;
  readonly name: string;
  readonly plays: number;
  readonly listening_ms: number;
  readonly top_tracks: readonly TopTrack[];
  readonly top_artists: readonly TopArtist[];
  readonly shares: number;
}

export interface CrewRecap {
  readonly period: string;
  readonly time_zone: string;
  readonly from_ms: number;
  readonly to_ms: number;
  readonly crew: {
    readonly plays: number;
    readonly listening_ms: number;
    readonly top_tracks: readonly TopTrack[];
    readonly top_artists: readonly TopArtist[];
  };
  /** Most plays first. */
  readonly members: readonly RecapMember[];
  readonly shares: {
    readonly total: number;
    /** Tracks the crew had never shared before this period, in the order they were first shared. */
    readonly first_shares: readonly { readonly track: string; readonly artist: string; readonly shared_by: string; readonly shared_at: number }[];
  };
  /** The crew's plays by weekday (0 = Monday) and hour in the time zone. */
  readonly heatmap: Heatmap;
}

// ----- The weekly crew mixtape, made in the member's own Spotify -----

/** A weekly mixtape holds at most this many tracks (one POST /playlists/{id}/items takes 100). */
export const MIXTAPE_MAX_TRACKS = 100;

/** POST /crew/api/mixtape: the week holding `week_of` (default today) in `tz`. */
export const CrewMixtapeRequest = z
  .object({
    week_of: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
      .optional(),
    tz: z.string().max(64).default('UTC'),
    limit: z.number().int().min(1).max(MIXTAPE_MAX_TRACKS).default(50),
  })
  .strict();

/** A track in the mixtape and why it is in. */
export type MixtapeTrack =
  | { readonly uri: string; readonly track: string; readonly artist: string; readonly why: 'shared'; readonly shared_by: string }
  | { readonly uri: string; readonly track: string; readonly artist: string; readonly why: 'played'; readonly plays: number };

export interface CrewMixtape {
  readonly name: string;
  readonly playlist_uri: string;
  readonly url: string | null;
  /** The Monday of the week, YYYY-MM-DD. */
  readonly week_of: string;
  readonly track_count: number;
  /** False when this member's mixtape of that week already existed: the same playlist is answered. */
  readonly created: boolean;
  /** The tracks and why each is in, when the playlist was made by this call. */
  readonly tracks?: readonly MixtapeTrack[];
}
