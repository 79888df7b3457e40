import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A directory for the run that www-data can reach (test/helpers/project.ts).
    globalSetup: ['test/helpers/global-setup.ts'],
    // Tests wait for events, each with a generous limit; a busy machine may need several in one test.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Integration tests start servers and child processes; two at a time fits 2 cores.
    maxWorkers: 2,
  },
});
