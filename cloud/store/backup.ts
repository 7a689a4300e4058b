import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ProtocolError } from '../../protocol/index.js';
import { renewLogEpochs } from './sqlite-crews.js';
import { SQLITE_FILE_NAME } from './store.js';

/**
 * Backup and restore of the embedded store (scripts/backup.ts, scripts/restore.ts).
 *
 * A backup is a folder `leeloo-YYYYMMDDTHHMMSSZ` holding a consistent copy of the database
 * made with SQLite's online backup API (copying the `.db` and `-wal` files of a live
 * database is not safe), the member-link secret when the data dir has one, and a
 * manifest. The encryption key (LEELOO_ENCRYPTION_KEY) is never in it: it lives in the
 * relay's environment, and a backup without it cannot decrypt Spotify tokens.
 */

export const LINK_SECRET_FILE = 'link-secret';
/** Written into the data dir after each backup: the operator's page shows it. */
export const LAST_BACKUP_FILE = 'last-backup.json';
const MANIFEST_FILE = 'manifest.json';
const FOLDER_PATTERN = /^leeloo-\d{8}T\d{6}Z$/;
export const KEY_NOTICE =
  'The encryption key (LEELOO_ENCRYPTION_KEY) is not in the backup: keep it apart from the backups (password manager or the secret store of the host); without it the restored relay cannot decrypt Spotify tokens and members must sign in again.';

export interface BackupManifest {
  readonly format: 1;
  readonly createdAt: string;
  readonly files: string[];
  readonly crews: number;
  readonly events: number;
  readonly encryptionKeyIncluded: false;
}

export interface BackupResult {
  readonly folder: string;
  readonly manifest: BackupManifest;
  /** Older backup folders removed to keep the last `keep`. */
  readonly removed: string[];
}

export interface LastBackup {
  readonly at: string;
  readonly folder: string;
}

const folderName = (now: Date) =>
  `leeloo-${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')}`;

/** Copies the live store of `dataDir` into a new dated folder under `to`, then keeps the newest `keep`. */
export async function backupStore(options: { dataDir: string; to: string; keep: number; now?: Date }): Promise<BackupResult> {
  const source = path.join(options.dataDir, SQLITE_FILE_NAME);
  if (!fs.existsSync(source)) throw new ProtocolError('not_found', `There is no store to back up at ${path.resolve(source)}.`);
  if (!Number.isInteger(options.keep) || options.keep < 1) throw new ProtocolError('invalid_message', '--keep must be a whole number of backups, 1 or more.');
  const now = options.now ?? new Date();
  fs.mkdirSync(options.to, { recursive: true, mode: 0o700 });
  const name = folderName(now);
  const folder = path.join(options.to, name);
  if (fs.existsSync(folder)) throw new ProtocolError('conflict', `${folder} already exists: one backup per second at most.`);
  // Built under a temporary name and renamed: a folder with the backup's name is complete.
  const partial = path.join(options.to, `.partial-${name}`);
  fs.rmSync(partial, { recursive: true, force: true });
  fs.mkdirSync(partial, { mode: 0o700 });
  try {
    const files = [SQLITE_FILE_NAME];
    const live = new Database(source, { readonly: true, fileMustExist: true });
    let counts: { crews: number; events: number };
    try {
      await live.backup(path.join(partial, SQLITE_FILE_NAME));
    } finally {
      live.close();
    }
    fs.chmodSync(path.join(partial, SQLITE_FILE_NAME), 0o600);
    const copy = new Database(path.join(partial, SQLITE_FILE_NAME));
    try {
      // The copy inherits WAL mode; one self-contained file is what a backup should be.
      copy.pragma('journal_mode = DELETE');
      counts = copy.prepare('SELECT (SELECT COUNT(*) FROM crews) AS crews, (SELECT COUNT(*) FROM crew_events) AS events').get() as typeof counts;
    } finally {
      copy.close();
    }
    const secret = path.join(options.dataDir, LINK_SECRET_FILE);
    if (fs.existsSync(secret)) {
      fs.copyFileSync(secret, path.join(partial, LINK_SECRET_FILE));
      fs.chmodSync(path.join(partial, LINK_SECRET_FILE), 0o600);
      files.push(LINK_SECRET_FILE);
    }
    const manifest: BackupManifest = { format: 1, createdAt: now.toISOString(), files, ...counts, encryptionKeyIncluded: false };
    fs.writeFileSync(path.join(partial, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(partial, folder);
    const last: LastBackup = { at: manifest.createdAt, folder: path.resolve(folder) };
    fs.writeFileSync(path.join(options.dataDir, LAST_BACKUP_FILE), `${JSON.stringify(last)}\n`, { mode: 0o600 });
    return { folder, manifest, removed: pruneBackups(options.to, options.keep) };
  } catch (error) {
    fs.rmSync(partial, { recursive: true, force: true });
    throw error;
  }
}

/** Removes all but the newest `keep` backup folders (only folders named like a backup). */
function pruneBackups(to: string, keep: number): string[] {
  const folders = fs
    .readdirSync(to)
    .filter((name) => FOLDER_PATTERN.test(name))
    .sort();
  const removed = folders.slice(0, Math.max(0, folders.length - keep)).map((name) => path.join(to, name));
  for (const folder of removed) fs.rmSync(folder, { recursive: true, force: true });
  return removed;
}

/** The last backup recorded in the data dir, or null. */
export function readLastBackup(dataDir: string): LastBackup | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(dataDir, LAST_BACKUP_FILE), 'utf8')) as Partial<LastBackup>;
    return typeof parsed.at === 'string' && typeof parsed.folder === 'string' ? { at: parsed.at, folder: parsed.folder } : null;
  } catch {
    return null;
  }
}

