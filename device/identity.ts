import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DeviceId, DeviceSecret } from '../protocol/index.js';
import { writeFileAtomic } from './atomic-file.js';

const IdentityFile = z.object({ device_id: DeviceId, device_secret: DeviceSecret });
export type Identity = z.infer<typeof IdentityFile>;

/**
 * The device credential the relay issued: `identity.json`, mode 0600. Losing it means
 * the relay will refuse this device id, so it is written atomically and never logged.
 */
export class IdentityStore {
  private readonly file: string;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'identity.json');
  }

  /** The stored identity, or null on first start. A corrupt file is an error, not a reset. */
  async load(): Promise<Identity | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    const parsed = IdentityFile.safeParse(safeJson(text));
    if (!parsed.success) {
      throw new Error(
        `${this.file} is damaged (${parsed.error.issues[0]?.message ?? 'invalid'}); restore it from a backup or remove it to register as a new device.`,
      );
    }
    return parsed.data;
  }

  async save(identity: Identity): Promise<void> {
    await writeFileAtomic(this.file, JSON.stringify(identity, null, 2), 0o600);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
