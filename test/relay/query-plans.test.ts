/**
 * The relay's statements go through indexes however small the outbox was when the relay first
 * ran them. postgres.js prepares every statement, and after five runs Postgres keeps one generic
 * plan for it. Planned on an empty outbox (a new deployment, every benchmark phase), a sequential
 * scan looks cheapest, and nothing replaces the plan until the table is analyzed. A mark
 * planned that way compared every row of the table with every id of the batch (measured: the
 * relay's backend at 37% CPU instead of 12%, writers 10-20% slower). The check is Postgres's
 * own count of sequential scans on the table while only the relay's session uses it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { claimBatch, earliestRetry, markPublished } from '../../src/relay/queries'
import { RelaySession } from '../../src/relay/session'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let db: TestDatabase
let session: RelaySession
beforeAll(async () => {
  db = await createTestDatabase()
  session = new RelaySession(db.url, 'test-relay-plans')
  await session.rebalance()
})
afterAll(async () => {
  await session.close()
  await db.close()
})

const insert = (n: number) => db.sql`
  insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
  select gen_random_uuid(), 'OrderCreated', gen_random_uuid(), '{}', now()
    from generate_series(1, ${n})`

/** Sequential scans of outbox so far, after the relay's backend has reported its counts. */
async function seqScans(): Promise<number> {
  await session.sql`select pg_stat_force_next_flush()`
  await session.sql`select 1` // the flush happens when the backend goes idle after a statement
  await db.sql`select pg_stat_clear_snapshot()`
  const [row] = await db.sql<{ n: number }[]>`
    select seq_scan::int as n from pg_stat_user_tables where relname = 'outbox'`
  return row?.n ?? 0
}

it('claims and marks through indexes after its plans were made on an empty outbox', async () => {
  const owned = session.owned
  expect(owned).toHaveLength(64)
  // Ten rounds on a nearly empty table: enough for Postgres to settle on generic plans.
  for (let i = 0; i < 10; i++) {
    await insert(1)
    const batch = await claimBatch(session.sql, owned, 100)
    await markPublished(
      session.sql,
      batch.map((m) => m.id),
    )
    await earliestRetry(session.sql, owned)
  }
  await insert(20_000)
  const before = await seqScans()
  for (let i = 0; i < 5; i++) {
    const batch = await claimBatch(session.sql, owned, 500)
    expect(batch).toHaveLength(500)
    await markPublished(
      session.sql,
      batch.map((m) => m.id),
    )
    await earliestRetry(session.sql, owned)
  }
  expect(await seqScans()).toBe(before)
})
