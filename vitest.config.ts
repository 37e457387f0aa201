import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One embedded Postgres for the whole run; each test file gets its own database.
    globalSetup: ['test/global-setup.ts'],
    // Forks, not threads: test files load librdkafka through FFI and spawn child processes.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
