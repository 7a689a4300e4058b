import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Encrypts Spotify secrets at rest with AES-256-GCM. A ciphertext reads
 * `v1.KEYID.IV.TAG.DATA` (base64url parts); KEYID is the first 8 hex digits of the key's
 * sha256, so old rows say which key they need without the operator naming keys.
 *
 * Key rotation: put the new key in LEELOO_ENCRYPTION_KEY and the old one(s) in
 * LEELOO_ENCRYPTION_KEY_PREVIOUS (comma-separated). Old rows still decrypt, and each is
 * re-encrypted with the new key the next time it is written (every token refresh writes).
 *
 * The `context` (e.g. "refresh:DEVICE_ID") is bound as additional authenticated data, so
 * a ciphertext copied into another row or field does not decrypt.
 */
export class TokenCipher {
  private readonly current: { id: string; key: Buffer };
  private readonly keys = new Map<string, Buffer>();

  constructor(currentKey: Buffer, previousKeys: readonly Buffer[] = []) {
    for (const key of [currentKey, ...previousKeys]) {
      if (key.length !== 32) throw new Error('An encryption key must be exactly 32 bytes.');
      this.keys.set(keyId(key), key);
    }
    this.current = { id: keyId(currentKey), key: currentKey };
  }

  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(context));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', this.current.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }

  /** Throws CipherError when the key is unknown or the data was tampered with. */
  decrypt(ciphertext: string, context: string): string {
    const [version, id, iv, tag, data] = ciphertext.split('.');
    if (version !== 'v1' || !id || !iv || !tag || data === undefined) throw new CipherError('malformed', 'The stored secret is not in the expected format.');
    const key = this.keys.get(id);
    if (!key) {
      throw new CipherError(
        'unknown_key',
        `The stored secret was encrypted with key ${id}, which is not configured; add it to LEELOO_ENCRYPTION_KEY_PREVIOUS.`,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new CipherError('tampered', 'The stored secret does not decrypt: it was altered or belongs elsewhere.');
    }
  }

  /** True when the ciphertext was made with an older key and should be written again. */
  isStale(ciphertext: string): boolean {
    return ciphertext.split('.')[1] !== this.current.id;
  }

  get currentKeyId(): string {
    return this.current.id;
  }
}

export class CipherError extends Error {
  constructor(
    readonly code: 'malformed' | 'unknown_key' | 'tampered',
    message: string,
  ) {
    super(message);
    this.name = 'CipherError';
  }
}

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

export const KEY_HOWTO = `Make one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`;

/** A base64 key from the environment (32 bytes, canonical base64), or null; cloud/config.ts says how to make one. */
export function decodeKey(value: string): Buffer | null {
  const key = Buffer.from(value.trim(), 'base64');
  if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== value.trim().replace(/=+$/, '')) return null;
  return key;
}
