import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One embedded Postgres for the whole run; each test file gets its own database.
    globalSetup: ['test/global-setup.ts'],
    // Forks, not threads: test files load librdkafka through FFI and spawn child processes.
    pool: 'forks',
    // Most of a file's time is waiting (for a broker's session timeout, an outage it stages, a
    // child process), not computing: two files at a time even on two cores, where vitest's
    // default (one fewer than the cores) would run one.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
