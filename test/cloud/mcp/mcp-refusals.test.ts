import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { describe, expect, it } from 'vitest';
import { loadQueue } from '../../../cloud/queue/queue-state.js';
import { playInput } from '../../../cloud/store/areas/history.js';
import { bearer, resultOf, toolError, useMcpRelay, type CrewGadget } from '../../helpers/mcp-crew.js';
import { waitUntil } from '../../helpers/wait-until.js';
import { isType } from '../../helpers/ws-client.js';

/*
 * What the MCP endpoint refuses: a token of one crew reaching into another crew (every tool
 * that takes an id), and bad arguments for every tool — each answered with a readable tool
 * error, nothing stored, and the endpoint answering on.
 */

const mcpRelay = useMcpRelay();
const gadget = mcpRelay.gadget;

async function assistantOf(deviceId: string): Promise<{ client: Client; token: string }> {
  const token = await mcpRelay.issueToken(deviceId);
  return { client: await mcpRelay.assistant(bearer(token)), token };
}

const crewOf = async (g: CrewGadget) => (await mcpRelay.relay.store.crews.getMembership(g.deviceId))!.crewId;
const track = (n: number) => ({
  spotify_uri: `spotify:track:${String(n).padStart(22, 'T')}`,
  track: `Song ${n}`,
  artist: 'Band',
  album: '',
  duration_ms: 200_000,
});

async function share(g: CrewGadget, n: number): Promise<number> {
  const payload = { ...track(n), note: '' };
  delete (payload as { duration_ms?: number }).duration_ms;
  return Number((await g.client.request({ type: 'message', msg_type: 'song_push', client_msg_id: `share-${n}`, payload }, isType('ack'))).seq);
}

/** What a crew holds: its whole log and its queue, to show a refused call stored nothing. */
async function holdings(crewId: string): Promise<string> {
  const [events, queue, crew] = await Promise.all([
    mcpRelay.relay.store.log.readEvents(crewId, 0),
    mcpRelay.relay.store.queue.load(crewId),
    mcpRelay.relay.store.crews.getCrew(crewId),
  ]);
  return JSON.stringify({ events, queue, latest: crew?.latestSeq });
}

describe('a token of another crew', () => {
  it("cannot vote on crew B's queue, react to B's shares or read B's history; nothing is stored in either crew", async () => {
    const ana = await gadget('Ana');
    const al = await gadget('Al', ana.crewCode);
    const bea = await gadget('Bea');
    const ben = await gadget('Ben', bea.crewCode);
    const [crewA, crewB] = [await crewOf(ana), await crewOf(bea)];
    // B's log runs past A's, so B's share seq is no seq of A's: a refusal cannot be A's own event.
    for (let i = 0; i < 6; i++)
      await bea.client.request({ type: 'message', msg_type: 'text', client_msg_id: `t${i}`, payload: { text: `hi ${i}` } }, isType('ack'));
    const shareB = await share(bea, 1);
    await ben.client.request({ type: 'queue_add', ...track(2), client_msg_id: 'add-b' }, isType('ack'));
    await share(al, 3);
    // Each share goes into its crew's queue (a queue_state of its own): settled before the snapshot.
    await ana.client.next(isType('queue_state'));
    await waitUntil(async () => (await loadQueue(mcpRelay.relay.store.queue, crewB))?.state.pending.length === 1, "crew B's queue with both tracks");
    await mcpRelay.relay.store.history.addPlays([
      playInput({ memberId: bea.deviceId, source: 'import_extended', endMs: Date.now() - 60_000, track: 'B only', artist: 'B band', msPlayed: 60_000 }),
    ]);
    const queueB = (await loadQueue(mcpRelay.relay.store.queue, crewB))!.state;
    const itemsB = [queueB.nowPlaying!.id, ...queueB.pending.map((e) => e.id)];
    expect(itemsB).toHaveLength(2);
    const [beforeA, beforeB] = [await holdings(crewA), await holdings(crewB)];
    expect(shareB).toBeGreaterThan(JSON.parse(beforeA).latest as number);

    const { client } = await assistantOf(ana.deviceId);
    const refusals = [
      await client.callTool({ name: 'react_to_share', arguments: { share_seq: shareB, reaction: 'love' } }),
      ...(await Promise.all(itemsB.map((id) => client.callTool({ name: 'queue_vote', arguments: { item_id: id, vote: 'up' } })))),
      await client.callTool({ name: 'queue_vote', arguments: { item_id: itemsB[1]!, vote: 'down' } }),
    ];
    for (const answer of refusals) expect(toolError(answer)).toMatch(/^not_found: .*(share|queue)/);
    expect(await holdings(crewB)).toBe(beforeB);
    expect(await holdings(crewA)).toBe(beforeA);

    // Reads stay inside crew A.
    const shares = resultOf<{ shared_by: string }[]>(await client.callTool({ name: 'crew_shares', arguments: {} }));
    expect(shares.map((s) => s.shared_by)).toEqual(['Al']);
    const queue = resultOf<{ now_playing: { item_id: string } | null; next: { item_id: string }[] }>(
      await client.callTool({ name: 'crew_queue', arguments: {} }),
    );
    expect([queue.now_playing, ...queue.next].map((i) => i?.item_id).filter((id) => itemsB.includes(id!))).toEqual([]);
    const crewTops = resultOf<{ artist: string }[]>(await client.callTool({ name: 'top_artists', arguments: { who: 'crew' } }));
    expect(crewTops.map((a) => a.artist)).not.toContain('B band');
    const like = resultOf<{ member: string }[]>(await client.callTool({ name: 'listens_like_me', arguments: {} }));
    expect(like.map((m) => m.member)).toEqual(['Al']);
    const recap = await client.readResource({ uri: `leeloo://crew/recap/${new Date().toISOString().slice(0, 7)}` });
    expect((recap.contents[0] as { text: string }).text).not.toMatch(/Bea|Ben|B band/);
  });
});

