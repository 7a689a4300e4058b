import { z } from 'zod';
import { SpotifyClientId, SpotifyClientSecret } from '../../protocol/spotify.js';
import { KEY_HOWTO, parseKey } from './token-cipher.js';

/** The relay's Spotify settings (read with the rest in cloud/config.ts). */
export interface SpotifyConfig {
  /** The relay's own app; crews may register theirs. Unset: only crew apps can sign in. */
  readonly clientId: string | undefined;
  /** Only for apps that do not use PKCE alone; never leaves the relay. */
  readonly clientSecret: string | undefined;
  readonly accountsUrl: string;
  readonly apiUrl: string;
  /** AES-256-GCM key for refresh tokens and client secrets at rest. */
  readonly encryptionKey: Buffer | undefined;
  /** Older keys, for decrypting rows written before a key rotation. */
  readonly previousKeys: readonly Buffer[];
}

export const SPOTIFY_DEFAULTS = {
  accountsUrl: 'https://accounts.spotify.com',
  apiUrl: 'https://api.spotify.com/v1',
} as const;

const blankIsUnset = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const baseUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).transform((v) => v.replace(/\/+$/, ''));

/**
 * Spotify accepts a redirect URI only on https, or on http at a loopback IP literal
 * (127.0.0.1, [::1]); since 2025 never at `localhost`. PUBLIC_URL/spotify/callback is that URI.
 */
export function publicUrlProblem(url: string): string | null {
  const { protocol, hostname } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return 'must not name "localhost": Spotify no longer accepts it in a redirect URI; use http://127.0.0.1:PORT for a relay on this machine, or its https:// address';
  }
  const loopback = /^127(\.\d{1,3}){3}$/.test(host) || host === '::1';
  if (protocol === 'https:' || loopback) return null;
  return 'must be an https:// URL (or http://127.0.0.1:PORT for a relay used only on this machine): Spotify accepts no other redirect URI, and phones are sent to PUBLIC_URL/s/…';
}

const publicUrl = baseUrl.superRefine((url, ctx) => {
  const problem = publicUrlProblem(url);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const SpotifyEnv = z.object({
  PUBLIC_URL: z.preprocess(blankIsUnset, publicUrl.optional()),
  SPOTIFY_CLIENT_ID: z.preprocess(blankIsUnset, SpotifyClientId.optional()),
  SPOTIFY_CLIENT_SECRET: z.preprocess(blankIsUnset, SpotifyClientSecret.optional()),
  SPOTIFY_ACCOUNTS_URL: z.preprocess(blankIsUnset, baseUrl.default(SPOTIFY_DEFAULTS.accountsUrl)),
  SPOTIFY_API_URL: z.preprocess(blankIsUnset, baseUrl.default(SPOTIFY_DEFAULTS.apiUrl)),
  LEELOO_ENCRYPTION_KEY: z.preprocess(blankIsUnset, z.string().optional()),
  LEELOO_ENCRYPTION_KEY_PREVIOUS: z.preprocess(blankIsUnset, z.string().optional()),
});
/** Every variable this schema reads (documented in .env.example). */
export const SPOTIFY_ENV_NAMES = Object.keys(SpotifyEnv.shape);


/** Reads PUBLIC_URL and the Spotify variables; returns every problem as a sentence. */
export function loadSpotifyConfig(env: Record<string, string | undefined>): {
  publicUrl: string | undefined;
  spotify: SpotifyConfig;
  problems: string[];
} {
  const parsed = SpotifyEnv.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`);
  const e = parsed.success ? parsed.data : SpotifyEnv.partial().parse({});
  const keys = readKeys(e.LEELOO_ENCRYPTION_KEY, e.LEELOO_ENCRYPTION_KEY_PREVIOUS, problems);
  if (e.SPOTIFY_CLIENT_ID && !e.LEELOO_ENCRYPTION_KEY) {
    problems.push(`LEELOO_ENCRYPTION_KEY must be set when SPOTIFY_CLIENT_ID is set: the relay keeps Spotify refresh tokens encrypted with it. ${KEY_HOWTO}`);
  }
  if (e.SPOTIFY_CLIENT_ID && !e.PUBLIC_URL) {
    problems.push('PUBLIC_URL must be set when SPOTIFY_CLIENT_ID is set: phones are sent to PUBLIC_URL/s/… and Spotify back to PUBLIC_URL/spotify/callback.');
  }
  return {
    publicUrl: e.PUBLIC_URL,
    spotify: {
      clientId: e.SPOTIFY_CLIENT_ID,
      clientSecret: e.SPOTIFY_CLIENT_SECRET,
      accountsUrl: e.SPOTIFY_ACCOUNTS_URL ?? SPOTIFY_DEFAULTS.accountsUrl,
      apiUrl: e.SPOTIFY_API_URL ?? SPOTIFY_DEFAULTS.apiUrl,
      ...keys,
    },
    problems,
  };
}

function readKeys(current: string | undefined, previous: string | undefined, problems: string[]) {
  const read = (name: string, value: string): Buffer | undefined => {
    try {
      return parseKey(name, value);
    } catch (error) {
      problems.push((error as Error).message);
      return undefined;
    }
  };
  return {
    encryptionKey: current ? read('LEELOO_ENCRYPTION_KEY', current) : undefined,
    previousKeys: (previous ?? '')
      .split(',')
      .filter((v) => v.trim())
      .map((v) => read('LEELOO_ENCRYPTION_KEY_PREVIOUS', v))
      .filter((k): k is Buffer => k !== undefined),
  };
}
