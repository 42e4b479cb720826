import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The addon and the daemons are per process: forks isolate them.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
