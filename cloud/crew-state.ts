import { ProtocolError, type CrewState } from '../protocol/index.js';
import type { SessionRegistry } from './sessions.js';
import type { CrewStore } from './store/store.js';

/** A crew as `welcome`, `resync` and the crew answers carry it: its record, members and who is online. */
export async function readCrewState(crews: CrewStore, registry: SessionRegistry, crewId: string): Promise<CrewState> {
  const crew = await crews.getCrew(crewId);
  if (!crew) throw new ProtocolError('not_found', 'That crew no longer exists.');
  const members = await crews.listMembers(crewId);
  return {
    crew_id: crew.crewId,
    crew_code: crew.crewCode,
    crew_name: crew.crewName,
    owner_device_id: crew.ownerDeviceId,
    members: members.map((m) => ({
      device_id: m.deviceId,
      display_name: m.displayName,
      online: registry.isOnline(m.deviceId),
      is_owner: m.isOwner,
    })),
    latest_seq: crew.latestSeq,
    epoch: crew.epoch,
    share_history: crew.shareHistory,
  };
}
