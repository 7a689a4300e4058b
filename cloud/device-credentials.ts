import crypto from 'node:crypto';
import type { DeviceRecord } from './store/store.js';

/**
 * Device secrets are 256 random bits, so a plain SHA-256 is enough to store them:
 * there is nothing to brute-force that a slow hash would protect.
 */
export function newDeviceSecret(): string {
  return crypto.randomBytes(32).toString('base64url');
}

export function hashDeviceSecret(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function deviceSecretMatches(secret: string | undefined, storedHash: string): boolean {
  if (secret === undefined) return false;
  const presented = Buffer.from(hashDeviceSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && crypto.timingSafeEqual(presented, stored);
}

/** Ids for devices that did not bring one (second-generation gadgets, fresh current ones). */
export function newDeviceId(): string {
  return `dev-${crypto.randomBytes(9).toString('base64url')}`;
}

/** An id that never had a secret: a first- or second-generation gadget's (its firmware cannot hold one). */
export function isLegacyId(device: DeviceRecord): boolean {
  return !device.secretHash && !device.secretResetAt;
}

/** The ids of phone members (a person the crew owner invited from the crew page, no gadget): the relay makes them, no gadget may take one. */
export const PHONE_DEVICE_ID_PREFIX = 'phone:';
