import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimDisplay } from '../../device/sim-display.js';

describe('SimDisplay snapshots', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'leeloo-snap-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps only snapshotKeep files and continues the numbering past frame-999999 after a restart', async () => {
    for (const name of ['frame-999998.png', 'frame-999999.png', 'frame-1000000.png']) await writeFile(path.join(dir, name), 'old');
    const display = new SimDisplay({
      title: 't',
      log: pino({ level: 'silent' }),
      snapshotDir: dir,
      snapshotKeep: 2,
      mirror: { enabled: false, host: '127.0.0.1', port: 0 },
      width: 4,
      height: 2,
    });
    await display.start();
    await display.present({ width: 4, height: 2, data: new Uint8ClampedArray(4 * 2 * 4).fill(200) });
    await display.stop();
    expect((await readdir(dir)).sort()).toEqual(['frame-1000000.png', 'frame-1000001.png', 'latest.png']);
  });
});
