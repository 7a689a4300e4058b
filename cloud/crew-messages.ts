import type { CrewMessageBody, InboundOf } from '../protocol/index.js';
import { requireCrew, type CoreDeps } from './crews.js';
import type { Acknowledgement, CrewEventInput } from './feature.js';
import type { Session } from './sessions.js';

/**
 * The one shape of a crew message a member sends, whatever sent it: a gadget (any
 * generation), the crew page on a phone, or the member's AI assistant (MCP).
 */
export function crewMessageEvent(
  from: { readonly deviceId: string; readonly name: string },
  body: CrewMessageBody,
  clientMsgId: string | undefined,
  timestamp: number,
): CrewEventInput {
  return {
    type: 'message',
    from_device: from.deviceId,
    from_name: from.name,
    timestamp,
    ...(clientMsgId ? { client_msg_id: clientMsgId } : {}),
    ...body,
  } as CrewEventInput;
}

/**
 * Shares, reactions and the other crew messages. Every generation's form becomes one
 * stored `message` event; each member receives it in its own dialect.
 */
export class CrewMessages {
  private readonly deps: CoreDeps;

  constructor(deps: CoreDeps) {
    this.deps = deps;
  }

  async message(session: Session, message: InboundOf<'message'>): Promise<Acknowledgement> {
    return this.publish(session, { msg_type: message.msg_type, payload: message.payload } as CrewMessageBody, message.client_msg_id);
  }

  async shareMusic(session: Session, message: InboundOf<'share_music'>): Promise<Acknowledgement> {
    const payload = {
      artist: message.artist,
      track: message.track,
      album: message.album,
      spotify_uri: message.spotify_uri,
      album_art_url: '',
      note: '',
    };
    return this.publish(session, { msg_type: 'song_push', payload }, message.client_msg_id);
  }

  async reaction(session: Session, message: InboundOf<'reaction'>): Promise<Acknowledgement> {
    return this.publish(session, { msg_type: 'reaction', payload: { reaction: message.reaction_type } }, message.client_msg_id);
  }

  /**
   * Acked once stored (`later`): the socket's next frames are handled while this one is
   * committed, so a gadget sending fast does not wait a commit per message (its messages still
   * take seqs in the order they came; the socket is not read while 8 of them wait).
   */
  private async publish(session: Session, body: CrewMessageBody, clientMsgId: string | undefined): Promise<Acknowledgement> {
    const crew = requireCrew(session);
    const published = this.deps.delivery.publish(
      crew.crewId,
      crewMessageEvent({ deviceId: session.deviceId!, name: session.displayName }, body, clientMsgId, Date.now()),
      { deviceId: session.deviceId!, clientMsgId },
    );
    return { later: published.then(({ seq, duplicate }) => ({ seq, duplicate })) };
  }
}
