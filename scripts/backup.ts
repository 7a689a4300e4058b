/**
 * Backs up the embedded store while the relay runs (SQLite's online backup API), with the
 * member-link secret, into a dated folder under DIR; keeps the newest N folders.
 *
 *   npx tsx scripts/backup.ts --to DIR [--keep N] [--data-dir DIR]
 *
 * --keep defaults to LEELOO_BACKUP_KEEP, else 7; --data-dir to LEELOO_DATA_DIR, else ./data.
 * Prints the folder it wrote last. Exit code 0 on success, 1 when the backup failed
 * (nothing is left half-written), 2 on usage errors.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ProtocolError } from '../protocol/index.js';
import { backupStore, KEY_NOTICE } from '../cloud/store/backup.js';

const USAGE = 'usage: npx tsx scripts/backup.ts --to DIR [--keep N] [--data-dir DIR]';

function readArguments() {
  const { values, positionals } = parseArgs({
    options: {
      to: { type: 'string' },
      keep: { type: 'string', default: process.env.LEELOO_BACKUP_KEEP || '7' },
      'data-dir': { type: 'string', default: process.env.LEELOO_DATA_DIR || './data' },
    },
  });
  if (positionals.length > 0 || !values.to) throw new Error('Give the folder to back up into with --to DIR.');
  const keep = Number(values.keep);
  if (!Number.isInteger(keep) || keep < 1) throw new Error('--keep (LEELOO_BACKUP_KEEP) must be a whole number of backups, 1 or more.');
  return { to: values.to, keep, dataDir: values['data-dir'] as string };
}

async function main(): Promise<number> {
  let args: ReturnType<typeof readArguments>;
  try {
    args = readArguments();
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    const result = await backupStore(args);
    for (const folder of result.removed) console.error(`removed old backup ${folder}`);
    console.error(`${result.manifest.crews} crews, ${result.manifest.events} crew events; ${KEY_NOTICE}`);
    console.log(`backup written to ${path.resolve(result.folder)}`);
    return 0;
  } catch (error) {
    const code = error instanceof ProtocolError ? error.code : 'internal_error';
    console.error(`backup failed (${code}): ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
