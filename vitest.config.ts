import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Under CI, a JSON report as well, from which .ci/run prints a plain `N passed, N failed` line.
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: '.testbed/vitest-report.json' }]]
      : ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['__tests__/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['__tests__/e2e/**/*.test.ts'],
          // they run dist/index.js: rebuilt from src/ first unless it is already fresh
          globalSetup: ['__tests__/testbed/bundle.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // e2e tests start registries and child processes: keep them from fighting for 2 cores
          fileParallelism: false,
        },
      },
    ],
  },
});
