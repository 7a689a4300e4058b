import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
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

  it('accepts PUBLIC_URL on https or a loopback IP literal, and refuses localhost and plain http with a sentence', () => {
    const key = { LEELOO_ENCRYPTION_KEY: newKey.toString('base64') };
    for (const ok of ['https://relay.example', 'http://127.0.0.1:8080', 'http://127.3.4.5', 'http://[::1]:8080', 'https://leeloo.example/base']) {
      expect(loadConfig({ ...base, ...key, PUBLIC_URL: ok }).publicUrl, ok).toBe(ok);
    }
    for (const [bad, why] of [
      ['http://localhost:8080', /must not name "localhost".*127\.0\.0\.1/],
      ['https://localhost', /must not name "localhost"/],
      ['http://app.localhost', /must not name "localhost"/],
      ['http://relay.example', /must be an https:\/\/ URL/],
      ['http://192.168.1.20:8080', /must be an https:\/\/ URL/],
      ['ftp://relay.example', /must be an http\(s\) URL/],
    ] as const) {
      expect(() => loadConfig({ ...base, ...key, PUBLIC_URL: bad }), bad).toThrow(why);
    }
    // Without Spotify too: PUBLIC_URL is where Spotify would return, whoever sets it.
    expect(() => loadConfig({ PUBLIC_URL: 'http://localhost' })).toThrow(/PUBLIC_URL must not name "localhost"/);
  });

  it('stops the relay process with exit code 78 and the sentence for a PUBLIC_URL Spotify refuses', async () => {
    const root = path.resolve(import.meta.dirname, '../../..');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cloud/main.ts')], {
      cwd: root,
      env: { ...process.env, LEELOO_ENV_FILE: '', PORT: '0', PUBLIC_URL: 'http://localhost:8080' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(78);
    expect(stderr).toContain('PUBLIC_URL must not name "localhost"');
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