/** One bad call per row: the tool, its arguments, what the error must say. Every tool has rows. */
const BAD_ARGUMENTS: readonly (readonly [string, Record<string, unknown>, RegExp])[] = [
  ['top_tracks', { who: 'everyone' }, /expected one of "me"\|"crew" at who/],
  ['top_tracks', { days: 0 }, />=1 at days/],
  ['top_tracks', { days: 1.5 }, /expected int.* at days/],
  ['top_tracks', { days: '30' }, /expected number.* at days/],
  ['top_tracks', { limit: 51 }, /<=50 at limit/],
  ['top_tracks', { by: 'loudness' }, /at by/],
  ['top_tracks', { day: 7 }, /Unrecognized key: "day"/],
  ['top_artists', { days: 99_999 }, /<=3660 at days/],
  ['top_artists', { limit: 0 }, />=1 at limit/],
  ['listening_heatmap', { time_zone: 'Mars/Olympus' }, /^invalid_message: "Mars\/Olympus" is not a time zone/],
  ['listening_heatmap', { time_zone: 'x'.repeat(65) }, /at time_zone/],
  ['listening_heatmap', { measure: 'volume' }, /at measure/],
  ['on_this_day', { date: '2023-02-29' }, /^invalid_message: "2023-02-29" is not a date/],
  ['on_this_day', { date: 'yesterday' }, /at date/],
  ['on_this_day', { time_zone: 'Atlantis/Capital' }, /^invalid_message: .*time zone/],
  ['taste_summary', { days: -1 }, />=1 at days/],
  ['taste_summary', { time_zone: 'Nowhere/City' }, /^invalid_message: .*time zone/],
  ['crew_shares', { limit: 1000 }, /<=50 at limit/],
  ['crew_shares', { days: null }, /at days/],
  ['listens_like_me', { days: 0 }, />=1 at days/],
  ['crew_queue', { limit: 5 }, /Unrecognized key: "limit"/],
  ['react_to_share', { reaction: 'love' }, /at share_seq/],
  ['react_to_share', { share_seq: -1, reaction: 'love' }, /at share_seq/],
  ['react_to_share', { share_seq: 1, reaction: 'meh' }, /at reaction/],
  ['react_to_share', { share_seq: 2, reaction: 'fire' }, /^not_found: Your crew has no share with seq 2/],
  ['queue_add', { spotify_uri: 'spotify:album:abc', track: 'A', artist: 'B' }, /at spotify_uri/],
  ['queue_add', { spotify_uri: track(9).spotify_uri, artist: 'B' }, /at track/],
  ['queue_add', { spotify_uri: track(9).spotify_uri, track: 'a\u0007b', artist: 'B' }, /control characters at track/],
  ['queue_add', { ...track(9), duration_ms: -5 }, /at duration_ms/],
  ['queue_vote', { item_id: 'nope', vote: 'up' }, /queue item id.* at item_id/],
  ['queue_vote', { item_id: 'q_AAAAAAAAAAAAAAAA', vote: 'up' }, /^not_found: No track q_AAAAAAAAAAAAAAAA in the crew queue/],
  ['queue_vote', { item_id: 'q_AAAAAAAAAAAAAAAA', vote: 'sideways' }, /at vote/],
  ['send_crew_text', { text: '' }, /empty.* at text|at text/],
  ['send_crew_text', { text: '   ' }, /must not be empty at text/],
  ['send_crew_text', { text: 'x'.repeat(4097) }, /at most 4096 characters at text/],
  ['send_crew_text', { text: 'pay\u202eexe.txt' }, /bidirectional override characters at text/],
  ['send_crew_text', {}, /at text/],
  ['search_spotify', {}, /at query/],
  ['search_spotify', { query: '   ' }, /at query/],
  ['search_spotify', { query: 'x'.repeat(201) }, /at query/],
  ['search_spotify', { query: 'air', limit: 11 }, /<=10 at limit/],
  ['search_spotify', { q: 'air' }, /Unrecognized key: "q"/],
  // This relay has no Spotify: a well-formed call is refused with the reason, not a crash.
  ['search_spotify', { query: 'air' }, /^spotify_not_configured: /],
  ['create_weekly_mixtape', { week_of: '2026-02-30' }, /^invalid_message: "2026-02-30" is not a date/],
  ['create_weekly_mixtape', { week_of: 'last week' }, /at week_of/],
  ['create_weekly_mixtape', { time_zone: 'Mars/Olympus' }, /^invalid_message: "Mars\/Olympus" is not a time zone/],
  ['create_weekly_mixtape', { limit: 101 }, /<=100 at limit/],
  ['create_weekly_mixtape', { limit: 0 }, />=1 at limit/],
  ['create_weekly_mixtape', {}, /^spotify_not_configured: /],
];

