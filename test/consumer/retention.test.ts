/**
 * The consumer's retention keeps up: every settled inbox row and idle order older than the
 * cutoff goes in one pass, however many; parked rows and the orders waiting on them stay.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parkMessage, releaseParked } from '../../src/consumer/parked-queries'
import { pruneConsumerTables } from '../../src/consumer/retention'
import { createDb } from '../../src/db/client'
import { enableRoleLogins, roles } from '../../src/db/roles'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.close())

describe('consumer retention', () => {
  it('deletes 30,000 old settled rows and idle orders in one pass; keeps parked ones and recent ones', async () => {
    const waiting = randomUUID()
    const recent = randomUUID()
    await db.sql`
      insert into inventory.order_versions (order_id, version, applied_at)
      select gen_random_uuid(), 2, now() - interval '10 days' from generate_series(1, 15000)`
    await db.sql`
      insert into inventory.inbox (event_id, order_id, event_type, version, outcome, received_at)
      select gen_random_uuid(), gen_random_uuid(), 'OrderCreated', 1,
             case when i % 2 = 0 then 'applied' else 'stale' end, now() - interval '10 days'
        from generate_series(1, 30000) i`
    // An old order with a parked event waiting for a gap, and a recent one.
    await db.sql`
      insert into inventory.order_versions (order_id, version, applied_at)
      values (${waiting}, 1, now() - interval '10 days'), (${recent}, 1, now())`
    await db.sql`
      insert into inventory.inbox (event_id, order_id, event_type, version, outcome, data, received_at)
      values (gen_random_uuid(), ${waiting}, 'OrderShipped', 3, 'parked', '{}', now() - interval '10 days'),
             (gen_random_uuid(), ${recent}, 'OrderCreated', 1, 'applied', null, now())`

    // As the consumer's own role: it may delete from these two tables (drizzle/0014).
    // (The same password as test/db/privileges.test.ts: roles are shared by the cluster.)
    const password = 'test-password-1'
    await enableRoleLogins(db.sql, { consumer: password })
    const url = new URL(db.url)
    url.username = roles.consumer
    url.password = password
    const consumer = createDb(url.toString(), { max: 1 })
    let deleted: Awaited<ReturnType<typeof pruneConsumerTables>>
    try {
      deleted = await pruneConsumerTables(consumer.db, new Date(Date.now() - 7 * 86_400_000))
      // ... and park and release messages.
      const id = await parkMessage(consumer.db, {
        topic: 't',
        partition: 0,
        offset: '1',
        headers: {},
        reason: 'r',
        attempts: 1,
      })
      await releaseParked(consumer.db, id, 'skipped')
    } finally {
      await consumer.sql.end({ timeout: 1 })
    }
    expect(deleted).toEqual({ inbox: 30_000, orders: 15_000 })
    const left = await db.sql`
      select (select count(*)::int from inventory.inbox) as inbox,
             (select array_agg(order_id::text order by order_id) from inventory.order_versions) as orders`
    expect(left).toEqual([{ inbox: 2, orders: [waiting, recent].sort() }])
  })
})
