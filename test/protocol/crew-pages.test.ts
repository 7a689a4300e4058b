import { describe, expect, it } from 'vitest';
import {
  CrewInviteAcceptRequest,
  CrewQueueAddRequest,
  CrewQueueCommandRequest,
  CrewSettingsRequest,
  CrewSpotifyAppRequest,
  describeIssues,
  HistoryTopQuery,
  McpTokenRequest,
} from '../../protocol/index.js';

/** The crew pages' HTTP API requests (protocol/crew-pages.ts), as the page and API clients send them. */
describe('crew pages API requests', () => {
  it('an added track: what the form leaves empty is absent, a link that is not text is ignored, a bad client_msg_id is dropped', () => {
    const form = CrewQueueAddRequest.parse({ link: 'https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC', track: '', artist: 'Björk', album: '' });
    expect(form).toEqual({ link: 'https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC', artist: 'Björk' });
    expect(CrewQueueAddRequest.parse({ link: 7, spotify_uri: 'spotify:track:x', client_msg_id: 'not valid!' })).toEqual({ spotify_uri: 'spotify:track:x' });
    expect(CrewQueueAddRequest.parse({ client_msg_id: 'web-1', duration_ms: 200_000 })).toEqual({ client_msg_id: 'web-1', duration_ms: 200_000 });
    // What is given must be valid: a title of 201 characters or a duration under a second is refused.
    const long = CrewQueueAddRequest.safeParse({ link: 'spotify:track:4uLU6hMCjMI75M1A2tKUQC', track: 'x'.repeat(201) });
    expect(long.success).toBe(false);
    if (!long.success) expect(describeIssues(long.error)).toBe('track must be at most 200 characters');
    expect(CrewQueueAddRequest.safeParse({ duration_ms: 10 }).success).toBe(false);
  });

  it('a queue command: the socket message without its type, item_id from the path; its client_msg_id must be valid', () => {
    expect(CrewQueueCommandRequest.queue_vote.parse({ item_id: 'q_abcdefgh', vote: 'up', extra: 1 })).toEqual({ item_id: 'q_abcdefgh', vote: 'up' });
    expect(CrewQueueCommandRequest.queue_vote.safeParse({ item_id: 'q_abcdefgh', vote: 7 }).success).toBe(false);
    expect(CrewQueueCommandRequest.queue_remove.safeParse({ item_id: '%zz' }).success).toBe(false);
    expect(CrewQueueCommandRequest.airhorn.parse({})).toEqual({});
    expect(CrewQueueCommandRequest.queue_throwback.safeParse({ enabled: 'yes' }).success).toBe(false);
    expect(CrewQueueCommandRequest.queue_skip.safeParse({ client_msg_id: 'not valid!' }).success).toBe(false);
  });

  it("an invited person's name: trimmed, 1–32 printable characters", () => {
    expect(CrewInviteAcceptRequest.parse({ display_name: '  Mia ', extra: 1 })).toEqual({ display_name: 'Mia' });
    for (const display_name of ['   ', 'x'.repeat(33), 'Mia\u0000', 7]) expect(CrewInviteAcceptRequest.safeParse({ display_name }).success).toBe(false);
  });

  it('crew settings, the crew app and MCP tokens', () => {
    expect(CrewSettingsRequest.parse({ share_history: true, client_msg_id: '' })).toEqual({ share_history: true });
    expect(CrewSettingsRequest.safeParse({ share_history: 'true' }).success).toBe(false);
    expect(CrewSpotifyAppRequest.parse({ client_id: ' crewapp0123456789abcdef ' })).toEqual({ client_id: 'crewapp0123456789abcdef' });
    expect(CrewSpotifyAppRequest.safeParse({ client_id: 'no' }).success).toBe(false);
    expect(McpTokenRequest.parse({})).toEqual({ name: '' });
    expect(McpTokenRequest.safeParse({ name: 'Claude', scope: 'all' }).success).toBe(false);
  });

  it('history queries: defaults, numbers and dates from the query string', () => {
    expect(HistoryTopQuery.parse({})).toEqual({ kind: 'tracks', by: 'plays', limit: 10 });
    expect(HistoryTopQuery.parse({ from: '2024-05-01', to: '1714600000000', limit: '5' })).toMatchObject({
      from: Date.parse('2024-05-01'),
      to: 1_714_600_000_000,
      limit: 5,
    });
    expect(HistoryTopQuery.safeParse({ limit: '101' }).success).toBe(false);
  });
});