describe('bad arguments', () => {
  it('every tool answers each bad argument with a readable tool error, stores nothing, and the endpoint goes on', async () => {
    const ana = await gadget('Ana');
    const bo = await gadget('Bo', ana.crewCode);
    await share(bo, 1);
    await ana.client.next(isType('queue_state'));
    const crewId = await crewOf(ana);
    const before = await holdings(crewId);
    const { client } = await assistantOf(ana.deviceId);
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect([...new Set(BAD_ARGUMENTS.map(([name]) => name))].sort()).toEqual([...tools].sort());

    // One token per tool: the rows of all tools at once would outrun a token's rate limit (burst 30).
    for (const tool of tools) {
      const { client: perTool } = await assistantOf(ana.deviceId);
      for (const [name, args, says] of BAD_ARGUMENTS.filter(([name]) => name === tool)) {
        const error = toolError(await perTool.callTool({ name, arguments: args }));
        expect(error ?? 'the call succeeded', `${name} ${JSON.stringify(args).slice(0, 60)}`).toMatch(says);
        expect(error).not.toMatch(/internal/);
      }
    }
    expect(await holdings(crewId)).toBe(before);
    await expect(client.readResource({ uri: 'leeloo://crew/recap/2024-13' })).rejects.toThrow(/YYYY-MM or YYYY/);
    await expect(client.getPrompt({ name: 'plan_tonight', arguments: { mood: 'x'.repeat(201) } })).rejects.toThrow(/mood/);
    expect(toolError(await client.callTool({ name: 'no_such_tool', arguments: {} }))).toMatch(/no_such_tool not found/);
    // Still answering, and the crew unchanged.
    expect(resultOf<{ now_playing: { track: string } }>(await client.callTool({ name: 'crew_queue', arguments: {} })).now_playing.track).toBe('Song 1');
  });

  it('answers broken requests on the wire with an error, not a crash', async () => {
    const ana = await gadget('Ana');
    const { token } = await assistantOf(ana.deviceId);
    const post = (body: string) =>
      fetch(`${mcpRelay.relay.httpUrl}/mcp`, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body,
      });
    const notJson = await post('{"jsonrpc":');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ code: 'invalid_json' });
    const notRpc = await post(JSON.stringify({ hello: 'world' }));
    expect(notRpc.status).toBeGreaterThanOrEqual(400);
    expect(notRpc.status).toBeLessThan(500);
    const argsNotObject = await post(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'crew_queue', arguments: 'nonsense' } }));
    expect(await argsNotObject.json()).toMatchObject({ jsonrpc: '2.0', id: 5, error: { message: expect.stringMatching(/expected record/) } });
    const tooBig = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'send_crew_text', arguments: { text: 'x'.repeat(300_000) } } }),
    );
    expect(tooBig.status).toBe(413);
    const listed = await post(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }));
    expect(listed.status).toBe(200);
    expect(JSON.stringify(await listed.json())).toContain('crew_queue');
  });
});
