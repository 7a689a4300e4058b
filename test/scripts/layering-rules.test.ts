import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { importGraph } from '../../scripts/import-graph.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIOME = path.join(ROOT, 'node_modules/.bin/biome');
const run = promisify(execFile);
const trees: string[] = [];

/** A throw-away tree with the repository's biome.jsonc and the given files. */
function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leeloo-layering-'));
  trees.push(dir);
  fs.copyFileSync(path.join(ROOT, 'biome.jsonc'), path.join(dir, 'biome.jsonc'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

interface Diagnostic {
  category: string;
  location: { path: string };
}

async function lint(dir: string): Promise<string[]> {
  const result = await run(BIOME, ['lint', '--vcs-enabled=false', '--reporter=json', '.'], { cwd: dir }).catch((error: { stdout: string }) => error);
  const report = JSON.parse(result.stdout) as { diagnostics: Diagnostic[] };
  return report.diagnostics.map((d) => `${d.location.path} ${d.category}`).sort();
}

afterEach(() => {
  for (const dir of trees.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the layering rules in biome.jsonc', () => {
  it('refuse protocol/ importing our code, the relay and the gadget importing each other, the Spotify client importing more than protocol/, a feature (of the relay or the gadget: queue and MCP included) importing another, the relay store importing a feature, and import cycles', async () => {
    const dir = tree({
      'protocol/bad.ts': "import { x } from '../cloud/config.js';\nexport const y = x;\n",
      'protocol/good.ts': "import { z } from 'zod';\nimport { y } from './bad.js';\nexport const w = [z, y];\n",
      'device/screens/bad.ts': "import { x } from '../../cloud/config.js';\nexport const y = x;\n",
      'device/good.ts': "import { w } from '../protocol/good.js';\nexport const v = w;\n",
      'device/features/queue/bad.ts': "import { s } from '../spotify/link.js';\nimport { v } from '../../good.js';\nexport const q = [s, v];\n",
      'device/features/queue/relay.ts': "import { x } from '../../../cloud/config.js';\nexport const r = x;\n",
      'device/features/spotify/link.ts': "import { v } from '../../good.js';\nimport { w } from '../../../protocol/good.js';\nexport const s = [v, w];\n",
      'cloud/config.ts': 'export const x = 1;\n',
      'cloud/spotify/bad.ts': "import { v } from '../../device/good.js';\nexport const c = v;\n",
      'cloud/spotify/good.ts': "import { s } from '../../spotify/client.js';\nexport const c = s;\n",
      'cloud/web/bad.ts': "import { q } from '../queue/q.js';\nexport const w = q;\n",
      'cloud/history/good.ts': "import { s } from '../../spotify/client.js';\nimport type { P } from '../ports.js';\nexport const h: P = s;\n",
      'cloud/ports.ts': 'export type P = unknown;\n',
      'cloud/queue/q.ts': "import type { P } from '../ports.js';\nexport const q: P = 1;\n",
      'cloud/queue/pages.ts': "import { w } from '../web/bad.js';\nexport const p = w;\n",
      'cloud/queue/throwback.ts': "import { h } from '../history/good.js';\nexport const t = h;\n",
      'cloud/mcp/good.ts': "import type { P } from '../ports.js';\nimport { x } from '../config.js';\nexport const m: P = x;\n",
      'cloud/mcp/reads.ts': "import { h } from '../history/good.js';\nexport const r = h;\n",
      'cloud/mcp/order.ts': "import { q } from '../queue/q.js';\nexport const o = q;\n",
      'cloud/store/areas/plays.ts': "import type { P } from '../../ports.js';\nexport const k: P = 1;\n",
      'cloud/store/areas/queue.ts': "import { q } from '../../queue/q.js';\nexport const s = q;\n",
      'cloud/store/sqlite-plays.ts': "import { k } from './areas/plays.js';\nimport { x } from '../config.js';\nexport const p = [k, x];\n",
      'cloud/store/store.ts': "import { h } from '../history/good.js';\nexport const s = h;\n",
      'cloud/history/store-user.ts': "import { k } from '../store/areas/plays.js';\nexport const u = k;\n",
      'spotify/client.ts': "import { w } from '../protocol/good.js';\nexport const s = w;\n",
      'spotify/bad.ts': "import { x } from '../cloud/config.js';\nexport const s = x;\n",
      'cloud/a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'cloud/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    });
    expect(await lint(dir)).toEqual([
      'cloud/a.ts lint/suspicious/noImportCycles',
      'cloud/b.ts lint/suspicious/noImportCycles',
      'cloud/mcp/order.ts lint/style/noRestrictedImports',
      'cloud/mcp/reads.ts lint/style/noRestrictedImports',
      'cloud/queue/pages.ts lint/style/noRestrictedImports',
      'cloud/queue/throwback.ts lint/style/noRestrictedImports',
      'cloud/spotify/bad.ts lint/style/noRestrictedImports',
      'cloud/store/areas/queue.ts lint/style/noRestrictedImports',
      'cloud/store/store.ts lint/style/noRestrictedImports',
      'cloud/web/bad.ts lint/style/noRestrictedImports',
      'device/features/queue/bad.ts lint/style/noRestrictedImports',
      'device/features/queue/relay.ts lint/style/noRestrictedImports',
      'device/screens/bad.ts lint/style/noRestrictedImports',
      'protocol/bad.ts lint/style/noRestrictedImports',
      'spotify/bad.ts lint/style/noRestrictedImports',
    ]);
  });
});

describe('scripts/import-graph.ts', () => {
  it('counts imports between folders, type-only and dynamic ones too, not within a folder', () => {
    const dir = tree({
      'protocol/a.ts': "import { z } from 'zod';\nexport const a = z;\n",
      'cloud/queue/q.ts':
        "import type { a } from '../../protocol/a.js';\nimport { h } from '../history/h.js';\nexport const q = () => import('../history/h.js');\n",
      'cloud/history/h.ts': "import { a } from '../../protocol/a.js';\nimport { i } from './i.js';\nexport const h = [a, i];\n",
      'cloud/history/i.ts': 'export const i = 1;\n',
      'cloud/main.ts': "export { q } from './queue/q.js';\n",
    });
    const graph = importGraph(dir);
    expect(Object.fromEntries([...graph].map(([from, edges]) => [from, Object.fromEntries(edges)]))).toEqual({
      cloud: { 'cloud/queue': 1 },
      'cloud/queue': { protocol: 1, 'cloud/history': 2 },
      'cloud/history': { protocol: 1 },
    });
  });

  it('finds no import out of protocol/, none between the gadget and the relay, and only protocol/ under the Spotify client in this tree', () => {
    const graph = importGraph(ROOT);
    expect(graph.get('protocol')).toBeUndefined();
    const across = (side: string, other: string) =>
      [...graph]
        .filter(([from]) => from.startsWith(side))
        .flatMap(([from, edges]) => [...edges.keys()].filter((to) => to.startsWith(other)).map((to) => `${from} → ${to}`));
    expect(across('device', 'cloud')).toEqual([]);
    expect(across('cloud', 'device')).toEqual([]);
    expect([...(graph.get('spotify')?.keys() ?? [])]).toEqual(['protocol']);
  });
});
