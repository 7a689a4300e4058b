/**
 * Import benchmark: writes an extended streaming-history export as a real ZIP in a temp
 * dir (by default issue 9's: 600 files of 5,000 plays, 3M plays), imports it into a
 * fresh store, imports it again, and prints time, rows/s, peak RSS, the commit's time and
 * the longest event-loop stall of both runs, over the whole import (a 10 ms ticker's
 * largest lateness: what a socket would wait). Cleans up after itself. `--plays N` sets
 * the total (files = plays / per-file); `--per-file` = `--plays` is one huge file, to see
 * that memory stays flat for a single file too. `--slice-rows N`: plays per commit slice.
 * Before importing, the ticker runs `--idle-seconds` (10) alone: the machine's own stalls.
 * `--zip FILE`: imports that export if it exists (written there and kept otherwise), so
 * that repeated runs skip the generation (minutes at full size); its size must match.
 *
 *   npx tsx scripts/bench-import.ts [--files N] [--per-file N] [--plays N] [--slice-rows N] [--skip-reimport] [--idle-seconds N] [--zip FILE]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import yazl from 'yazl';
import { importExport, type ImportResult } from '../cloud/history/importer.js';
import { openSqliteStore } from '../cloud/store/sqlite-store.js';
import { startRoundTripProbe, type RoundTrips } from './round-trip-probe.js';

const MEMBER = 'bench-member';
const SAMPLE_MS = 10;
/** How often the probe's client pings its socket during an import. */
const PING_MS = 20;

const FIRST_PLAY_MS = Date.UTC(2012, 0, 1);
const LAST_PLAY_MS = Date.UTC(2025, 0, 1);

/** Plays 11 minutes apart, closer when there are too many to end before LAST_PLAY_MS (a later one is invalid). */
function spacingMs(plays: number): number {
  return Math.min(11 * 60_000, Math.floor((LAST_PLAY_MS - FIRST_PLAY_MS) / plays / 1000) * 1000);
}

