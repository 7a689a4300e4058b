/**
 * The frames the field gadgets send, byte for byte as their Python code builds them
 * (squid-baby/Leeloo_Ui: leeloo_client.py for the second generation, the fleet relay's
 * register/share_music/reaction for the first, spotify_auth.py). Python's `json.dumps`
 * writes `", "` and `": "` between items and escapes every non-ASCII character, and the
 * client sends `self.config.device_id or None`: an empty saved id goes out as null.
 * Written from reading that code; none of it is copied.
 */

type Py = string | number | boolean | null | Py[] | { [key: string]: Py };

function pyString(text: string): string {
  // JSON.stringify escapes quotes, backslashes and control characters as Python does;
  // json.dumps(ensure_ascii=True) also writes everything past 0x7f as \uXXXX.
  return JSON.stringify(text).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `json.dumps(value)` with Python's default separators and ensure_ascii. */
export function pythonJson(value: Py): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return pyString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  return `{${Object.entries(value)
    .map(([k, v]) => `${pyString(k)}: ${pythonJson(v)}`)
    .join(', ')}}`;
}

/** `self.config.device_id or None`. */
const orNone = (id: string): string | null => (id === '' ? null : id);

/** Second generation (leeloo_client.py). */
export const gen2 = {
  /** create_crew: the saved code is added only when the gadget has one (from its captive-portal setup). */
  createCrew: (savedDeviceId: string, displayName: string, savedCrewCode = ''): string =>
    pythonJson({
      type: 'create_crew',
      device_id: orNone(savedDeviceId),
      display_name: displayName,
      ...(savedCrewCode ? { crew_code: savedCrewCode } : {}),
    }),
  joinCrew: (crewCode: string, savedDeviceId: string, displayName: string): string =>
    pythonJson({ type: 'join_crew', crew_code: crewCode, device_id: orNone(savedDeviceId), display_name: displayName }),
  text: (text: string): string => pythonJson({ type: 'message', msg_type: 'text', payload: { text } }),
  /** send_reaction(reaction_type, to_device=None): the brain never passes to_device. */
  reaction: (reaction: string, toDevice: string | null = null): string =>
    pythonJson({ type: 'message', msg_type: 'reaction', payload: { reaction, to_device: toDevice } }),
  pushSong: (spotifyUri: string, artist = '', track = '', album = '', albumArtUrl = '', note = ''): string =>
    pythonJson({
      type: 'message',
      msg_type: 'song_push',
      payload: { artist, track, album, spotify_uri: spotifyUri, album_art_url: albumArtUrl, note },
    }),
  nudge: (): string => pythonJson({ type: 'message', msg_type: 'nudge', payload: {} }),
  hangPropose: (datetime: string, description = ''): string => pythonJson({ type: 'message', msg_type: 'hang_propose', payload: { datetime, description } }),
  hangConfirm: (): string => pythonJson({ type: 'message', msg_type: 'hang_confirm', payload: {} }),
  ping: (): string => pythonJson({ type: 'ping' }),
};

/** The tracks of the shares among frames a gadget received, in either older dialect. */
export function sharedTracks(frames: readonly Record<string, unknown>[]): string[] {
  return frames
    .filter((f) => f.type === 'music_shared' || f.msg_type === 'song_push')
    .map((f) => String(f.track ?? (f.payload as { track?: string } | undefined)?.track));
}

/** First generation (the fleet relay's first server.js), and the Spotify sign-in script's register. */
export const gen1 = {
  register: (fields: { device_id?: string; crew_code?: string; device_name?: string }): string => pythonJson({ type: 'register', ...fields }),
  shareMusic: (spotifyUri: string, artist: string, track: string, album: string): string =>
    pythonJson({ type: 'share_music', spotify_uri: spotifyUri, artist, track, album }),
  reaction: (reactionType: string): string => pythonJson({ type: 'reaction', reaction_type: reactionType }),
  ping: (): string => pythonJson({ type: 'ping' }),
};
