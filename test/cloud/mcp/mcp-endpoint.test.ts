import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { describe, expect, it } from 'vitest';
import { playInput } from '../../../cloud/store/areas/history.js';
import { bearer, MCP_ADMIN_TOKEN, resultOf, useMcpRelay } from '../../helpers/mcp-crew.js';
import { isType } from '../../helpers/ws-client.js';

const admin = bearer(MCP_ADMIN_TOKEN);

describe('the MCP endpoint', () => {
  const mcpRelay = useMcpRelay();
  const gadget = mcpRelay.gadget;
  const issue = (deviceId: string) => mcpRelay.issueToken(deviceId);
  const mcp = (token: string): Promise<Client> => mcpRelay.assistant(bearer(token));

  it('lists the tools and answers top tracks from the member’s plays, and the crew’s', async () => {
    const ana = await gadget('Ana');
    const bo = await gadget('Bo', ana.crewCode);
    const now = Date.now();
    const play = (memberId: string, track: string, ago: number) =>
      playInput({ memberId, source: 'import_extended', endMs: now - ago, track, artist: 'Artist', msPlayed: 60_000, trackUri: `spotify:track:${track}` });
    await mcpRelay.relay.store.history.addPlays([
      play(ana.deviceId, 'One', 1000),
      play(ana.deviceId, 'One', 2000),
      play(ana.deviceId, 'Two', 3000),
      play(bo.deviceId, 'Two', 4000),
      play(bo.deviceId, 'Two', 5000),
    ]);
    const client = await mcp(await issue(ana.deviceId));
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['top_tracks', 'top_artists', 'listening_heatmap', 'on_this_day', 'send_crew_text']));
    const mine = resultOf(await client.callTool({ name: 'top_tracks', arguments: { who: 'me', days: 7 } })) as { track: string; plays: number }[];
    expect(mine.map((t) => [t.track, t.plays])).toEqual([
      ['One', 2],
      ['Two', 1],
    ]);
    const crew = resultOf(await client.callTool({ name: 'top_tracks', arguments: { who: 'crew', days: 7 } })) as { track: string; plays: number }[];
    expect(crew.map((t) => [t.track, t.plays])).toEqual([
      ['Two', 3],
      ['One', 2],
    ]);
    const heat = resultOf(await client.callTool({ name: 'listening_heatmap', arguments: { who: 'me' } })) as { cells: number[][] };
    expect(heat.cells.flat().reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('summarises taste, ranks who listens like me, and shows shares with reactions; a reaction reaches the sharer', async () => {
    const ana = await gadget('Ana');
    const bo = await gadget('Bo', ana.crewCode);
    const cy = await gadget('Cy', ana.crewCode);
    const now = Date.now();
    const play = (memberId: string, artist: string, track: string, ago: number) =>
      playInput({ memberId, source: 'import_extended', endMs: now - ago, track, artist, msPlayed: 1_800_000, trackUri: `spotify:track:${track}` });
    await mcpRelay.relay.store.history.addPlays([
      play(ana.deviceId, 'Björk', 'Joga', 1000),
      play(ana.deviceId, 'Björk', 'Joga', 2000),
      play(ana.deviceId, 'Air', 'Kelly', 3000),
      play(bo.deviceId, 'Björk', 'Hunter', 4000),
      play(bo.deviceId, 'Air', 'Kelly', 5000),
      play(cy.deviceId, 'Metallica', 'One', 6000),
    ]);
    const client = await mcp(await issue(ana.deviceId));
    const summary = resultOf(await client.callTool({ name: 'taste_summary', arguments: {} })) as Record<string, unknown>;
    expect(summary).toMatchObject({ plays: 3, listening_hours: 1.5, distinct_tracks: 2, repeat_rate: 0.333, coverage: { plays_stored: 3 } });
    const like = resultOf(await client.callTool({ name: 'listens_like_me', arguments: {} })) as { member: string; overlap: number }[];
    expect(like.map((m) => [m.member, m.overlap])).toEqual([
      ['Bo', 1],
      ['Cy', 0],
    ]);

    const shared = await bo.client.request(
      {
        type: 'message',
        msg_type: 'song_push',
        client_msg_id: 'share-1',
        payload: { artist: 'Air', track: 'Kelly', album: '', spotify_uri: 'spotify:track:kelly', note: 'for tonight' },
      },
      isType('ack'),
    );
    const reacted = resultOf(await client.callTool({ name: 'react_to_share', arguments: { share_seq: shared.seq, reaction: 'fire' } })) as { seq: number };
    expect(await bo.client.next(isType('message', { msg_type: 'reaction' }))).toMatchObject({
      from_device: ana.deviceId,
      payload: { reaction: 'fire', to_device: bo.deviceId },
      seq: reacted.seq,
    });
    const shares = resultOf(await client.callTool({ name: 'crew_shares', arguments: {} })) as unknown[];
    expect(shares).toEqual([
      expect.objectContaining({ seq: shared.seq, shared_by: 'Bo', track: 'Kelly', note: 'for tonight', reactions: [{ from: 'Ana', reaction: 'fire' }] }),
    ]);
    const missing = (await client.callTool({ name: 'react_to_share', arguments: { share_seq: 9999, reaction: 'love' } })) as {
      isError?: boolean;
      content: { text: string }[];
    };
    expect(missing).toMatchObject({ isError: true });
    expect(missing.content[0]!.text).toMatch(/^not_found/);
    // A share goes into the crew queue too (the queue feature's rule): the queue tool shows it.
    expect(resultOf(await client.callTool({ name: 'crew_queue', arguments: {} }))).toMatchObject({
      now_playing: { track: 'Kelly', added_by: 'Bo', score: 0 },
      next: [],
    });
  });

  it('adds to the crew queue and votes through the queue’s own path: the gadgets see the queue change', async () => {
    const ana = await gadget('Ana');
    const bo = await gadget('Bo', ana.crewCode);
    const client = await mcp(await issue(bo.deviceId));
    const added = resultOf(
      await client.callTool({
        name: 'queue_add',
        arguments: { spotify_uri: 'spotify:track:abc123', track: 'Kelly', artist: 'Air', album: '', duration_ms: 200_000 },
      }),
    ) as { seq: number; duplicate: boolean };
    expect(added.duplicate).toBe(false);
    const state = await ana.client.next(isType('queue_state', { seq: added.seq }));
    expect(JSON.stringify(state)).toContain('Kelly');
    const now = resultOf(await client.callTool({ name: 'crew_queue', arguments: {} })) as {
      now_playing: { item_id: string; track: string; added_by: string } | null;
      next: { item_id: string }[];
    };
    const item = now.now_playing ?? (now.next[0] as { item_id: string; track: string; added_by: string });
    expect(item).toMatchObject({ track: 'Kelly', added_by: 'Bo' });
    const voted = resultOf(await client.callTool({ name: 'queue_vote', arguments: { item_id: item.item_id, vote: 'up' } })) as { seq: number };
    await ana.client.next(isType('queue_state', { seq: voted.seq }));
    const bad = (await client.callTool({ name: 'queue_add', arguments: { spotify_uri: 'spotify:album:x', track: 'K', artist: 'A' } })) as { isError?: boolean };
    expect(bad.isError).toBe(true);
  });

  it('serves the crew recap as a resource and the plan-tonight prompt', async () => {
    const ana = await gadget('Ana');
    const month = new Date().toISOString().slice(0, 7);
    await mcpRelay.relay.store.history.addPlays([
      playInput({ memberId: ana.deviceId, source: 'import_extended', endMs: Date.now() - 1000, track: 'Joga', artist: 'Björk', msPlayed: 60_000 }),
    ]);
    const client = await mcp(await issue(ana.deviceId));
    const read = await client.readResource({ uri: `leeloo://crew/recap/${month}` });
    const recap = JSON.parse((read.contents[0] as { text: string }).text) as { top_artists: { artist: string; plays: number }[] };
    expect(recap.top_artists).toEqual([{ artist: 'Björk', plays: 1, ms_played: 60_000 }]);
    await expect(client.readResource({ uri: 'leeloo://crew/recap/2024-13' })).rejects.toThrow(/YYYY-MM/);
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    expect(prompts).toContain('plan_tonight');
    const prompt = await client.getPrompt({ name: 'plan_tonight', arguments: { mood: 'rainy' } });
    expect(JSON.stringify(prompt.messages)).toContain('rainy');
  });

  it('answers bad arguments with an error, not a crash', async () => {
    const ana = await gadget('Ana');
    const client = await mcp(await issue(ana.deviceId));
    const bad = (await client.callTool({ name: 'top_tracks', arguments: { who: 'everyone', days: -3 } })) as { isError?: boolean; content: { text: string }[] };
    expect(bad.isError).toBe(true);
    expect(bad.content[0]!.text).toMatch(/who|days/);
    const zone = (await client.callTool({ name: 'listening_heatmap', arguments: { time_zone: 'Mars/Olympus' } })) as {
      isError?: boolean;
      content: { text: string }[];
    };
    expect(zone.isError).toBe(true);
    // The server still answers afterwards.
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it('sends a text the crew’s gadgets receive, in the member’s name, and only to its own crew', async () => {
    const ana = await gadget('Ana');
    const bo = await gadget('Bo', ana.crewCode);
    const other = await gadget('Cy');
    const client = await mcp(await issue(ana.deviceId));
    const sent = resultOf(await client.callTool({ name: 'send_crew_text', arguments: { text: 'tonight at 8?' } })) as { seq: number };
    const heard = await bo.client.next(isType('message'));
    expect(heard).toMatchObject({ from_device: ana.deviceId, from_name: 'Ana', msg_type: 'text', payload: { text: 'tonight at 8?' }, seq: sent.seq });
    const events = await mcpRelay.relay.store.log.readEvents((await mcpRelay.relay.store.crews.getMembership(other.deviceId))!.crewId, 0);
    expect(events.some((e) => e.event.type === 'message')).toBe(false);
  });

  it('refuses a missing, unknown or revoked token with 401', async () => {
    const ana = await gadget('Ana');
    const token = await issue(ana.deviceId);
    const post = (auth?: string) =>
      fetch(`${mcpRelay.relay.httpUrl}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
    expect((await post()).status).toBe(401);
    expect((await post('Bearer not-a-token')).status).toBe(401);
    await mcp(token);
    const revoked = await fetch(`${mcpRelay.relay.httpUrl}/admin/devices/${ana.deviceId}/mcp-token`, { method: 'DELETE', headers: admin });
    expect(await revoked.json()).toEqual({ revoked: 1 });
    const refused = await post(`Bearer ${token}`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'unauthorized' });
    await expect(mcp(token)).rejects.toThrow();
  });

  it('the admin route refuses without the admin token and for a device in no crew', async () => {
    expect((await fetch(`${mcpRelay.relay.httpUrl}/admin/devices/x/mcp-token`, { method: 'POST' })).status).toBe(401);
    const res = await fetch(`${mcpRelay.relay.httpUrl}/admin/devices/nobody/mcp-token`, { method: 'POST', headers: admin });
    expect(res.status).toBe(404);
  });
});
