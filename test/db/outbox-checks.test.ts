/**
 * drizzle/0015: the outbox refuses an empty aggregate id and a negative sequence at the insert,
 * and takes a writer's own `source`. On an outbox that already holds such rows, the migration
 * stops saying which rows and what to do, and changes nothing.
 */
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createDb } from '../../src/db/client'
import { migrateDatabase } from '../../src/db/migrate'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { migrationsUpTo } from '../helpers/previous-schema'

describe('the outbox checks', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(() => db.close())

  const insert = (id: string, sequence: number | null, source: string | null = null) =>
    db.sql`insert into outbox (aggregate_type, aggregate_id, event_type, payload, sequence, source)
           values ('shipment', ${id}, 'ShipmentDispatched', '{}', ${sequence}, ${source})`

  it.each([
    ['an empty aggregate id', '', 1, null, /outbox_aggregate_id_not_empty/],
    ['a negative sequence', 'SHP-1', -1, null, /outbox_sequence_not_negative/],
    ['an empty source', 'SHP-1', 1, '', /outbox_source_not_empty/],
  ])('refuse %s', async (_, id, sequence, source, constraint) => {
    await expect(insert(id, sequence, source)).rejects.toThrow(constraint)
    expect((await db.counts()).outbox).toBe(0)
  })

  it('take a key, sequence 0 or none, and a source or none', async () => {
    await insert('SHP-1', 0, '/shipping')
    await insert('SHP-1', null)
    expect((await db.counts()).outbox).toBe(2)
  })
})

describe('drizzle/0015 on an outbox with rows it would refuse', () => {
  let old: Awaited<ReturnType<typeof migrationsUpTo>>
  beforeAll(async () => {
    old = await migrationsUpTo(13)
  })
  afterAll(() => old.remove())

  it('stops, naming the rows and what to do, and adds nothing', async () => {
    const serverUrl = inject('postgresUrl')
    const name = `checks_${Math.random().toString(16).slice(2, 10)}`
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
    await admin.unsafe(`CREATE DATABASE ${name}`)
    await admin.end()
    const url = serverUrl.replace(/\/[^/]*$/, `/${name}`)
    const { db, sql } = createDb(url, { max: 1, applicationName: 'checks-test' })
    try {
      await migrate(db, { migrationsFolder: old.folder })
      await sql`insert into outbox (aggregate_type, aggregate_id, event_type, payload, sequence)
                values ('shipment', '', 'X', '{}', 1), ('shipment', 'S', 'X', '{}', -2)`
      const failure = await migrateDatabase(url).then(
        () => undefined,
        (err: unknown) => err as { cause?: { message?: string; hint?: string } },
      )
      // drizzle wraps Postgres's error: the message and hint are the cause's.
      const text = `${failure?.cause?.message} ${failure?.cause?.hint}`
      expect(text).toMatch(/2 row\(s\) with an empty aggregate_id or a negative sequence/)
      expect(text).toMatch(/where aggregate_id = '' or sequence < 0/)
      const [column] = await sql`select 1 from information_schema.columns
                                  where table_name = 'outbox' and column_name = 'source'`
      expect(column).toBeUndefined()
    } finally {
      await sql.end()
    }
  })
})