/**
 * True while a process has the store open. The relay's connection holds a shared lock on
 * the database file; an exclusive lock is only granted when no process does. The kernel
 * drops a process's locks when it dies, so a SIGKILLed relay leaves nothing stale behind
 * (unlike a pid file).
 */
export function storeInUse(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  const db = new Database(file, { timeout: 0, fileMustExist: true });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return true;
    throw error;
  } finally {
    db.close();
  }
}

/**
 * Restores a backup folder into a stopped relay's data dir: the database (its crew logs
 * get new epochs, so devices that saw later seqs resync) and the link secret. Refuses
 * while a relay has the store open.
 */
export function restoreStore(options: { from: string; dataDir: string }): BackupManifest {
  const manifest = readManifest(options.from);
  const target = path.join(options.dataDir, SQLITE_FILE_NAME);
  if (storeInUse(target)) {
    throw new ProtocolError('conflict', `A relay (or another process) has ${path.resolve(target)} open: stop the relay, then restore.`);
  }
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const staged = `${target}.restoring`;
  fs.copyFileSync(path.join(options.from, SQLITE_FILE_NAME), staged);
  fs.chmodSync(staged, 0o600);
  const db = new Database(staged);
  try {
    const check = db.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new ProtocolError('invalid_message', `The backup's database is damaged (${String(check)}); take another backup.`);
    renewLogEpochs(db);
    // Back to one file: nothing of the staged copy may stay in a -wal beside it.
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch (error) {
    db.close();
    fs.rmSync(staged, { force: true });
    throw error;
  }
  db.close();
  // A -wal left by the old (killed) relay would be replayed onto the restored file.
  for (const file of [`${target}-wal`, `${target}-shm`, `${staged}-wal`, `${staged}-shm`]) fs.rmSync(file, { force: true });
  fs.renameSync(staged, target);
  if (manifest.files.includes(LINK_SECRET_FILE)) {
    fs.copyFileSync(path.join(options.from, LINK_SECRET_FILE), path.join(options.dataDir, LINK_SECRET_FILE));
    fs.chmodSync(path.join(options.dataDir, LINK_SECRET_FILE), 0o600);
  }
  return manifest;
}

function readManifest(folder: string): BackupManifest {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(folder, MANIFEST_FILE), 'utf8')) as BackupManifest;
  } catch {
    throw new ProtocolError('not_found', `${path.resolve(folder)} is not a LEELOO backup (no readable ${MANIFEST_FILE}).`);
  }
  if (manifest.format !== 1 || !Array.isArray(manifest.files) || !manifest.files.includes(SQLITE_FILE_NAME)) {
    throw new ProtocolError('invalid_message', `${path.resolve(folder)}/${MANIFEST_FILE} is not a backup manifest this relay can restore.`);
  }
  for (const file of manifest.files) {
    if (!fs.existsSync(path.join(folder, file))) throw new ProtocolError('not_found', `The backup in ${path.resolve(folder)} lacks ${file}.`);
  }
  return manifest;
}
