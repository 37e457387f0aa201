/**
 * The event id is unique while an event waits to be published, and a mark takes the row out of
 * its index: a mark writes a new version of the row (not a HOT update), and an index holding it
 * would take an entry and a uniqueness check per row marked (drizzle/0011).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { markPublished } from '../../src/outbox/queries'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.close()
})

const insertWithId = (eventId: string) => db.sql`
  insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
  values (${eventId}, 'OrderCreated', gen_random_uuid(), '{}', now())`

/**
 * Index entries of each outbox index, as a vacuum counted them once it could remove the rows'
 * old versions (a moment's snapshot elsewhere in the database, autovacuum's say, can keep them:
 * then the primary key counts them too, and it vacuums again).
 */
async function indexEntries(rows: number): Promise<Record<string, number>> {
  for (let i = 0; ; i++) {
    await db.sql`vacuum outbox`
    const found = await db.sql<{ name: string; n: number }[]>`
      select c.relname as name, c.reltuples::int as n
        from pg_index i join pg_class c on c.oid = i.indexrelid
       where i.indrelid = 'outbox'::regclass`
    const entries = Object.fromEntries(found.map((r) => [r.name, r.n]))
    if (entries.outbox_pkey === rows || i === 20) return entries
    await new Promise((r) => setTimeout(r, 100))
  }
}

it('refuses a second waiting event with the same id', async () => {
  const eventId = crypto.randomUUID()
  await insertWithId(eventId)
  await expect(insertWithId(eventId)).rejects.toMatchObject({
    code: '23505',
    constraint_name: 'outbox_event_id_unpublished_idx',
  })
})

it('keeps published rows out of the event id index, and only them', async () => {
  await db.sql`truncate outbox`
  await db.sql`
    insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
    select gen_random_uuid(), 'OrderCreated', gen_random_uuid(), '{}', now()
      from generate_series(1, 100)`
  const ids = await db.sql<{ id: number }[]>`select id::int from outbox order by id limit 60`
  await markPublished(
    db.sql,
    ids.map((r) => r.id),
  )
  const entries = await indexEntries(100)
  expect(entries.outbox_event_id_unpublished_idx).toBe(40)
  expect(entries.outbox_pkey).toBe(100)
  // The full unique constraint of before is gone, not beside it.
  expect(Object.keys(entries)).not.toContain('outbox_event_id_unique')
})
