/**
 * The `mcp` area of the Store (McpStore): members' personal tokens for the MCP endpoint, kept as the
 * SHA-256 of the token (the token itself is shown once, when made) under a separate random
 * id that the crew page lists and revokes by. SQLite: cloud/store/sqlite-mcp.ts.
 */
export interface McpTokenRecord {
  /** A random id, not derived from the token: safe to show and to name in a URL. */
  readonly tokenId: string;
  readonly tokenHash: string;
  readonly deviceId: string;
  /** What the member called it ("laptop", "Claude"); may be empty. */
  readonly name: string;
  readonly createdAt: number;
  /** The last call made with it (kept to the minute), or null if never used. */
  readonly lastUsedAt: number | null;
}

export interface McpTokenStore {
  /** Stores a new token's hash for the member. */
  saveToken(record: Omit<McpTokenRecord, 'lastUsedAt'>): Promise<void>;
  /** The member a token hash belongs to, or null (unknown or revoked). */
  findToken(tokenHash: string): Promise<McpTokenRecord | null>;
  /** The member's tokens, newest first. */
  listTokens(deviceId: string): Promise<McpTokenRecord[]>;
  /** Notes a call made with the token. */
  touchToken(tokenHash: string, at: number): Promise<void>;
  /** Revokes one of the member's tokens; false when the member has no token with this id. */
  revokeToken(deviceId: string, tokenId: string): Promise<boolean>;
  /** Revokes every token of the member; returns how many. */
  revokeTokens(deviceId: string): Promise<number>;
}

/**
 * A weekly crew mixtape a member's assistant made in the member's Spotify: one per member and
 * week, so asking again answers the same playlist, and a make that failed part-way (Spotify
 * refused a batch) goes on from the tracks already added instead of making a second playlist.
 */
export interface MixtapeRecord {
  readonly deviceId: string;
  /** The Monday of the week, YYYY-MM-DD. */
  readonly week: string;
  readonly playlistId: string;
  readonly playlistUri: string;
  readonly url: string | null;
  readonly name: string;
  /** The tracks chosen when it was made, in order. */
  readonly uris: readonly string[];
  /** How many of `uris` Spotify has taken so far. */
  readonly added: number;
  readonly createdAt: number;
}

export interface McpMixtapeStore {
  findMixtape(deviceId: string, week: string): Promise<MixtapeRecord | null>;
  /** Stores a mixtape as soon as its playlist exists (added 0). */
  saveMixtape(record: MixtapeRecord): Promise<void>;
  noteMixtapeAdded(deviceId: string, week: string, added: number): Promise<void>;
}

export interface McpStore extends McpTokenStore, McpMixtapeStore {}
