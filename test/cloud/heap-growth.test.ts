import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The old generation's next full-GC limit V8 sets in a fresh process holding ~20 MB, after
 * limitHeapGrowth(percent): V8 traces each limit it sets ("Limit: old size: … KB, new limit: … KB (factor)").
 */
function limitAfterFullGc(percent: number): { oldKb: number; limitKb: number; factor: string } {
  const script = `
    const { limitHeapGrowth } = await import(${JSON.stringify(path.join(ROOT, 'cloud/heap-growth.ts'))});
    limitHeapGrowth(${percent});
    globalThis.kept = Array.from({ length: 200000 }, (_, i) => ({ i, text: 'x' + i }));
    globalThis.gc();`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', '--trace-gc-verbose', '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  expect(run.status, run.stderr).toBe(0);
  const limits = [...run.stdout.matchAll(/\[HeapController\] Limit: old size: (\d+) KB, new limit: (\d+) KB \(([\d.]+)\)/g)];
  const last = limits.at(-1);
  if (!last) throw new Error(`V8 traced no heap limit:\n${run.stdout.slice(-2000)}`);
  return { oldKb: Number(last[1]), limitKb: Number(last[2]), factor: last[3]! };
}

describe('heap growth between full GCs (HEAP_GROWING_PERCENT)', () => {
  it('takes effect in a running process: the next limit is the live size times 1 + percent/100, not V8 own (up to 4×)', () => {
    const own = limitAfterFullGc(0);
    const limited = limitAfterFullGc(25);
    expect(limited.factor).toBe('1.2');
    expect(Number(own.factor)).toBeGreaterThan(1.25);
    expect(limited.limitKb).toBeLessThan(own.limitKb);
  }, 30_000);
});
