import { defineConfig } from 'vitest/config';

// pool 'forks': the Temporal native bridge crashes under worker threads.
export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'etcd',
          include: ['test/etcd/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'workflow',
          include: ['test/workflow/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'sandbox',
          include: ['test/sandbox/**/*.test.ts'],
          globalSetup: ['test/sandbox/global-setup.ts'],
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        // The acceptance scenario and fault runs: whole migrations in the sandbox, minutes each.
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/sandbox/global-setup.ts'],
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 20 * 60_000,
          hookTimeout: 5 * 60_000,
        },
      },
      {
        // The fault runs kept out of the test command for time (npm run faults runs them all).
        extends: true,
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/sandbox/global-setup.ts'],
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 30 * 60_000,
          hookTimeout: 5 * 60_000,
        },
      },
      {
        // Brings its own sandbox up and down: run it alone, after the sandbox project.
        extends: true,
        test: {
          name: 'lifecycle',
          include: ['test/sandbox-lifecycle/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
