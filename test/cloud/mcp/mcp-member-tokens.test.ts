import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createLogger } from '../../../cloud/log.js';
import { hashToken, MAX_TOKENS_PER_MEMBER } from '../../../cloud/mcp/mcp-tokens.js';
import { bearer, crewCookie, crewGadget, MCP_ADMIN_TOKEN, resultOf, startMcpRelay, useMcpRelay } from '../../helpers/mcp-crew.js';
import { expectVolleyLimited } from '../../helpers/rate-limit-volley.js';
import { isType } from '../../helpers/ws-client.js';

/*
 * A member's own MCP tokens through the crew pages' API (behind the member link and its rate
 * limit): made with the token shown once, listed without secrets, used by the SDK's client,
 * revoked; one member cannot touch another's; bad input answered with stable codes.
 */

const logged: Record<string, unknown>[] = [];
const mcpRelay = useMcpRelay({}, createLogger('info', { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) }));

interface Made {
  token: string;
  token_id: string;
  name: string;
  created_at: number;
  last_used_at: null;
  mcp_url: string;
  authorization: string;
  client_config: { mcpServers: { leeloo: { type: string; url: string; headers: Record<string, string> } } };
  claude_code: string;
}
interface Listed {
  mcp_url: string;
  max_tokens: number;
  tokens: { token_id: string; name: string; created_at: number; last_used_at: number | null }[];
}

