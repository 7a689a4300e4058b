/**
 * Prints which folder imports which (the layering that biome.jsonc enforces), from the
 * import statements of every TypeScript file under the product's folders. A folder is
 * `protocol`, `spotify`, or `cloud/<area>` / `device/<area>` (files directly in cloud/ or
 * device/ count as `cloud` / `device`). Type-only imports count: they couple folders too.
 *
 *   npx tsx scripts/import-graph.ts [--json]
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOTS = ['protocol', 'spotify', 'cloud', 'device'];
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function* tsFiles(dir: string): Generator<string> {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(full);
    else if (entry.name.endsWith('.ts')) yield full;
  }
}

/** The folder a repository-relative file belongs to, or null outside the product's folders. */
export function folderOf(file: string): string | null {
  const parts = file.split(path.sep);
  if (!ROOTS.includes(parts[0]!)) return null;
  if ((parts[0] === 'cloud' || parts[0] === 'device') && parts.length > 2) return `${parts[0]}/${parts[1]}`;
  return parts[0]!;
}

/** Folder → imported folder → number of import statements, for the tree at `root`. */
export function importGraph(root: string): Map<string, Map<string, number>> {
  const graph = new Map<string, Map<string, number>>();
  for (const top of ROOTS) {
    for (const abs of tsFiles(path.join(root, top))) {
      const file = path.relative(root, abs);
      const from = folderOf(file)!;
      const source = fs.readFileSync(abs, 'utf8');
      for (const match of source.matchAll(IMPORT)) {
        const spec = match[1] ?? match[2]!;
        if (!spec.startsWith('.')) continue;
        const to = folderOf(path.relative(root, path.resolve(path.dirname(abs), spec)));
        if (to === null || to === from) continue;
        const edges = graph.get(from) ?? new Map<string, number>();
        edges.set(to, (edges.get(to) ?? 0) + 1);
        graph.set(from, edges);
      }
    }
  }
  return graph;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const graph = importGraph(process.cwd());
  const rows = [...graph].sort(([a], [b]) => a.localeCompare(b));
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(Object.fromEntries(rows.map(([from, edges]) => [from, Object.fromEntries([...edges].sort())]))));
  } else {
    for (const [from, edges] of rows) {
      console.log(
        `${from.padEnd(16)} → ${[...edges]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([to, n]) => `${to} (${n})`)
          .join(', ')}`,
      );
    }
    console.log(`${rows.reduce((sum, [, edges]) => sum + edges.size, 0)} folder-to-folder edges among ${rows.length} importing folders`);
  }
}
