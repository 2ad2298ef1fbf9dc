import { defineConfig } from 'vitest/config';

// One root config; each package is a project so `vitest run --project sdk` works too.
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'sdk', root: 'packages/sdk', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'executor-local',
          root: 'packages/executor-local',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'executor-process',
          root: 'packages/executor-process',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        // Against real nats-server processes (the harness starts them); agents as real processes.
        test: {
          name: 'cluster-nats',
          root: 'packages/cluster-nats',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        // The inspector's API over real HTTP and its page in a real browser (Debian's chromium).
        test: {
          name: 'inspector',
          root: 'packages/inspector',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: { name: 'examples', root: 'examples', include: ['*/test/**/*.test.ts'] },
      },
      {
        extends: true,
        // Behaviour across the three executors at once.
        test: { name: 'integration', root: 'tests/integration', include: ['**/*.test.ts'] },
      },
      {
        extends: true,
        // Cross-executor fault injection, storms and the bad-input catalogue (issue 9).
        test: { name: 'reliability', root: 'tests/reliability', include: ['**/*.test.ts'] },
      },
      {
        extends: true,
        // The packages as published: npm pack, publint, attw, and an application outside the workspace.
        // After the other projects (group 0), so its installs and type checks load no timing test.
        test: {
          name: 'packaging',
          root: 'tests/packaging',
          include: ['**/*.test.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
    // The JSON report is what .ci/run reads for its summary line.
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Real threads and processes are started by the tests; two cores in CI.
    pool: 'forks',
    maxWorkers: 2,
  },
});
