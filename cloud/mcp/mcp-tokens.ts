import { createHash, randomBytes } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import {
  McpTokenRequest,
  ProtocolError,
  type McpClientSetup,
  type McpTokenCreated,
  type McpTokenList,
  type McpTokenRevoked,
  type McpTokenView,
} from '../../protocol/index.js';
import { describeIssues } from '../../protocol/parse.js';
import type { RelayContext } from '../feature.js';
import { sendError } from '../http-errors.js';
import type { Store } from '../store/store.js';
import type { McpTokenRecord } from '../store/areas/mcp.js';

/** More than this many live tokens per member is refused: revoke one first. */
export const MAX_TOKENS_PER_MEMBER = 10;
/** "Last used" is kept to the minute, so a busy assistant does not write on every call. */
const LAST_USED_GRANULARITY_MS = 60_000;

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Makes a token for the member and stores its hash; the token is in the answer only. */
export async function createMcpToken(store: Store, deviceId: string, name: string, now: number): Promise<{ token: string; record: McpTokenRecord }> {
  const token = randomBytes(32).toString('base64url');
  const record = { tokenId: randomBytes(8).toString('hex'), tokenHash: hashToken(token), deviceId, name, createdAt: now, lastUsedAt: null };
  await store.mcp.saveToken(record);
  return { token, record };
}

/** Notes a call made with the token, at most once a minute per token. */
export async function noteTokenUse(store: Store, record: McpTokenRecord, now: number): Promise<void> {
  if (record.lastUsedAt === null || now - record.lastUsedAt >= LAST_USED_GRANULARITY_MS) await store.mcp.touchToken(record.tokenHash, now);
}

/** How an MCP client is told where the relay is and who it speaks for (shown once, with the token). */
export function clientSetup(mcpUrl: string, token: string): McpClientSetup {
  return {
    mcp_url: mcpUrl,
    authorization: `Bearer ${token}`,
    client_config: { mcpServers: { leeloo: { type: 'http', url: mcpUrl, headers: { Authorization: `Bearer ${token}` } } } },
    claude_code: `claude mcp add --transport http leeloo ${mcpUrl} --header "Authorization: Bearer ${token}"`,
  };
}

const tokenView = (r: McpTokenRecord): McpTokenView => ({ token_id: r.tokenId, name: r.name, created_at: r.createdAt, last_used_at: r.lastUsedAt });
const TOKEN_ID = /^[0-9a-f]{16}$/;

/**
 * A member's own MCP tokens on the crew page: list (no secrets), create (the token shown
 * once, with the /mcp URL and a client config), revoke one. Mounted by the crew pages at
 * /crew/api behind the member link and its rate limit, with res.locals.viewer set.
 */
export function mcpMemberRouter(context: RelayContext, now: () => number = Date.now): express.Router {
  const log = context.log.child({ feature: 'mcp' });
  const { store } = context;
  const mcpUrl = () => `${context.publicUrl()}/mcp`;
  const router = express.Router();
  const route = (work: (deviceId: string, req: Request) => Promise<{ status?: number; body: unknown }>) => (req: Request, res: Response) => {
    const deviceId = (res.locals.viewer as { deviceId: string }).deviceId;
    work(deviceId, req).then(
      ({ status, body }) => res.status(status ?? 200).json(body),
      (error: unknown) => sendError(res, error, log),
    );
  };

  router.get(
    '/mcp-tokens',
    route(async (deviceId) => ({
      body: { mcp_url: mcpUrl(), max_tokens: MAX_TOKENS_PER_MEMBER, tokens: (await store.mcp.listTokens(deviceId)).map(tokenView) } satisfies McpTokenList,
    })),
  );

  router.post(
    '/mcp-tokens',
    express.json({ limit: '4kb' }),
    route(async (deviceId, req) => {
      const parsed = McpTokenRequest.safeParse(req.body ?? {});
      if (!parsed.success) throw new ProtocolError('invalid_message', `The token's ${describeIssues(parsed.error)}.`);
      if ((await store.mcp.listTokens(deviceId)).length >= MAX_TOKENS_PER_MEMBER) {
        throw new ProtocolError('conflict', `You have ${MAX_TOKENS_PER_MEMBER} MCP tokens, the most a member may have; revoke one you no longer use first.`);
      }
      const { token, record } = await createMcpToken(store, deviceId, parsed.data.name, now());
      log.info({ deviceId, tokenId: record.tokenId, by: 'member' }, 'mcp token issued');
      return { status: 201, body: { ...tokenView(record), token, ...clientSetup(mcpUrl(), token) } satisfies McpTokenCreated };
    }),
  );

  router.delete(
    '/mcp-tokens/:tokenId',
    route(async (deviceId, req) => {
      const tokenId = String(req.params.tokenId);
      if (!TOKEN_ID.test(tokenId) || !(await store.mcp.revokeToken(deviceId, tokenId))) {
        throw new ProtocolError('not_found', 'You have no MCP token with this id (it may be revoked already).');
      }
      log.info({ deviceId, tokenId, by: 'member' }, 'mcp token revoked');
      return { body: { revoked: tokenId } satisfies McpTokenRevoked };
    }),
  );
  return router;
}
