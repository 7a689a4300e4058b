import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WorkerCheckpoints } from '../../cloud/store/checkpointer.js';
import { openSqlite, type SqliteDatabase } from '../../cloud/store/sqlite.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/* A long run of writes (a history import) leaves the WAL's checkpoints to a worker thread. */

let dir: string;
let db: SqliteDatabase;
const file = () => path.join(dir, 'leeloo.db');
const walBytes = () => fs.statSync(`${file()}-wal`).size;
/** One transaction of 300 rows of 500 bytes: about 40 WAL pages, far below SQLite's 1,000-page auto-checkpoint. */
const writeRows = (run: number) => {
  const insert = db.prepare('INSERT INTO rows (run, body) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 300; i++) insert.run(run, 'x'.repeat(500));
  })();
};

beforeEach(async () => {
  dir = await makeTempDir('leeloo-checkpoints-');
  db = openSqlite(file());
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, run INTEGER NOT NULL, body TEXT NOT NULL)');
});
afterEach(async () => {
  db.close();
  await removeTempDir(dir);
});

describe('checkpoints in a worker', () => {
  it('checkpoints the WAL when due, so that the next write starts it over instead of growing it', async () => {
    const checkpoints = new WorkerCheckpoints(db, file());
    try {
      checkpoints.hold();
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      writeRows(1);
      const before = walBytes();
      await checkpoints.due();
      writeRows(2);
      // Written over the checkpointed frames from the start of the file, not after them.
      expect(walBytes()).toBeLessThan(before * 1.5);
      expect(db.prepare('SELECT COUNT(*) FROM rows').pluck().get()).toBe(600);
    } finally {
      checkpoints.release();
      await checkpoints.close();
    }
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });

  it('grows the WAL without one: the run of writes is what the worker keeps small', async () => {
    db.pragma('wal_autocheckpoint = 0');
    writeRows(1);
    const before = walBytes();
    writeRows(2);
    expect(walBytes()).toBeGreaterThan(before * 1.5);
  });

  it('hands checkpoints back to the connection when its worker cannot open the database', async () => {
    const checkpoints = new WorkerCheckpoints(db, path.join(dir, 'missing', 'leeloo.db'));
    checkpoints.hold();
    await checkpoints.due();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    // Held again after the failure: the connection keeps checkpointing itself.
    checkpoints.hold();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await checkpoints.due();
    checkpoints.release();
    await checkpoints.close();
  });
});
