import fs from 'node:fs';
import path from 'node:path';
import yazl from 'yazl';

export interface ZipEntrySpec {
  readonly name: string;
  readonly content: string | Buffer;
  /** false stores the entry uncompressed. */
  readonly compress?: boolean;
}

/** Writes a real ZIP file with yazl and returns its path. */
export async function writeZip(dir: string, fileName: string, entries: readonly ZipEntrySpec[]): Promise<string> {
  const file = path.join(dir, fileName);
  const zip = new yazl.ZipFile();
  for (const entry of entries) {
    const data = typeof entry.content === 'string' ? Buffer.from(entry.content) : entry.content;
    zip.addBuffer(data, entry.name, { compress: entry.compress ?? true, mtime: new Date(Date.UTC(2024, 0, 1)) });
  }
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const out = fs.createWriteStream(file);
    zip.outputStream.pipe(out).on('close', resolve).on('error', reject);
  });
  return file;
}

/** One element of Streaming_History_Audio_*.json as Spotify writes it (fields included that must be dropped). */
export function extendedRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ts: '2023-05-04T18:22:41Z',
    username: 'someuser',
    platform: 'Android OS 13 API 33 (Google, Pixel 7)',
    ms_played: 215_000,
    conn_country: 'FR',
    ip_addr_decrypted: '203.0.113.7',
    ip_addr: '203.0.113.7',
    user_agent_decrypted: 'unknown',
    master_metadata_track_name: 'Around the World',
    master_metadata_album_artist_name: 'Daft Punk',
    master_metadata_album_album_name: 'Homework',
    spotify_track_uri: 'spotify:track:1pKYYY0dkg23sQQXi0Q5zN',
    episode_name: null,
    episode_show_name: null,
    spotify_episode_uri: null,
    reason_start: 'trackdone',
    reason_end: 'trackdone',
    shuffle: false,
    skipped: false,
    offline: false,
    offline_timestamp: 1683224561,
    incognito_mode: false,
    ...overrides,
  };
}

/** One element of StreamingHistory*.json (account data). */
export function accountRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { endTime: '2023-05-04 18:22', artistName: 'Daft Punk', trackName: 'Around the World', msPlayed: 215_000, ...overrides };
}
