import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { SpotifyError, type SpotifyHttp } from '../../spotify/spotify-http.js';

/**
 * What LEELOO's features need from Spotify, and nothing more: the gadget's now playing and
 * playback (currently-playing, playback-state, modify-playback-state), the history collector
 * (recently-played), and the weekly crew mixtape a member's assistant makes in the member's
 * own account, never public (playlist-modify-private).
 */
export const SPOTIFY_SCOPES =
  'user-read-currently-playing user-read-playback-state user-modify-playback-state user-read-recently-played playlist-modify-private';

export interface SpotifyApp {
  readonly clientId: string;
  /** Null for PKCE-only apps. Sent to the token endpoint only. */
  readonly clientSecret: string | null;
}

export const TokenAnswer = z.object({
  access_token: z.string().min(1),
  token_type: z.string(),
  expires_in: z.number().int().positive(),
  refresh_token: z.string().min(1).optional(),
  scope: z.string().optional(),
});
export type TokenAnswer = z.infer<typeof TokenAnswer>;

/** PKCE (RFC 7636, S256): the verifier stays on the relay, the challenge goes to Spotify. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Spotify's Accounts service: the authorize URL and the token endpoint. */
export class SpotifyAccounts {
  constructor(
    private readonly http: SpotifyHttp,
    private readonly accountsUrl: string,
  ) {}

  authorizeUrl(input: { app: SpotifyApp; redirectUri: string; state: string; challenge: string }): string {
    const params = new URLSearchParams({
      client_id: input.app.clientId,
      response_type: 'code',
      redirect_uri: input.redirectUri,
      state: input.state,
      scope: SPOTIFY_SCOPES,
      code_challenge_method: 'S256',
      code_challenge: input.challenge,
    });
    return `${this.accountsUrl}/authorize?${params}`;
  }

  /** Without a verifier (the field gadgets' authorize URL has no PKCE) the app's secret is the proof. */
  exchangeCode(input: { app: SpotifyApp; code: string; redirectUri: string; verifier?: string }): Promise<TokenAnswer> {
    const fields: Record<string, string> = { grant_type: 'authorization_code', code: input.code, redirect_uri: input.redirectUri };
    if (input.verifier !== undefined) fields.code_verifier = input.verifier;
    return this.token(input.app, fields);
  }

  refresh(input: { app: SpotifyApp; refreshToken: string }): Promise<TokenAnswer> {
    return this.token(input.app, { grant_type: 'refresh_token', refresh_token: input.refreshToken });
  }

  private async token(app: SpotifyApp, fields: Record<string, string>): Promise<TokenAnswer> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    const form = new URLSearchParams(fields);
    if (app.clientSecret) {
      headers.authorization = `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64')}`;
    } else {
      form.set('client_id', app.clientId);
    }
    const response = await this.http.send({
      method: 'POST',
      url: `${this.accountsUrl}/api/token`,
      limiterKey: `app:${app.clientId}`,
      headers,
      body: form.toString(),
    });
    const parsed = TokenAnswer.safeParse(await response.json().catch(() => null));
    if (!parsed.success) throw new SpotifyError('bad_response', { status: response.status, detail: 'token answer without access_token/expires_in' });
    return parsed.data;
  }
}
