import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { DeviceConfig } from './config.js';
import type { Network } from './network.js';
import { markSetupNeeded } from './setup-form.js';

/**
 * Forgets the owner: their part of the config (name, crew, relay choice), the identity,
 * outbox, feed, sequence, Spotify and album art caches in the data directory, and the saved
 * Wi-Fi networks. Hardware settings stay, so the gadget still lights its own screen; it
 * starts in setup mode next.
 */
export async function factoryReset(configFile: string, config: DeviceConfig, network: Network | null): Promise<void> {
  await markSetupNeeded(configFile, false);
  const dirs = new Set([config.dataDir, ...(config.sim.snapshotDir ? [config.sim.snapshotDir] : [])]);
  for (const dir of dirs) {
    // The directory itself belongs to systemd (StateDirectory): empty it, keep it.
    const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
    for (const name of names) await rm(path.join(dir, name), { recursive: true, force: true });
  }
  await network?.forgetWifi();
}
