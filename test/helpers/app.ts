import { pino } from 'pino'
import { afterAll, beforeAll } from 'vitest'
import { createApp } from '../../src/app'
import { createTestDatabase, type TestDatabase } from './database'

export type TestApp = { db: TestDatabase; app: ReturnType<typeof createApp> }

/** A fresh test database and the API on it (silent logs) for this file; closed after it. */
export function useTestApp(): TestApp {
  const t = {} as TestApp
  beforeAll(async () => {
    t.db = await createTestDatabase()
    t.app = createApp({ db: t.db.db, logger: pino({ level: 'silent' }) })
  })
  afterAll(() => t.db.close())
  return t
}
