import { z } from 'zod';
import { MessagePayloads, SongPush, spotifyTrackUriFrom } from '../protocol/index.js';
import type { DeviceState } from './state.js';

/*
 * The simulator panel of the mirror page: share a track and send a message without
 * Spotify. It is a simulator control like the page's buttons, not a product screen.
 * The sim display reaches the gadget only through SimActions.
 */

/** What the simulator panel may ask of the gadget. */
export interface SimActions {
  /** Shares a track with the crew exactly as the share button does (durable outbox); resolves with the client_msg_id. */
  shareTrack(track: SongPush): Promise<string>;
  /** Sends a text message to the crew; resolves with the client_msg_id. */
  sendText(text: string): Promise<string>;
  /** True while the gadget is connected to the relay (otherwise the message waits in the outbox). */
  online(): boolean;
}

/** The controller's share and message paths, and nothing else of it. */
export function simActionsFor(controller: {
  shareTrack(track: SongPush): Promise<string>;
  sendText(text: string): Promise<string>;
  readonly state: DeviceState;
}): SimActions {
  return {
    shareTrack: (track) => controller.shareTrack(track),
    sendText: (text) => controller.sendText(text),
    online: () => controller.state.connection.status === 'online',
  };
}

export interface SampleTrack {
  readonly artist: string;
  readonly track: string;
  readonly album: string;
  readonly spotify_uri: string;
}

/** Well-known tracks, so the quick start can share something without a Spotify account. */
export const SAMPLE_TRACKS: readonly SampleTrack[] = [
  { artist: 'The Killers', track: 'Mr. Brightside', album: 'Hot Fuss', spotify_uri: 'spotify:track:003vvx7Niy0yvhvHt4a68B' },
  { artist: 'Queen', track: 'Bohemian Rhapsody', album: 'A Night At The Opera', spotify_uri: 'spotify:track:4u7EnebtmKWzUH433cf5Qv' },
  { artist: 'Toto', track: 'Africa', album: 'Toto IV', spotify_uri: 'spotify:track:2374M0fQpWi3dLnB54qaLX' },
  { artist: 'a-ha', track: 'Take On Me', album: 'Hunting High and Low', spotify_uri: 'spotify:track:2WfaOiMkCvy7F5fcp2zZ8L' },
  { artist: 'Fleetwood Mac', track: 'Dreams', album: 'Rumours', spotify_uri: 'spotify:track:0ofHAoxe9vBkTCp2UQIavz' },
];

const RequestId = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1–40 letters, digits, "_" or "-"');

/** `{type:'share_track', request_id, track:{link, artist, track, album}}`: link is a Spotify track link or URI. */
export const ShareTrackRequest = z.object({
  type: z.literal('share_track'),
  request_id: RequestId,
  track: z.object({
    link: z.string().max(500),
    artist: z.string().max(1000),
    track: z.string().max(1000),
    album: z.string().max(1000).default(''),
  }),
});

/** `{type:'send_text', request_id, text}`. */
export const SendTextRequest = z.object({
  type: z.literal('send_text'),
  request_id: RequestId,
  text: z.string().max(2000),
});

export const PanelRequest = z.discriminatedUnion('type', [ShareTrackRequest, SendTextRequest]);
export type PanelRequest = z.infer<typeof PanelRequest>;

/** Codes of the panel's error replies; the page shows the sentence beside the form. */
export type PanelErrorCode = 'invalid_message' | 'invalid_link' | 'invalid_track' | 'invalid_text' | 'unavailable' | 'not_saved';

export interface PanelErrorReply {
  readonly type: 'error';
  readonly request_id?: string;
  readonly code: PanelErrorCode;
  readonly message: string;
}

export type PanelReply =
  | { type: 'done'; request_id: string; action: PanelRequest['type']; client_msg_id: string; queued: boolean; summary: string }
  | PanelErrorReply;

export function panelError(code: PanelErrorCode, message: string, requestId?: string): PanelErrorReply {
  return requestId === undefined ? { type: 'error', code, message } : { type: 'error', request_id: requestId, code, message };
}

/** Checks a panel request against the protocol's own schemas and hands it to the gadget. */
export async function runPanelRequest(actions: SimActions | null, request: PanelRequest): Promise<PanelReply> {
  const id = request.request_id;
  if (!actions) return panelError('unavailable', 'This simulated display is not connected to a gadget.', id);
  const checked = request.type === 'share_track' ? checkShare(request) : checkText(request);
  if ('code' in checked) return panelError(checked.code, checked.message, id);
  try {
    const clientMsgId = 'song' in checked ? await actions.shareTrack(checked.song) : await actions.sendText(checked.text);
    const summary = 'song' in checked ? `“${checked.song.track}” by ${checked.song.artist}` : 'Your message';
    return { type: 'done', request_id: id, action: request.type, client_msg_id: clientMsgId, queued: !actions.online(), summary };
  } catch (error) {
    return panelError('not_saved', `The gadget could not save it (${(error as Error).message}); try again.`, id);
  }
}

type Checked<T> = T | { code: PanelErrorCode; message: string };

function checkShare(request: z.infer<typeof ShareTrackRequest>): Checked<{ song: SongPush }> {
  const uri = spotifyTrackUriFrom(request.track.link);
  if (!uri) {
    return { code: 'invalid_link', message: 'Paste a Spotify track link (https://open.spotify.com/track/…) or URI (spotify:track:…).' };
  }
  const song = SongPush.safeParse({
    artist: request.track.artist,
    track: request.track.track,
    album: request.track.album,
    spotify_uri: uri,
    album_art_url: '',
    note: '',
  });
  return song.success ? { song: song.data } : { code: 'invalid_track', message: firstIssue(song.error) };
}

function checkText(request: z.infer<typeof SendTextRequest>): Checked<{ text: string }> {
  const text = MessagePayloads.text.safeParse({ text: request.text });
  return text.success ? { text: text.data.text } : { code: 'invalid_text', message: firstIssue(text.error) };
}

/** "track must be at most 200 characters": the field as the panel names it, then zod's sentence. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'The request is not valid.';
  const where = issue.path.map(String).join('.');
  const field = where === 'track' ? 'title' : where;
  return field ? `${field} ${issue.message}` : issue.message;
}