function tokensApi(cookie: string) {
  const call = async (method: string, path = '', body?: string, type = 'application/json') => {
    const res = await fetch(`${mcpRelay.relay.httpUrl}/crew/api/mcp-tokens${path}`, {
      method,
      headers: { cookie, ...(body !== undefined ? { 'content-type': type } : {}) },
      body,
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
  };
  return {
    call,
    make: async (name = '') => {
      const made = await call('POST', '', JSON.stringify({ name }));
      expect(made.status).toBe(201);
      return made.body as unknown as Made;
    },
    list: async () => (await call('GET')).body as unknown as Listed,
  };
}

function assistant(made: Made): Promise<Client> {
  const { url, headers } = made.client_config.mcpServers.leeloo;
  return mcpRelay.assistant(headers, url);
}

const mcpStatus = async (token: string) =>
  (
    await fetch(`${mcpRelay.relay.httpUrl}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...bearer(token) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
  ).status;

describe("a member's MCP tokens on the crew pages", () => {
  it('makes a token shown once with the /mcp URL and a client config, lists it without its secret, uses it and revokes it', async () => {
    const ana = await mcpRelay.gadget('Ana');
    const bo = await mcpRelay.gadget('Bo', ana.crewCode);
    const api = tokensApi(await crewCookie(mcpRelay.relay.httpUrl, ana.client));
    expect(await api.list()).toEqual({ mcp_url: `${mcpRelay.relay.httpUrl}/mcp`, max_tokens: MAX_TOKENS_PER_MEMBER, tokens: [] });

    const made = await api.make('laptop');
    expect(made).toMatchObject({ name: 'laptop', mcp_url: `${mcpRelay.relay.httpUrl}/mcp`, authorization: `Bearer ${made.token}`, last_used_at: null });
    expect(made.client_config.mcpServers.leeloo).toEqual({
      type: 'http',
      url: `${mcpRelay.relay.httpUrl}/mcp`,
      headers: { Authorization: `Bearer ${made.token}` },
    });
    expect(made.claude_code).toBe(`claude mcp add --transport http leeloo ${mcpRelay.relay.httpUrl}/mcp --header "Authorization: Bearer ${made.token}"`);
    // Stored hashed: the store holds the SHA-256, never the token.
    expect((await mcpRelay.relay.store.mcp.findToken(hashToken(made.token)))?.deviceId).toBe(ana.deviceId);

    const listed = await api.list();
    expect(listed.tokens).toEqual([{ token_id: made.token_id, name: 'laptop', created_at: made.created_at, last_used_at: null }]);
    expect(JSON.stringify(listed)).not.toContain(made.token);
    expect(JSON.stringify(listed)).not.toContain(hashToken(made.token));

    const client = await assistant(made);
    const sent = resultOf<{ seq: number }>(await client.callTool({ name: 'send_crew_text', arguments: { text: 'made on my crew page' } }));
    expect(await bo.client.next(isType('message', { seq: sent.seq }))).toMatchObject({ from_device: ana.deviceId, payload: { text: 'made on my crew page' } });
    const used = (await api.list()).tokens[0]!;
    expect(used.last_used_at).toBeGreaterThanOrEqual(made.created_at);

    expect(await api.call('DELETE', `/${made.token_id}`)).toMatchObject({ status: 200, body: { revoked: made.token_id } });
    expect((await api.list()).tokens).toEqual([]);
    expect(await mcpStatus(made.token)).toBe(401);
    await expect(client.callTool({ name: 'crew_queue', arguments: {} })).rejects.toThrow();
    expect(await api.call('DELETE', `/${made.token_id}`)).toMatchObject({ status: 404, body: { code: 'not_found' } });
    // Logged with its id, never the token.
    expect(logged.filter((l) => l.tokenId === made.token_id).map((l) => l.msg)).toEqual(['mcp token issued', 'mcp token revoked']);
    expect(JSON.stringify(logged)).not.toContain(made.token);
  });

  it('shows a member only their own tokens; another member of the crew cannot revoke them', async () => {
    const ana = await mcpRelay.gadget('Ana');
    const bo = await mcpRelay.gadget('Bo', ana.crewCode);
    const anas = tokensApi(await crewCookie(mcpRelay.relay.httpUrl, ana.client));
    const bos = tokensApi(await crewCookie(mcpRelay.relay.httpUrl, bo.client));
    const mine = await anas.make('phone');
    const his = await bos.make();
    expect((await bos.list()).tokens.map((t) => t.token_id)).toEqual([his.token_id]);
    expect(await bos.call('DELETE', `/${mine.token_id}`)).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect((await anas.list()).tokens.map((t) => t.token_id)).toEqual([mine.token_id]);
    expect(await mcpStatus(mine.token)).toBe(200);
    // The operator's token is listed too, and the operator's revoke ends all of a member's tokens.
    const issued = await fetch(`${mcpRelay.relay.httpUrl}/admin/devices/${ana.deviceId}/mcp-token`, { method: 'POST', headers: bearer(MCP_ADMIN_TOKEN) });
    expect(issued.status).toBe(201);
    expect((await anas.list()).tokens.map((t) => t.name).sort()).toEqual(['issued by the operator', 'phone']);
    const revoked = await fetch(`${mcpRelay.relay.httpUrl}/admin/devices/${ana.deviceId}/mcp-token`, { method: 'DELETE', headers: bearer(MCP_ADMIN_TOKEN) });
    expect(await revoked.json()).toEqual({ revoked: 2 });
    expect((await anas.list()).tokens).toEqual([]);
    expect(await mcpStatus(his.token)).toBe(200);
  });

  it('answers bad input with stable codes and stores nothing', async () => {
    const ana = await mcpRelay.gadget('Ana');
    const api = tokensApi(await crewCookie(mcpRelay.relay.httpUrl, ana.client));
    const refused = [
      [await api.call('POST', '', JSON.stringify({ name: 'x'.repeat(41) })), 400, 'invalid_message', /at most 40/],
      [await api.call('POST', '', JSON.stringify({ name: 'evil\u202eexe' })), 400, 'invalid_message', /bidirectional/],
      [await api.call('POST', '', JSON.stringify({ name: 'a', admin: true })), 400, 'invalid_message', /admin/],
      [await api.call('POST', '', JSON.stringify({ name: 7 })), 400, 'invalid_message', /name/],
      [await api.call('POST', '', '{"name":'), 400, 'invalid_json', /JSON/],
      [await api.call('POST', '', JSON.stringify(['a'])), 400, 'invalid_message', /object/],
      [await api.call('DELETE', '/not-an-id'), 404, 'not_found', /no MCP token/],
      [await api.call('DELETE', `/${'0'.repeat(16)}`), 404, 'not_found', /no MCP token/],
    ] as const;
    for (const [answer, status, code, message] of refused) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(status);
      expect(answer.body.code).toBe(code);
      expect(String(answer.body.message)).toMatch(message);
    }
    expect((await api.list()).tokens).toEqual([]);
    const noLink = await fetch(`${mcpRelay.relay.httpUrl}/crew/api/mcp-tokens`, { method: 'POST' });
    expect(noLink.status).toBe(401);
    expect(await noLink.json()).toMatchObject({ code: 'link_invalid' });

    for (let i = 0; i < MAX_TOKENS_PER_MEMBER; i++) await api.make(`t${i}`);
    const oneTooMany = await api.call('POST', '', JSON.stringify({ name: 'eleventh' }));
    expect(oneTooMany).toMatchObject({ status: 409, body: { code: 'conflict' } });
    expect(String(oneTooMany.body.message)).toMatch(/revoke one/);
    expect((await api.list()).tokens).toHaveLength(MAX_TOKENS_PER_MEMBER);
  });

  it('is rate limited per member link as the crew API is: 429 with Retry-After, another link unaffected', async () => {
    // A relay of its own at a socket's rate of 5/s (burst 10), so the volley outruns it however loaded the machine is.
    const limited = await startMcpRelay({ env: { RATE_LIMIT_PER_SECOND: '5', RATE_LIMIT_BURST: '10' } });
    try {
      const ana = await crewGadget(() => limited.connect(), 'Ana');
      const bo = await crewGadget(() => limited.connect(), 'Bo', ana.crewCode);
      const cookie = await crewCookie(limited.httpUrl, ana.client);
      const list = (who: string) =>
        fetch(`${limited.httpUrl}/crew/api/mcp-tokens`, { headers: { cookie: who } }).then(async (res) => ({
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          body: (await res.json()) as { code?: string },
        }));
      await expectVolleyLimited(200, () => list(cookie), { burst: 10, perSecond: 5 });
      expect((await list(await crewCookie(limited.httpUrl, bo.client))).status).toBe(200);
      await ana.client.close();
      await bo.client.close();
    } finally {
      await limited.close();
    }
  }, 60_000);
});
