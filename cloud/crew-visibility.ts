import { ProtocolError } from '../protocol/index.js';
import type { PublishFrom } from './feature.js';
import type { CrewEventInput, CrewRecord, CrewStore, EventLog, MemberRecord } from './store/store.js';

/**
 * What a member may read of its crew's log: the events from its join on, unless the crew's
 * owner chose to share the crew's history with newcomers. Every reader of crew events for a
 * member (socket resume and older dialects' catch-up, the crew page and its event stream,
 * the history API, MCP) asks this one function; none has a rule of its own.
 */
export function firstVisibleSeq(member: Pick<MemberRecord, 'joinedSeq'>, crew: Pick<CrewRecord, 'shareHistory'>): number {
  return crew.shareHistory ? 1 : member.joinedSeq + 1;
}

/**
 * firstVisibleSeq for a device in a crew, read now (a changed setting counts from the next
 * read). A device that is not a member of that crew sees nothing of it.
 */
export async function visibleFromSeq(crews: Pick<CrewStore, 'getMembership' | 'getCrew'>, deviceId: string, crewId: string): Promise<number> {
  const [member, crew] = await Promise.all([crews.getMembership(deviceId), crews.getCrew(crewId)]);
  if (!member || !crew || member.crewId !== crewId) return Number.MAX_SAFE_INTEGER;
  return firstVisibleSeq(member, crew);
}

/** Only what the rule lets the reader see: events below `fromSeq` are left out. */
export function visibleEvents<E extends { readonly seq: number }>(events: readonly E[], fromSeq: number): E[] {
  return events.filter((e) => e.seq >= fromSeq);
}

/** What changing the setting needs: the store, the relay's publish and who asks. */
export interface ShareHistoryChange {
  readonly crews: Pick<CrewStore, 'setShareHistory'>;
  readonly log: Pick<EventLog, 'handledClientMessage'>;
  publish(crewId: string, event: CrewEventInput, from?: PublishFrom): Promise<{ seq: number; duplicate: boolean }>;
}

/**
 * The owner's "share history with newcomers", from the socket (set_crew_settings) or the crew
 * page: stored, then told to the crew as `crew_settings_changed`. A retried client_msg_id is
 * answered with the first seq and changes nothing, so an old retry cannot undo a later change.
 */
export async function setShareHistory(
  change: ShareHistoryChange,
  crew: { crewId: string; isOwner: boolean },
  share: boolean,
  by: { deviceId: string; clientMsgId?: string },
): Promise<{ seq: number; duplicate: boolean }> {
  if (!crew.isOwner) throw new ProtocolError('not_owner', 'Only the crew owner may choose whether newcomers see the crew’s history.');
  const seen = by.clientMsgId ? await change.log.handledClientMessage(by.deviceId, by.clientMsgId) : null;
  if (seen) return { seq: seen.seq, duplicate: true };
  await change.crews.setShareHistory(crew.crewId, share);
  return change.publish(crew.crewId, { type: 'crew_settings_changed', share_history: share }, by);
}
