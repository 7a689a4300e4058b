import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { RELAY_ENV_NAMES } from '../../cloud/config.js';
import { QUEUE_ENV_NAMES } from '../../cloud/queue/queue-config.js';
import { SPOTIFY_ENV_NAMES } from '../../cloud/spotify/spotify-config.js';

/** `.env.example` is the operator's list of settings: every variable the relay reads, each with a comment. */
describe('.env.example', () => {
  it('documents every variable the relay reads, with a comment above it, and nothing it does not read', async () => {
    const lines = (await readFile(new URL('../../.env.example', import.meta.url), 'utf8')).split('\n');
    const documented = new Map<string, boolean>();
    lines.forEach((line, i) => {
      const name = /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1];
      if (!name) return;
      // The comment may sit above a group of related variables.
      let above = i - 1;
      while (above >= 0 && /^[A-Z][A-Z0-9_]*=/.test(lines[above]!)) above--;
      documented.set(name, above >= 0 && lines[above]!.startsWith('#'));
    });
    const read = [...RELAY_ENV_NAMES, ...QUEUE_ENV_NAMES, ...SPOTIFY_ENV_NAMES];
    expect(read.filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented.keys()].filter((name) => !read.includes(name))).toEqual([]);
    expect([...documented].filter(([, commented]) => !commented).map(([name]) => name)).toEqual([]);
  });
});
