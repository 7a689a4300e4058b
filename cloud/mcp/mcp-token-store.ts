/**
 * The `mcp` area of the Store: members' personal tokens for the MCP endpoint, kept as the
 * SHA-256 of the token (the token itself is shown once, when made). SQLite:
 * cloud/store/sqlite-mcp.ts.
 */
export interface McpTokenRecord {
  readonly tokenHash: string;
  readonly deviceId: string;
  readonly createdAt: number;
}

export interface McpTokenStore {
  /** Stores a new token's hash for the member. */
  saveToken(record: McpTokenRecord): Promise<void>;
  /** The member a token hash belongs to, or null (unknown or revoked). */
  findToken(tokenHash: string): Promise<McpTokenRecord | null>;
  /** Revokes every token of the member; returns how many. */
  revokeTokens(deviceId: string): Promise<number>;
}
