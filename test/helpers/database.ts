import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { inject } from 'vitest'
import { createDb } from '../../src/db/client'

export type TestDatabase = ReturnType<typeof createDb> & {
  url: string
  /** Row counts of both tables, for "nothing was written" assertions. */
  counts(): Promise<{ orders: number; outbox: number; keys: number }>
  close(): Promise<void>
}

/** A fresh, migrated database cloned from the template the global setup prepared. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = inject('postgresUrl')
  const name = `test_${randomBytes(6).toString('hex')}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE ${inject('templateDatabase')}`)
  await admin.end()
  const url = serverUrl.replace(/\/[^/]*$/, `/${name}`)
  const handle = createDb(url, { max: 5, applicationName: 'test' })
  return {
    ...handle,
    url,
    async counts() {
      const [row] = await handle.sql<{ orders: number; outbox: number; keys: number }[]>`
        select (select count(*)::int from orders) as orders,
               (select count(*)::int from outbox) as outbox,
               (select count(*)::int from idempotency_keys) as keys`
      if (!row) throw new Error('count query returned no row')
      return row
    },
    close: () => handle.sql.end({ timeout: 1 }),
  }
}
