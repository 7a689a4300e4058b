import type { CrewMessageBody, InboundOf } from '../protocol/index.js';
import { requireCrew, type CoreDeps } from './crews.js';
import type { Acknowledgement } from './feature.js';
import type { Session } from './sessions.js';

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

  private async publish(session: Session, body: CrewMessageBody, clientMsgId: string | undefined): Promise<Acknowledgement> {
    const crew = requireCrew(session);
    const { seq, duplicate } = await this.deps.delivery.publish(
      crew.crewId,
      {
        type: 'message',
        from_device: session.deviceId!,
        from_name: session.displayName,
        timestamp: Date.now(),
        ...(clientMsgId ? { client_msg_id: clientMsgId } : {}),
        ...body,
      },
      { deviceId: session.deviceId!, clientMsgId },
    );
    return { seq, duplicate };
  }
}