function record(i: number, spacing: number): Record<string, unknown> {
  const track = i % 2_500;
  const skipped = i % 10 === 0;
  return {
    ts: new Date(FIRST_PLAY_MS + i * spacing).toISOString().replace(/\.\d{3}Z$/, 'Z'),
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

/** Records per chunk of a generated file: one yield per record makes the stream machinery the bottleneck. */
const RECORDS_PER_CHUNK = 500;

/** One export file as a stream, so the generator never holds it in memory either. */
function fileStream(from: number, to: number, spacing: number): Readable {
  return Readable.from(
    (function* () {
      yield '[\n';
      for (let start = from; start < to; start += RECORDS_PER_CHUNK) {
        const lines = [];
        for (let i = start; i < Math.min(to, start + RECORDS_PER_CHUNK); i++) lines.push(JSON.stringify(record(i, spacing)));
        yield `${start === from ? '' : ',\n'}${lines.join(',\n')}`;
      }
      yield '\n]\n';
    })(),
  );
}

/** `--zip`'s export when it exists; else a new one, kept at `--zip` or written in the temp dir. */
async function exportFile(zipOption: string | undefined, dir: string, plays: number, perFile: number): Promise<{ file: string; made: string }> {
  if (zipOption !== undefined && fs.existsSync(zipOption)) return { file: zipOption, made: `reused ${zipOption}` };
  const started = performance.now();
  const file = await writeExport(zipOption ?? path.join(dir, 'my_spotify_data.zip'), plays, perFile);
  return { file, made: `generated in ${((performance.now() - started) / 1000).toFixed(1)} s` };
}

async function writeExport(file: string, plays: number, perFile: number): Promise<string> {
  const zip = new yazl.ZipFile();
  for (let from = 0, n = 0; from < plays; from += perFile, n++) {
    const name = `Spotify Extended Streaming History/Streaming_History_Audio_2019-2024_${n}.json`;
    zip.addReadStream(fileStream(from, Math.min(plays, from + perFile), spacingMs(plays)), name);
  }
  zip.end();
  await new Promise<void>((resolve, reject) => {
    zip.outputStream.pipe(fs.createWriteStream(file)).on('close', resolve).on('error', reject);
  });
  return file;
}

interface RunFigures {
  seconds: number;
  rowsPerSecond: number;
  peakRssMb: number;
  commitMs: number;
  result: ImportResult;
  /** The longest stall over the whole import, and the longest of each phase. */
  maxStallMs: number;
  readingStallMs: number;
  commitStallMs: number;
  /** A socket served by this event loop, pinged from another thread all through the import. */
  roundTrips: RoundTrips;
}

async function timedImport(store: ReturnType<typeof openSqliteStore>, file: string, plays: number, sliceRows: number | undefined): Promise<RunFigures> {
  let peak = process.memoryUsage.rss();
  // The sampler's late ticks are the event-loop stalls (other connections would wait as long).
  let lastTick = performance.now();
  const stalls = { reading: 0, committing: 0 };
  let phase: keyof typeof stalls = 'reading';
  const sample = () => {
    const now = performance.now();
    stalls[phase] = Math.max(stalls[phase], now - lastTick - SAMPLE_MS);
    lastTick = now;
  };
  const sampler = setInterval(() => {
    sample();
    peak = Math.max(peak, process.memoryUsage.rss());
  }, SAMPLE_MS);
  const probe = await startRoundTripProbe(PING_MS);
  const started = performance.now();
  let committingAt = 0;
  try {
    const result = await importExport(store.history, file, {
      memberId: MEMBER,
      sliceRows,
      onProgress: (progress) => {
        peak = Math.max(peak, process.memoryUsage.rss());
        if (progress.state === 'committing' && phase === 'reading') {
          sample();
          phase = 'committing';
          committingAt = performance.now();
        }
      },
    });
    const commitMs = Math.round(performance.now() - committingAt);
    // The commit may have ended the run before the sampler could see how late it is.
    sample();
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, process.memoryUsage.rss());
    const [readingStallMs, commitStallMs] = [Math.round(stalls.reading), Math.round(stalls.committing)];
    const roundTrips = await probe.stop();
    return {
      seconds,
      rowsPerSecond: Math.round(plays / seconds),
      peakRssMb: Math.round(peak / 1024 / 102.4) / 10,
      commitMs,
      result,
      maxStallMs: Math.max(readingStallMs, commitStallMs),
      readingStallMs,
      commitStallMs,
      roundTrips,
    };
  } finally {
    clearInterval(sampler);
    await probe.stop();
  }
}

/**
 * The same ticker with nothing else running: on a loaded machine the OS alone delays a
 * process by this much, and no import can stall less than that.
 */
async function idleStall(seconds: number): Promise<number> {
  let lastTick = performance.now();
  let max = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - lastTick - SAMPLE_MS);
    lastTick = now;
  }, SAMPLE_MS);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(ticker);
  return Math.round(max);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      files: { type: 'string', default: '600' },
      'per-file': { type: 'string', default: '5000' },
      plays: { type: 'string' },
      'slice-rows': { type: 'string' },
      'skip-reimport': { type: 'boolean', default: false },
      'idle-seconds': { type: 'string', default: '10' },
      zip: { type: 'string' },
    },
  });
  const idleSeconds = Number(values['idle-seconds']);
  if (!Number.isFinite(idleSeconds) || idleSeconds < 0) throw new Error('--idle-seconds must be a number of seconds, 0 or more.');
  const perFile = Number(values['per-file']);
  if (!Number.isInteger(perFile) || perFile < 1) throw new Error('--per-file must be a whole number of at least 1.');
  const plays = values.plays === undefined ? Number(values.files) * perFile : Number(values.plays);
  if (!Number.isInteger(plays) || plays < 1 || plays > 5_000_000)
    throw new Error('--plays (or --files times --per-file) must be a whole number from 1 to 5,000,000.');
  const sliceRows = values['slice-rows'] === undefined ? undefined : Number(values['slice-rows']);
  if (sliceRows !== undefined && (!Number.isInteger(sliceRows) || sliceRows < 1)) throw new Error('--slice-rows must be a whole number of at least 1.');
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'leeloo-bench-'));
  try {
    const { file: zipFile, made } = await exportFile(values.zip, dir, plays, perFile);
    const zipMb = fs.statSync(zipFile).size / 1024 ** 2;
    const files = Math.ceil(plays / perFile);
    console.log(`${plays} plays in ${files} file${files === 1 ? '' : 's'}: ${zipMb.toFixed(1)} MB ZIP, ${made}`);
    const store = openSqliteStore(path.join(dir, 'leeloo.db'));
    const baselineRssMb = Math.round(process.memoryUsage.rss() / 1024 / 102.4) / 10;
    const idleStallMs = await idleStall(idleSeconds);
    console.log(
      `RSS before the first import: ${baselineRssMb} MB; longest stall of the idle loop over ${idleSeconds} s: ${idleStallMs} ms (the machine's share, not the import's)`,
    );
    try {
      const first = await timedImport(store, zipFile, plays, sliceRows);
      const second = values['skip-reimport'] ? null : await timedImport(store, zipFile, plays, sliceRows);
      const records = Object.values(first.result.counts).reduce((sum, n) => sum + n, 0);
      if (records !== plays) throw new Error(`${zipFile} holds ${records} records, not the ${plays} asked for: its figures would be wrong.`);
      const figures = (run: RunFigures) => ({
        seconds: Number(run.seconds.toFixed(2)),
        records_per_s: run.rowsPerSecond,
        peak_rss_mb: run.peakRssMb,
        commit_ms: run.commitMs,
        max_stall_ms: run.maxStallMs,
        reading_stall_ms: run.readingStallMs,
        commit_stall_ms: run.commitStallMs,
        round_trip_max_ms: run.roundTrips.maxMs,
        round_trip_p99_ms: run.roundTrips.p99Ms,
        pings_sent: run.roundTrips.sent,
        pings_answered: run.roundTrips.answered,
        machine_stall_ms: run.roundTrips.machineStallMs,
        imported: run.result.counts.imported,
        duplicate: run.result.counts.duplicate,
      });
      for (const [label, run] of [
        ['import', first],
        ['re-import', second],
      ] as const) {
        if (!run) continue;
        console.log(
          `${label.padEnd(9)}: ${run.seconds.toFixed(2)} s, ${run.rowsPerSecond} records/s, peak RSS ${run.peakRssMb} MB, commit ${run.commitMs} ms, longest event-loop stall ${run.maxStallMs} ms (reading ${run.readingStallMs} ms, commit ${run.commitStallMs} ms), socket round trip max ${run.roundTrips.maxMs} ms / p99 ${run.roundTrips.p99Ms} ms (${run.roundTrips.answered} of ${run.roundTrips.sent} pings answered; an idle thread's longest stall meanwhile, the machine's share: ${run.roundTrips.machineStallMs} ms), counts ${JSON.stringify(run.result.counts)}`,
        );
      }
      console.log(
        JSON.stringify({
          plays,
          files,
          baseline_rss_mb: baselineRssMb,
          idle_stall_ms: idleStallMs,
          zip_mb: Number(zipMb.toFixed(1)),
          import: figures(first),
          ...(second ? { reimport: figures(second) } : {}),
        }),
      );
    } finally {
      await store.close();
    }
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

await main();
