/**
 * Imports a Spotify data-export ZIP into one member's listening history.
 *
 *   npx tsx scripts/import-history.ts FILE.zip --member DEVICE_ID [--data-dir DIR] [--min-play-ms N]
 *
 * Prints progress to stderr and, last, one JSON line with the counts per reason.
 * Exit code 0 on success, 1 when the import was refused (nothing is written then), 2 on usage errors.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DeviceId, ProtocolError } from '../protocol/index.js';
import { importExport } from '../cloud/history/importer.js';
import { DEFAULT_MIN_PLAY_MS } from '../cloud/history/spotify-export.js';
import { openStore } from '../cloud/store/open-store.js';

const USAGE = 'usage: npx tsx scripts/import-history.ts FILE.zip --member DEVICE_ID [--data-dir DIR] [--min-play-ms N]';

function readArguments() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      member: { type: 'string' },
      'data-dir': { type: 'string', default: process.env.LEELOO_DATA_DIR ?? './data' },
      'min-play-ms': { type: 'string', default: String(DEFAULT_MIN_PLAY_MS) },
    },
  });
  const member = DeviceId.safeParse(values.member);
  const minPlayMs = Number(values['min-play-ms']);
  if (positionals.length !== 1) throw new UsageError('Give exactly one ZIP file.');
  if (!member.success) throw new UsageError('--member must be the device id of the member (1–64 letters, digits, "_", ".", ":" or "-").');
  if (!Number.isInteger(minPlayMs) || minPlayMs < 0) throw new UsageError('--min-play-ms must be a whole number of milliseconds.');
  return { file: positionals[0] as string, memberId: member.data, dataDir: values['data-dir'] as string, minPlayMs };
}

class UsageError extends Error {}

async function main(): Promise<number> {
  let args: ReturnType<typeof readArguments>;
  try {
    args = readArguments();
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const store = await openStore({ dataDir: args.dataDir, redisUrl: undefined });
  try {
    if (!(await store.crews.getDevice(args.memberId))) {
      throw new ProtocolError('not_found', `No device "${args.memberId}" is known to the relay in ${path.resolve(args.dataDir)}.`);
    }
    let lastPercent = -1;
    const result = await importExport(store.history, args.file, {
      memberId: args.memberId,
      minPlayMs: args.minPlayMs,
      onProgress: (p) => {
        const percent = p.bytesTotal === 0 ? 100 : Math.floor((100 * p.bytesRead) / p.bytesTotal);
        if (percent !== lastPercent) process.stderr.write(`\r${p.state} ${percent}%`);
        lastPercent = percent;
      },
    });
    process.stderr.write('\n');
    console.log(JSON.stringify({ ok: true, member: args.memberId, job_id: result.jobId, counts: result.counts, files: result.files }));
    return 0;
  } catch (error) {
    const code = error instanceof ProtocolError ? error.code : 'internal_error';
    console.log(JSON.stringify({ ok: false, code, message: (error as Error).message }));
    return 1;
  } finally {
    await store.close();
  }
}

process.exitCode = await main();
