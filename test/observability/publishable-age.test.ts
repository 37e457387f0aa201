/** The lag that /readyz and relay_stalled_seconds read: only events the relay could publish now. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { oldestPublishableAge } from '../../src/outbox/stats'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { park } from '../helpers/outbox-state'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
beforeEach(() => db.sql`truncate outbox, outbox_parked`)
afterAll(() => db.close())

const ALL = Array.from({ length: 64 }, (_, p) => p)

async function insert(aggregateId: string, ageSeconds: number, dead = false) {
  const [row] = await db.sql<{ id: string }[]>`
    insert into outbox (aggregate_type, aggregate_id, event_type, payload, occurred_at)
    values ('orders', ${aggregateId}, 'OrderCreated', '{}',
            now() - ${ageSeconds} * interval '1 second')
    returning id`
  if (dead) await park(db.sql, db.sql`id = ${row?.id ?? 0}`, { deadAgo: '0' })
}

describe('oldestPublishableAge', () => {
  it('counts an event the relay could publish', async () => {
    await insert('a', 120)
    expect(await oldestPublishableAge(db.sql, ALL)).toBeGreaterThanOrEqual(120)
  })

  it('leaves out events held back behind a dead letter of their aggregate', async () => {
    await insert('a', 300, true)
    await insert('a', 200)
    expect(await oldestPublishableAge(db.sql, ALL)).toBe(0)
    await insert('b', 100) // another aggregate flows on, and counts
    const age = await oldestPublishableAge(db.sql, ALL)
    expect(age).toBeGreaterThanOrEqual(100)
    expect(age).toBeLessThan(200)
  })
})
