import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { backupStore, readLastBackup, storeInUse } from '../../cloud/store/backup.js';
import { openSqliteStore } from '../../cloud/store/sqlite-store.js';
import { RelayProcess } from '../helpers/relay-process.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { collectUntil, hello, isType, type TestClient } from '../helpers/ws-client.js';

/* scripts/backup.ts and scripts/restore.ts against the real relay process, killed with SIGKILL after the backup. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENV = { RATE_LIMIT_PER_SECOND: '5000', RATE_LIMIT_BURST: '5000' };

function runScript(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `scripts/${script}`, ...args],
      { cwd: ROOT, env: { ...process.env, LEELOO_BACKUP_KEEP: '' } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Sends `count` texts and resolves with client_msg_id → seq once every one is acknowledged. */
async function sendTexts(client: TestClient, prefix: string, count: number): Promise<Map<string, number>> {
  const acks = Array.from({ length: count }, (_, i) => {
    const id = `${prefix}-${i}`;
    const ack = client.next(isType('ack', { client_msg_id: id }), 10_000);
    client.send({ type: 'message', msg_type: 'text', payload: { text: id }, client_msg_id: id });
    return ack.then((f) => [id, f.seq as number] as const);
  });
  return new Map(await Promise.all(acks));
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('backup while the relay runs, SIGKILL, restore, restart', () => {
  let relay: RelayProcess | undefined;
  let backups: string | undefined;
  const open: TestClient[] = [];

  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    await relay?.cleanup();
    if (backups) await removeTempDir(backups);
  });

  it('serves every crew and event up to the backup point and tells devices that are ahead to resync', async () => {
    backups = await makeTempDir('leeloo-backups-');
    relay = await RelayProcess.start({ env: ENV });
    const connect = async () => {
      const client = await relay!.connect();
      open.push(client);
      return client;
    };
    const a1 = await connect();
    const a1Id = await hello(a1, 'Ana');
    const crewA = await a1.request({ type: 'create_crew', display_name: 'Ana' }, isType('crew_created'));
    const b1 = await connect();
    const b1Id = await hello(b1, 'Bo');
    const crewB = await b1.request({ type: 'create_crew', display_name: 'Bo' }, isType('crew_created'));
    const epochBefore = (crewA.crew as { epoch: string }).epoch;
    expect(epochBefore).toMatch(/^[0-9a-f]{16}$/);

    const beforeA = await sendTexts(a1, 'a-before', 40);
    const beforeB = await sendTexts(b1, 'b-before', 15);
    // Traffic keeps flowing while the backup runs: those events may or may not be in it.
    const during = sendTexts(a1, 'a-during', 40);
    const backup = await runScript('backup.ts', ['--to', backups, '--data-dir', relay.dataDir, '--keep', '3']);
    await during;
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stderr).toContain('LEELOO_ENCRYPTION_KEY) is not in the backup');
    const folder = /backup written to (.+)$/m.exec(backup.stdout)![1]!;
    expect(fs.readdirSync(folder).sort()).toEqual(['leeloo.db', 'link-secret', 'manifest.json']);
    for (const file of fs.readdirSync(folder)) expect(mode(path.join(folder, file)), file).toBe(0o600);
    expect(readLastBackup(relay.dataDir)?.folder).toBe(folder);

    const afterA = await sendTexts(a1, 'a-after', 20);
    const aheadSeq = Math.max(...afterA.values());

    const refused = await runScript('restore.ts', [folder, '--data-dir', relay.dataDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/restore refused \(conflict\): .*stop the relay/);

    await relay.kill();
    const restored = await runScript('restore.ts', [folder, '--data-dir', relay.dataDir]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/restored the backup of .* \(2 crews, \d+ crew events\)/);
    relay = await relay.restart({ env: ENV });
    expect(mode(relay.dataDir)).toBe(0o700);
    expect(mode(path.join(relay.dataDir, 'leeloo.db'))).toBe(0o600);

    // A device that never saw past the backup point replays the crew's log from the start.
    const reader = await connect();
    const back = await hello(reader, 'Ana', { device_id: a1Id.device_id as string, device_secret: a1Id.device_secret as string });
    const restoredCrew = back.crew as { crew_code: string; latest_seq: number; epoch: string };
    expect(restoredCrew.crew_code).toBe(crewA.crew_code);
    expect(restoredCrew.epoch).not.toBe(epochBefore);
    expect(restoredCrew.latest_seq).toBeGreaterThanOrEqual(Math.max(...beforeA.values()));
    expect(restoredCrew.latest_seq).toBeLessThan(Math.min(...afterA.values()));
    reader.send({ type: 'resume', crew_code: crewA.crew_code, after_seq: 0, epoch: restoredCrew.epoch });
    const replay = await collectUntil(reader, isType('resumed'));
    const replayed = new Map(replay.filter((f) => f.type === 'message').map((f) => [f.client_msg_id as string, f.seq as number]));
    for (const [id, seq] of beforeA) expect(replayed.get(id), id).toBe(seq);
    expect([...replayed.keys()].some((id) => id.startsWith('a-after'))).toBe(false);
    // Presence events of the reconnecting devices take the restored log's next seqs: the
    // seqs the lost events had, which is why a device's old seq needs the epoch beside it.
    expect(replay.at(-1)).toMatchObject({ type: 'resumed', epoch: restoredCrew.epoch });

    // Ahead of the restored log: resync.
    const ahead = await connect();
    await hello(ahead, 'Ana', { device_id: a1Id.device_id as string, device_secret: a1Id.device_secret as string });
    const resync = await ahead.request({ type: 'resume', crew_code: crewA.crew_code, after_seq: aheadSeq }, isType('resync'));
    expect(resync).toMatchObject({ reason: 'ahead_of_relay', crew: { epoch: restoredCrew.epoch } });
    expect((resync.crew as { latest_seq: number }).latest_seq).toBeLessThan(aheadSeq);

    // A seq from before the restore that the restored log also has, named with the old epoch: resync too.
    const old = await connect();
    await hello(old, 'Ana', { device_id: a1Id.device_id as string, device_secret: a1Id.device_secret as string });
    const epochResync = await old.request({ type: 'resume', crew_code: crewA.crew_code, after_seq: 5, epoch: epochBefore }, isType('resync'));
    expect(epochResync).toMatchObject({ reason: 'epoch_changed', crew: { epoch: restoredCrew.epoch } });

    // The other crew is back too, with every event of before the backup.
    const bReader = await connect();
    const bBack = await hello(bReader, 'Bo', { device_id: b1Id.device_id as string, device_secret: b1Id.device_secret as string });
    expect((bBack.crew as { crew_code: string }).crew_code).toBe(crewB.crew_code);
    bReader.send({ type: 'resume', crew_code: crewB.crew_code, after_seq: 0 });
    const bReplay = await collectUntil(bReader, isType('resumed'));
    expect(bReplay.filter((f) => f.type === 'message').map((f) => [f.client_msg_id, f.seq])).toEqual([...beforeB]);
  }, 60_000);

  it('refuses what is not a backup, and bad arguments, with a sentence', async () => {
    const dir = await makeTempDir('leeloo-notbackup-');
    try {
      const notBackup = await runScript('restore.ts', [dir, '--data-dir', path.join(dir, 'data')]);
      expect(notBackup.code).toBe(1);
      expect(notBackup.stderr).toMatch(/restore refused \(not_found\): .* is not a LEELOO backup/);
      expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
      const noStore = await runScript('backup.ts', ['--to', path.join(dir, 'out'), '--data-dir', path.join(dir, 'nothing')]);
      expect(noStore.code).toBe(1);
      expect(noStore.stderr).toMatch(/backup failed \(not_found\): There is no store to back up/);
      const badKeep = await runScript('backup.ts', ['--to', dir, '--keep', '0']);
      expect(badKeep.code).toBe(2);
      expect(badKeep.stderr).toContain('--keep (LEELOO_BACKUP_KEEP) must be a whole number');
      const noTo = await runScript('backup.ts', []);
      expect(noTo.code).toBe(2);
    } finally {
      await removeTempDir(dir);
    }
  }, 30_000);
});

describe('backupStore', () => {
  it('keeps the newest N dated folders and leaves other files alone', async () => {
    const dir = await makeTempDir('leeloo-keep-');
    try {
      const dataDir = path.join(dir, 'data');
      const store = openSqliteStore(path.join(dataDir, 'leeloo.db'));
      const to = path.join(dir, 'backups');
      fs.mkdirSync(to);
      fs.writeFileSync(path.join(to, 'notes.txt'), 'mine');
      const made: string[] = [];
      for (let day = 1; day <= 4; day += 1) {
        const result = await backupStore({ dataDir, to, keep: 2, now: new Date(Date.UTC(2026, 10, day, 3, 0, 0)) });
        made.push(path.basename(result.folder));
      }
      expect(made[0]).toBe('leeloo-20261101T030000Z');
      expect(fs.readdirSync(to).sort()).toEqual([...made.slice(2), 'notes.txt']);
      expect(storeInUse(path.join(dataDir, 'leeloo.db'))).toBe(true);
      await store.close();
      expect(storeInUse(path.join(dataDir, 'leeloo.db'))).toBe(false);
    } finally {
      await removeTempDir(dir);
    }
  });
});
