import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    pool: 'forks',
    // Integration tests run real servers on a 2-core machine next to each other; in CI one retry
    // keeps a scheduling hiccup from blocking a landing. A retried test is still reported.
    retry: process.env.CI ? 1 : 0,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
