import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { RELAY_ENV_NAMES, RelayVariables } from '../../cloud/config.js';

/** A variable's default as .env.example and README write it: unset is blank there and "(unset)" here. */
function defaultOf(name: string): string {
  const value: unknown = (RelayVariables.shape as Record<string, { parse(input: unknown): unknown }>)[name]!.parse(undefined);
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return '';
  return Array.isArray(value) ? value.join(',') : String(value);
}

interface ExampleLine {
  readonly value: string;
  /** A comment sits above it, or above the group of related variables it belongs to. */
  readonly commented: boolean;
}

async function envExample(): Promise<Map<string, ExampleLine>> {
  const lines = (await readFile(new URL('../../.env.example', import.meta.url), 'utf8')).split('\n');
  const documented = new Map<string, ExampleLine>();
  lines.forEach((line, i) => {
    const [, name, value] = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line) ?? [];
    if (!name) return;
    let above = i - 1;
    while (above >= 0 && /^[A-Z][A-Z0-9_]*=/.test(lines[above]!)) above--;
    documented.set(name, { value: value!, commented: above >= 0 && lines[above]!.startsWith('#') });
  });
  return documented;
}

/** `.env.example` is the operator's list of settings: every variable the relay reads, each with a comment. */
describe('.env.example', () => {
  it('documents every variable the relay reads, with a comment above it, and nothing it does not read', async () => {
    const documented = await envExample();
    expect(RELAY_ENV_NAMES.filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented.keys()].filter((name) => !RELAY_ENV_NAMES.includes(name))).toEqual([]);
    expect([...documented].filter(([, line]) => !line.commented).map(([name]) => name)).toEqual([]);
  });

  it('gives each variable its default from the schema (blank when it has none)', async () => {
    const documented = await envExample();
    const wrong = RELAY_ENV_NAMES.filter((name) => documented.get(name)?.value !== defaultOf(name));
    expect(wrong.map((name) => `${name}=${documented.get(name)?.value} (schema: ${defaultOf(name)})`)).toEqual([]);
  });
});

describe("README's relay configuration table", () => {
  it('has one row per variable, with the schema default', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Relay configuration'), readme.indexOf('\n## ', readme.indexOf('## Relay configuration') + 1));
    const rows = new Map([...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \| `([^`]*)` \|/gm)].map((m) => [m[1]!, m[2]!]));
    expect(RELAY_ENV_NAMES.filter((name) => !rows.has(name))).toEqual([]);
    expect([...rows.keys()].filter((name) => !RELAY_ENV_NAMES.includes(name))).toEqual([]);
    const shown = (name: string) => (defaultOf(name) === '' ? '(unset)' : defaultOf(name));
    expect(RELAY_ENV_NAMES.filter((name) => rows.get(name) !== shown(name)).map((name) => `${name}: ${rows.get(name)} (schema: ${shown(name)})`)).toEqual([]);
  });
});
