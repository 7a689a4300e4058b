import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../cloud/config.js';
import { CipherError, TokenCipher } from '../../../cloud/spotify/token-cipher.js';

const oldKey = randomBytes(32);
const newKey = randomBytes(32);

describe('TokenCipher', () => {
  it('round-trips, hides the plaintext and binds the context', () => {
    const cipher = new TokenCipher(oldKey);
    const sealed = cipher.encrypt('rt-secret-value', 'refresh:dev-1');
    expect(sealed).not.toContain('rt-secret-value');
    expect(sealed.startsWith(`v1.${cipher.currentKeyId}.`)).toBe(true);
    expect(cipher.decrypt(sealed, 'refresh:dev-1')).toBe('rt-secret-value');
    expect(() => cipher.decrypt(sealed, 'refresh:dev-2')).toThrowError(CipherError);
    const parts = sealed.split('.');
    parts[4] = Buffer.from('tampered').toString('base64url');
    expect(() => cipher.decrypt(parts.join('.'), 'refresh:dev-1')).toThrow(/altered/);
    expect(() => cipher.decrypt('garbage', 'refresh:dev-1')).toThrow(/format/);
  });

  it('rotates keys: old rows decrypt with the previous key and are marked stale', () => {
    const sealed = new TokenCipher(oldKey).encrypt('token', 'ctx');
    const rotated = new TokenCipher(newKey, [oldKey]);
    expect(rotated.decrypt(sealed, 'ctx')).toBe('token');
    expect(rotated.isStale(sealed)).toBe(true);
    expect(rotated.isStale(rotated.encrypt('token', 'ctx'))).toBe(false);
    expect(() => new TokenCipher(newKey).decrypt(sealed, 'ctx')).toThrow(/LEELOO_ENCRYPTION_KEY_PREVIOUS/);
  });
});

describe('Spotify configuration', () => {
  const base = { SPOTIFY_CLIENT_ID: 'leeloo-app-1', PUBLIC_URL: 'https://relay.example/' };

  it('refuses to start without an encryption key when a client id is set, saying how to make one', () => {
    const error = (() => {
      try {
        loadConfig(base);
      } catch (e) {
        return e as ConfigError;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems.join('\n')).toMatch(/LEELOO_ENCRYPTION_KEY must be set.*randomBytes\(32\)/);
  });

  it('refuses a key that is not 32 bytes of base64, and a client id without PUBLIC_URL', () => {
    expect(() => loadConfig({ ...base, LEELOO_ENCRYPTION_KEY: 'c2hvcnQ=' })).toThrow(/32 bytes/);
    expect(() => loadConfig({ SPOTIFY_CLIENT_ID: 'leeloo-app-1', LEELOO_ENCRYPTION_KEY: newKey.toString('base64') })).toThrow(/PUBLIC_URL must be set/);
    expect(() => loadConfig({ ...base, LEELOO_ENCRYPTION_KEY: newKey.toString('base64'), SPOTIFY_API_URL: 'ftp://x' })).toThrow(/SPOTIFY_API_URL/);
  });

  it('reads the Spotify settings with their defaults', () => {
    const config = loadConfig({ ...base, LEELOO_ENCRYPTION_KEY: newKey.toString('base64'), LEELOO_ENCRYPTION_KEY_PREVIOUS: oldKey.toString('base64') });
    expect(config.publicUrl).toBe('https://relay.example');
    expect(config.spotify).toMatchObject({ clientId: 'leeloo-app-1', accountsUrl: 'https://accounts.spotify.com', apiUrl: 'https://api.spotify.com/v1' });
    expect(config.spotify.encryptionKey?.equals(newKey)).toBe(true);
    expect(config.spotify.previousKeys).toHaveLength(1);
    expect(loadConfig({}).spotify.clientId).toBeUndefined();
  });
});
