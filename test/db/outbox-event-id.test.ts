/**
 * Event ids in the outbox since drizzle/0016: indexed for the operator's tools, not unique (a
 * unique index would refuse a writer reusing the id of an event published long ago, and there
 * is no "published" state in the row to make it partial on).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
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

it('accepts an event id used before', async () => {
  const eventId = crypto.randomUUID()
  await insertWithId(eventId)
  await insertWithId(eventId)
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from outbox where event_id = ${eventId}`
  expect(row?.n).toBe(2)
})

it('finds an event by its id through an index', async () => {
  const [plan] = await db.sql.begin(async (tx) => {
    await tx`set local enable_seqscan = off`
    return tx<{ 'QUERY PLAN': string }[]>`
      explain select id from outbox where event_id = ${crypto.randomUUID()}`
  })
  expect(plan?.['QUERY PLAN']).toMatch(/outbox_event_id_idx/)
})
