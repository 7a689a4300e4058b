import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: end-to-end tests spawn relay processes of their own.
    maxWorkers: 2,
    // Test files in one worker share the imported modules instead of importing the tree again
    // for each (the suite spent 96–148 s importing; 15 s this way): every file sets up and
    // tears down its own relays, stores, clocks and fakes, and restores what it fakes.
    isolate: false,
    reporters: ['default'],
  },
});
