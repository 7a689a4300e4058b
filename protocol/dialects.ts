import { isReaction, type Generation } from './common.js';
import type { CrewEvent, OutboundMessage } from './messages.js';

/**
 * Renders a stored crew event in the dialect of a connection's generation, or returns
 * null when that generation has no way to show it (first-generation gadgets know only
 * shares and reactions). The older dialects never carry `seq` or `crew_code`: field
 * gadgets get exactly the frames they were built for. A reaction word the current protocol has
 * no kind for (`haha`, `wave`) reaches the older generations only.
 */
export function renderEvent(event: CrewEvent, generation: Generation): OutboundMessage | null {
  if (generation === 3) {
    return event.type === 'message' && event.msg_type === 'reaction' && !isReaction(event.payload.reaction) ? null : event;
  }
  const { seq: _seq, crew_code: _crew, ...legacy } = event;
  if (generation === 2) {
    if (legacy.type === 'message') {
      const { client_msg_id: _id, ...rest } = legacy;
      return rest;
    }
    if (legacy.type === 'member_joined' || legacy.type === 'member_offline') return legacy;
    return null;
  }
  if (event.type !== 'message') return null;
  if (event.msg_type === 'song_push') {
    return {
      type: 'music_shared',
      spotify_uri: event.payload.spotify_uri,
      artist: event.payload.artist,
      track: event.payload.track,
      album: event.payload.album,
      pushed_by: event.from_name,
      timestamp: event.timestamp,
    };
  }
  if (event.msg_type === 'reaction') {
    return { type: 'reaction', reaction_type: event.payload.reaction, from: event.from_name, timestamp: event.timestamp };
  }
  return null;
}
