import { describe, expect, it } from 'vitest';
import { bearer, useMcpRelay } from '../../helpers/mcp-crew.js';

/* The MCP endpoint's budget per token (MCP_RATE_LIMIT_BURST, MCP_RATE_LIMIT_PER_SECOND). */

const mcpRelay = useMcpRelay({ MCP_RATE_LIMIT_BURST: '3', MCP_RATE_LIMIT_PER_SECOND: '1' });

describe('MCP rate limit', () => {
  it('answers a token past its burst with 429 and Retry-After, and leaves another token alone', async () => {
    const ana = await mcpRelay.gadget('Ana');
    const [first, second] = [await mcpRelay.issueToken(ana.deviceId), await mcpRelay.issueToken(ana.deviceId)];
    const list = (token: string) =>
      fetch(`${mcpRelay.relay.httpUrl}/mcp`, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
    const statuses: number[] = [];
    let refused: Response | null = null;
    for (let i = 0; i < 6 && !refused; i++) {
      const res = await list(first);
      statuses.push(res.status);
      if (res.status === 429) refused = res;
      else await res.body?.cancel();
    }
    // Three at once, then refused (a fourth may pass if a second went by and refilled one).
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(refused?.status).toBe(429);
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused!.json()).toMatchObject({ code: 'rate_limited' });
    expect((await list(second)).status).toBe(200);
  });
});
