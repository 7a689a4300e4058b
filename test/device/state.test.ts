import { describe, expect, it } from 'vitest';
import type { OutboundMessage } from '../../protocol/index.js';
import { applyEvent, applyOwnMessage, initialState, latestShare, unreadCounts, withCrew, type DeviceState } from '../../device/state.js';

const crew = {
  crew_code: 'LEELOO-7KQ2',
  crew_name: 'Friday',
  owner_device_id: 'me',
  latest_seq: 0,
  members: [
    { device_id: 'me', display_name: 'Kitchen', online: true, is_owner: true },
    { device_id: 'ana', display_name: 'Ana', online: true, is_owner: false },
  ],
};

function start(): DeviceState {
  return withCrew({ ...initialState('Kitchen', 'ws://relay/ws'), deviceId: 'me' }, crew);
}

const msg = (seq: number, from: string, body: Record<string, unknown>, clientMsgId?: string) =>
  ({
    type: 'message',
    from_device: from,
    from_name: from === 'me' ? 'Kitchen' : 'Ana',
    timestamp: 1,
    seq,
    ...(clientMsgId ? { client_msg_id: clientMsgId } : {}),
    ...body,
  }) as OutboundMessage;
const song = (track: string) => ({
  msg_type: 'song_push',
  payload: { artist: 'A', track, album: '', spotify_uri: 'spotify:track:abc', album_art_url: '', note: '' },
});

describe('device state', () => {
  it('tracks presence, renames and departures', () => {
    let s = applyEvent(start(), { type: 'member_joined', device_id: 'bo', display_name: 'Bo', seq: 1 });
    s = applyEvent(s, { type: 'member_offline', device_id: 'ana', display_name: 'Ana', seq: 2 });
    s = applyEvent(s, { type: 'member_renamed', device_id: 'bo', display_name: 'Bobby', seq: 3 });
    expect(s.crew!.members.map((m) => `${m.name}:${m.online}`)).toEqual(['Kitchen:true', 'Ana:false', 'Bobby:true']);
    s = applyEvent(s, { type: 'member_left', device_id: 'ana', display_name: 'Ana', removed: false, seq: 4 });
    expect(s.crew!.members.map((m) => m.deviceId)).toEqual(['me', 'bo']);
    s = applyEvent(s, { type: 'crew_code_changed', old_crew_code: 'LEELOO-7KQ2', new_crew_code: 'LEELOO-ABCD', seq: 5 });
    expect(s.crew!.code).toBe('LEELOO-ABCD');
  });

  it("attaches reactions to the share of the device they were meant for, and flashes only others' reactions", () => {
    let s = applyEvent(start(), msg(1, 'ana', song('first')));
    s = applyOwnMessage(s, 'mine-1', msg(0, 'me', song('mine')) as Extract<OutboundMessage, { type: 'message' }>);
    s = applyEvent(s, msg(2, 'ana', { msg_type: 'reaction', payload: { reaction: 'fire', to_device: 'me' } }));
    const mine = s.feed.find((i) => i.key === 'msg:mine-1');
    expect(mine?.kind === 'share' && mine.reactions).toEqual([{ reaction: 'fire', fromName: 'Ana', fromDevice: 'ana', key: 'seq:2' }]);
    expect(s.flash).toMatchObject({ reaction: 'fire', fromName: 'Ana' });
    expect(latestShare(s)?.share.track).toBe('mine');
  });

  it('shows a message once even when the relay echoes one this device already shows', () => {
    let s = applyOwnMessage(start(), 'abc', msg(0, 'me', song('x')) as Extract<OutboundMessage, { type: 'message' }>);
    s = applyEvent(s, msg(7, 'me', song('x'), 'abc'));
    expect(s.feed).toHaveLength(1);
  });

  it('counts unread items per sender and ignores a reaction with no share to land on', () => {
    let s = applyEvent(start(), msg(1, 'ana', { msg_type: 'reaction', payload: { reaction: 'love' } }));
    expect(s.feed).toHaveLength(0);
    s = applyEvent(s, msg(2, 'ana', { msg_type: 'text', payload: { text: 'hi' } }));
    s = applyEvent(s, msg(3, 'ana', { msg_type: 'nudge', payload: {} }));
    expect(unreadCounts(s).get('ana')).toBe(2);
    expect(unreadCounts(s).get('me')).toBeUndefined();
  });
});
