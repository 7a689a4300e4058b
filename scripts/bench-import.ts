/**
 * Import benchmark: writes an extended streaming-history export of 100,000 plays as a
 * real ZIP in a temp dir, imports it into a fresh store, imports it again, and prints
 * time, rows/s and peak RSS of both runs. Cleans up after itself.
 *
 *   npx tsx scripts/bench-import.ts [--plays N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import yazl from 'yazl';
import { importExport, type ImportResult } from '../cloud/history/importer.js';
import { openSqliteStore } from '../cloud/store/sqlite-store.js';

const PLAYS_PER_FILE = 16_000; // about what Spotify puts in one Streaming_History_Audio_*.json
const MEMBER = 'bench-member';

function record(i: number): Record<string, unknown> {
  const track = i % 2_500;
  const skipped = i % 10 === 0;
  return {
    ts: new Date(Date.UTC(2019, 0, 1) + i * 11 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    username: 'benchuser',
    platform: 'Android OS 13 API 33 (Google, Pixel 7)',
    ms_played: skipped ? 4_000 + (i % 20_000) : 90_000 + (i % 150_000),
    conn_country: 'FR',
    ip_addr: '203.0.113.7',
    user_agent_decrypted: 'unknown',
    master_metadata_track_name: i % 50 === 0 ? null : `Track ${track} — “Mix” ${track % 7 === 0 ? 'Café' : 'Night'}`,
    master_metadata_album_artist_name: i % 50 === 0 ? null : `Artist ${track % 300}`,
    master_metadata_album_album_name: `Album ${track % 700}`,
    spotify_track_uri: i % 50 === 0 ? null : `spotify:track:${track.toString(36).padStart(22, '0')}`,
    episode_name: null,
    episode_show_name: null,
    spotify_episode_uri: null,
    reason_start: 'trackdone',
    reason_end: skipped ? 'fwdbtn' : 'trackdone',
    shuffle: i % 3 === 0,
    skipped,
    offline: false,
    offline_timestamp: 1_600_000_000 + i,
    incognito_mode: i % 97 === 0,
  };
}

/** One export file as a stream, so the generator never holds it in memory either. */
function fileStream(from: number, to: number): Readable {
  return Readable.from((function* () {
    yield '[\n';
    for (let i = from; i < to; i++) yield `${i === from ? '' : ',\n'}${JSON.stringify(record(i))}`;
    yield '\n]\n';
  })());
}

async function writeExport(dir: string, plays: number): Promise<string> {
  const file = path.join(dir, 'my_spotify_data.zip');
  const zip = new yazl.ZipFile();
  for (let from = 0, n = 0; from < plays; from += PLAYS_PER_FILE, n++) {
    const name = `Spotify Extended Streaming History/Streaming_History_Audio_2019-2024_${n}.json`;
    zip.addReadStream(fileStream(from, Math.min(plays, from + PLAYS_PER_FILE)), name);
  }
  zip.end();
  await new Promise<void>((resolve, reject) => {
    zip.outputStream.pipe(fs.createWriteStream(file)).on('close', resolve).on('error', reject);
  });
  return file;
}

interface RunFigures { seconds: number; rowsPerSecond: number; peakRssMb: number; result: ImportResult }

async function timedImport(store: ReturnType<typeof openSqliteStore>, file: string, plays: number): Promise<RunFigures> {
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 20);
  const started = performance.now();
  try {
    const result = await importExport(store.history, file, {
      memberId: MEMBER,
      onProgress: () => { peak = Math.max(peak, process.memoryUsage.rss()); },
    });
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, process.memoryUsage.rss());
    return { seconds, rowsPerSecond: Math.round(plays / seconds), peakRssMb: Math.round(peak / 1024 / 102.4) / 10, result };
  } finally {
    clearInterval(sampler);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { plays: { type: 'string', default: '100000' } } });
  const plays = Number(values.plays);
  if (!Number.isInteger(plays) || plays < 1 || plays > 5_000_000) throw new Error('--plays must be a whole number from 1 to 5,000,000.');
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'leeloo-bench-'));
  try {
    const zipStarted = performance.now();
    const zipFile = await writeExport(dir, plays);
    const zipSeconds = (performance.now() - zipStarted) / 1000;
    const zipMb = fs.statSync(zipFile).size / 1024 ** 2;
    console.log(`generated ${plays} plays: ${zipMb.toFixed(1)} MB ZIP in ${zipSeconds.toFixed(1)} s`);
    const store = openSqliteStore(path.join(dir, 'leeloo.db'));
    const baselineRssMb = Math.round(process.memoryUsage.rss() / 1024 / 102.4) / 10;
    console.log(`RSS before the first import: ${baselineRssMb} MB`);
    try {
      const first = await timedImport(store, zipFile, plays);
      const second = await timedImport(store, zipFile, plays);
      for (const [label, run] of [['import', first], ['re-import', second]] as const) {
        console.log(`${label.padEnd(9)}: ${run.seconds.toFixed(2)} s, ${run.rowsPerSecond} records/s, peak RSS ${run.peakRssMb} MB, counts ${JSON.stringify(run.result.counts)}`);
      }
      console.log(JSON.stringify({
        plays,
        baseline_rss_mb: baselineRssMb,
        zip_mb: Number(zipMb.toFixed(1)),
        import: { seconds: Number(first.seconds.toFixed(2)), records_per_s: first.rowsPerSecond, peak_rss_mb: first.peakRssMb, imported: first.result.counts.imported },
        reimport: { seconds: Number(second.seconds.toFixed(2)), records_per_s: second.rowsPerSecond, peak_rss_mb: second.peakRssMb, imported: second.result.counts.imported, duplicate: second.result.counts.duplicate },
      }));
    } finally {
      await store.close();
    }
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

await main();
