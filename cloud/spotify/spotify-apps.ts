import type { SpotifyApp } from './accounts.js';
import type { TokenCipher } from './token-cipher.js';
import type { TokenStore } from '../store/areas/tokens.js';

/**
 * Which Spotify app signs a gadget in: its crew's own app when the crew owner registered
 * one (Spotify's development mode allows 5 users per app), else the relay's app.
 */
export class SpotifyApps {
  /** When Spotify last answered QUOTA_EXCEEDED for an app (client id → ms), for the owner's page. */
  private readonly quotaHits = new Map<string, number>();

  constructor(
    private readonly store: TokenStore,
    private readonly cipher: TokenCipher,
    private readonly relayApp: SpotifyApp | null,
  ) {}

  async forCrew(crewId: string | null): Promise<SpotifyApp | null> {
    const own = crewId ? await this.crewApp(crewId) : null;
    return own ?? this.relayApp;
  }

  /** The app with this client id as seen from the crew (null when it is no longer available). */
  async byClientId(clientId: string, crewId: string | null): Promise<SpotifyApp | null> {
    const own = crewId ? await this.crewApp(crewId) : null;
    if (own?.clientId === clientId) return own;
    return this.relayApp?.clientId === clientId ? this.relayApp : null;
  }

  async register(crewId: string, clientId: string, clientSecret: string | undefined): Promise<void> {
    await this.store.saveCrewApp({
      crewId,
      clientId,
      clientSecretEnc: clientSecret ? this.cipher.encrypt(clientSecret, `app:${crewId}`) : null,
      updatedAt: Date.now(),
    });
  }

  remove(crewId: string): Promise<boolean> {
    return this.store.removeCrewApp(crewId);
  }

  async describe(crewId: string): Promise<{ client_id: string | null; has_secret: boolean }> {
    const record = await this.store.getCrewApp(crewId);
    return { client_id: record?.clientId ?? null, has_secret: Boolean(record?.clientSecretEnc) };
  }

  noteQuotaExceeded(clientId: string, at: number): void {
    this.quotaHits.set(clientId, at);
  }

  /** When this process last saw Spotify refuse the app for its quota, or null. */
  quotaExceededAt(clientId: string): number | null {
    return this.quotaHits.get(clientId) ?? null;
  }

  private async crewApp(crewId: string): Promise<SpotifyApp | null> {
    const record = await this.store.getCrewApp(crewId);
    if (!record) return null;
    const secret = record.clientSecretEnc ? this.cipher.decrypt(record.clientSecretEnc, `app:${crewId}`) : null;
    if (record.clientSecretEnc && this.cipher.isStale(record.clientSecretEnc)) {
      await this.store.saveCrewApp({ ...record, clientSecretEnc: this.cipher.encrypt(secret!, `app:${crewId}`) });
    }
    return { clientId: record.clientId, clientSecret: secret };
  }
}
