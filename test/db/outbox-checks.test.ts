/**
 * drizzle/0015: the outbox refuses an empty aggregate type or id and a negative sequence at the insert,
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

  const insert = (o: { type?: string; id?: string; sequence?: number; source?: string }) =>
    db.sql`insert into outbox (aggregate_type, aggregate_id, event_type, payload, sequence, source)
           values (${o.type ?? 'shipment'}, ${o.id ?? 'SHP-1'}, 'ShipmentDispatched', '{}',
                   ${o.sequence ?? null}, ${o.source ?? null})`

  it.each([
    ['an empty aggregate type', { type: '' }, /outbox_aggregate_type_not_empty/],
    ['an empty aggregate id', { id: '' }, /outbox_aggregate_id_not_empty/],
    ['a negative sequence', { sequence: -1 }, /outbox_sequence_not_negative/],
    ['an empty source', { source: '' }, /outbox_source_not_empty/],
  ])('refuse %s', async (_, row, constraint) => {
    await expect(insert(row)).rejects.toThrow(constraint)
    expect((await db.counts()).outbox).toBe(0)
  })

  it('take a key, sequence 0 or none, and a source or none', async () => {
    await insert({ sequence: 0, source: '/shipping' })
    await insert({})
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
                values ('shipment', '', 'X', '{}', 1), ('shipment', 'S', 'X', '{}', -2),
                       ('', 'S', 'X', '{}', 1)`
      const failure = await migrateDatabase(url).then(
        () => undefined,
        (err: unknown) => err as { cause?: { message?: string; hint?: string } },
      )
      // drizzle wraps Postgres's error: the message and hint are the cause's.
      const text = `${failure?.cause?.message} ${failure?.cause?.hint}`
      expect(text).toMatch(/3 row\(s\) with an empty aggregate_type or aggregate_id, or a negative/)
      expect(text).toMatch(/where aggregate_type = '' or aggregate_id = '' or sequence < 0/)
      const [column] = await sql`select 1 from information_schema.columns
                                  where table_name = 'outbox' and column_name = 'source'`
      expect(column).toBeUndefined()
    } finally {
      await sql.end()
    }
  })
})
