/**
 * Import benchmark: writes an extended streaming-history export of 100,000 plays as a
 * real ZIP in a temp dir, imports it into a fresh store, imports it again, and prints
 * time, rows/s, peak RSS and the longest event-loop stall of both runs (the final
 * commit is one synchronous transaction: docs/ARCHITECTURE.md, "History"). Cleans up
 * after itself. `--per-file N` puts N plays in each JSON file (`--per-file` = `--plays`:
 * one huge file, to see that memory stays flat for a single file too).
 *
 *   npx tsx scripts/bench-import.ts [--plays N] [--per-file N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import yazl from 'yazl';
import { importExport, type ImportResult } from '../cloud/history/importer.js';
import { openSqliteStore } from '../cloud/store/sqlite-store.js';

const PLAYS_PER_FILE = '16000'; // about what Spotify puts in one Streaming_History_Audio_*.json
const MEMBER = 'bench-member';
const SAMPLE_MS = 20;

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

async function writeExport(dir: string, plays: number, perFile: number): Promise<string> {
  const file = path.join(dir, 'my_spotify_data.zip');
  const zip = new yazl.ZipFile();
  for (let from = 0, n = 0; from < plays; from += perFile, n++) {
    const name = `Spotify Extended Streaming History/Streaming_History_Audio_2019-2024_${n}.json`;
    zip.addReadStream(fileStream(from, Math.min(plays, from + perFile)), name);
  }
  zip.end();
  await new Promise<void>((resolve, reject) => {
    zip.outputStream.pipe(fs.createWriteStream(file)).on('close', resolve).on('error', reject);
  });
  return file;
}

interface RunFigures { seconds: number; rowsPerSecond: number; peakRssMb: number; maxStallMs: number; commitMs: number; result: ImportResult }

async function timedImport(store: ReturnType<typeof openSqliteStore>, file: string, plays: number): Promise<RunFigures> {
  let peak = process.memoryUsage.rss();
  // The sampler's late ticks are the event-loop stalls (other connections would wait as long).
  let lastTick = performance.now();
  let maxStallMs = 0;
  const sampler = setInterval(() => {
    const now = performance.now();
    maxStallMs = Math.max(maxStallMs, now - lastTick - SAMPLE_MS);
    lastTick = now;
    peak = Math.max(peak, process.memoryUsage.rss());
  }, SAMPLE_MS);
  const started = performance.now();
  let committingAt = 0;
  try {
    const result = await importExport(store.history, file, {
      memberId: MEMBER,
      onProgress: (progress) => {
        peak = Math.max(peak, process.memoryUsage.rss());
        if (progress.state === 'committing') committingAt = performance.now();
      },
    });
    const commitMs = Math.round(performance.now() - committingAt);
    // The commit may have ended the run before the sampler could see how late it is.
    maxStallMs = Math.max(maxStallMs, performance.now() - lastTick - SAMPLE_MS);
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, process.memoryUsage.rss());
    return { seconds, rowsPerSecond: Math.round(plays / seconds), peakRssMb: Math.round(peak / 1024 / 102.4) / 10, maxStallMs: Math.round(maxStallMs), commitMs, result };
  } finally {
    clearInterval(sampler);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { plays: { type: 'string', default: '100000' }, 'per-file': { type: 'string', default: PLAYS_PER_FILE } } });
  const plays = Number(values.plays);
  const perFile = Number(values['per-file']);
  if (!Number.isInteger(plays) || plays < 1 || plays > 5_000_000) throw new Error('--plays must be a whole number from 1 to 5,000,000.');
  if (!Number.isInteger(perFile) || perFile < 1) throw new Error('--per-file must be a whole number of at least 1.');
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'leeloo-bench-'));
  try {
    const zipStarted = performance.now();
    const zipFile = await writeExport(dir, plays, perFile);
    const zipSeconds = (performance.now() - zipStarted) / 1000;
    const zipMb = fs.statSync(zipFile).size / 1024 ** 2;
    const files = Math.ceil(plays / perFile);
    console.log(`generated ${plays} plays in ${files} file${files === 1 ? '' : 's'}: ${zipMb.toFixed(1)} MB ZIP in ${zipSeconds.toFixed(1)} s`);
    const store = openSqliteStore(path.join(dir, 'leeloo.db'));
    const baselineRssMb = Math.round(process.memoryUsage.rss() / 1024 / 102.4) / 10;
    console.log(`RSS before the first import: ${baselineRssMb} MB`);
    try {
      const first = await timedImport(store, zipFile, plays);
      const second = await timedImport(store, zipFile, plays);
      for (const [label, run] of [['import', first], ['re-import', second]] as const) {
        console.log(`${label.padEnd(9)}: ${run.seconds.toFixed(2)} s, ${run.rowsPerSecond} records/s, peak RSS ${run.peakRssMb} MB, final commit ${run.commitMs} ms, longest event-loop stall ${run.maxStallMs} ms, counts ${JSON.stringify(run.result.counts)}`);
      }
      console.log(JSON.stringify({
        plays,
        files,
        baseline_rss_mb: baselineRssMb,
        zip_mb: Number(zipMb.toFixed(1)),
        import: { seconds: Number(first.seconds.toFixed(2)), records_per_s: first.rowsPerSecond, peak_rss_mb: first.peakRssMb, commit_ms: first.commitMs, max_stall_ms: first.maxStallMs, imported: first.result.counts.imported },
        reimport: { seconds: Number(second.seconds.toFixed(2)), records_per_s: second.rowsPerSecond, peak_rss_mb: second.peakRssMb, commit_ms: second.commitMs, max_stall_ms: second.maxStallMs, imported: second.result.counts.imported, duplicate: second.result.counts.duplicate },
      }));
    } finally {
      await store.close();
    }
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

await main();
