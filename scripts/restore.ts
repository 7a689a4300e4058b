/**
 * Restores a backup folder made by scripts/backup.ts into a stopped relay's data dir.
 * Refuses while a relay has the store open. Crew logs get new epochs, so gadgets that saw
 * events after the backup are told to resync instead of resuming into a different log.
 *
 *   npx tsx scripts/restore.ts BACKUP_FOLDER [--data-dir DIR]
 *
 * Exit code 0 on success, 1 when the restore was refused or failed, 2 on usage errors.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ProtocolError } from '../protocol/index.js';
import { KEY_NOTICE, restoreStore } from '../cloud/store/backup.js';

const USAGE = 'usage: npx tsx scripts/restore.ts BACKUP_FOLDER [--data-dir DIR]';

function main(): number {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'data-dir': { type: 'string', default: process.env.LEELOO_DATA_DIR || './data' } },
  });
  if (positionals.length !== 1) {
    console.error(`Give exactly one backup folder.\n${USAGE}`);
    return 2;
  }
  const dataDir = values['data-dir'] as string;
  try {
    const manifest = restoreStore({ from: positionals[0]!, dataDir });
    console.error(KEY_NOTICE);
    console.log(`restored the backup of ${manifest.createdAt} (${manifest.crews} crews, ${manifest.events} crew events) into ${path.resolve(dataDir)}`);
    return 0;
  } catch (error) {
    const code = error instanceof ProtocolError ? error.code : 'internal_error';
    console.error(`restore refused (${code}): ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = main();
