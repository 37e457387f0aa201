/**
 * The relay's statements go through indexes however small the outbox was when the relay first
 * ran them. postgres.js prepares every statement, and after five runs Postgres keeps one generic
 * plan for it. Planned on an empty outbox (a new deployment, every benchmark phase), a sequential
 * scan looks cheapest, and nothing replaces the plan until the table is analyzed. A mark
 * planned that way compared every row of the table with every id of the batch (measured: the
 * relay's backend at 37% CPU instead of 12%, writers 10-20% slower). The check is Postgres's
 * own count of sequential scans on the table while only the relay's session uses it. The round
 * is the relay's own drain (claims, and positions stored) with a broker that acknowledges.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { earliestRetry } from '../../src/outbox/parked'
import { drain } from '../../src/relay/drain'
import { FLUSH_MS } from '../../src/relay/positions'
import { RelaySession } from '../../src/relay/session'
import { flushStats, indexReads } from '../helpers/backend-stats'
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

const policy = {
  maxAttempts: 10,
  backoff: { baseMs: 100, capMs: 1000 },
  reclaimAfterShort: false,
  topicTemplate: '{aggregate_type}.events',
}

/** One round of the relay: claims batches of `limit` and publishes them; how many it claimed. */
async function claimAndMark(limit: number): Promise<number> {
  const result = await drain(session, limit, async () => {}, policy)
  return result.claimed
}

/** Sequential scans of outbox so far. */
async function seqScans(): Promise<number> {
  await flushStats(session.sql, db.sql)
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
    await claimAndMark(100)
    await earliestRetry(session.sql, owned)
    // Now and then a position is stored too, on its own clock.
    if (i % 5 === 4) await new Promise((r) => setTimeout(r, FLUSH_MS))
  }
  await insert(20_000)
  const before = await seqScans()
  expect(await claimAndMark(500)).toBe(20_000)
  await earliestRetry(session.sql, owned)
  expect(await seqScans()).toBe(before)
})

/** Index entries the relay's backend read on outbox so far, all its indexes. */
const outboxIndexReads = () => indexReads(session.sql, db.sql, 'outbox')

// The statistics of a relay that keeps up say "nothing unpublished": autovacuum analyzes the
// outbox between batches. A backlog then (after a broker outage) is a surprise to the planner.
// The claim's hold-back probe, planned as a full walk of an index of every unpublished row for
// each candidate, read backlog x batch entries per claim: 1.8 s a claim with 3,350 waiting, a
// poll relay unable to drain 7,000 events in 10 s (measured in the bench).
it('claims a backlog in time linear in it though the statistics say nothing is unpublished', async () => {
  await claimAndMark(1000)
  await db.sql`vacuum analyze outbox`
  await insert(5000)
  const before = await outboxIndexReads()
  expect(await claimAndMark(1000)).toBe(5000)
  // Linear: the window's bounds read its 5,000 rows by transaction id once, each claim its 1,000
  // candidates by id. A walk per candidate read millions.
  expect(await outboxIndexReads()).toBeLessThan(before + 50_000)
})

/** Index entries the relay's backend read on outbox_parked so far, all its indexes. */
const parkedIndexReads = () => indexReads(session.sql, db.sql, 'outbox_parked')

// A poison storm leaves thousands of dead letters, each an open parked event. The claim's check
// "is this row's aggregate held back?" was planned as one set of every open parked event, read
// whole by every claim that found a row.
it('checks the hold-back per claimed row, not by reading every dead letter', async () => {
  await claimAndMark(1000)
  await db.sql`
    insert into outbox_parked (id, partition, aggregate_type, aggregate_id, event_id, dead_at)
    select -g, 0, 'orders', gen_random_uuid()::text, gen_random_uuid(), now()
      from generate_series(1, 20000) g`
  await db.sql`vacuum analyze outbox_parked`
  for (let i = 0; i < 10; i++) {
    await insert(10)
    await claimAndMark(1000)
  }
  const before = await parkedIndexReads()
  await insert(10)
  expect(await claimAndMark(1000)).toBe(10)
  expect(await parkedIndexReads()).toBeLessThan(before + 1000)
  await db.sql`delete from outbox_parked where id < 0`
})
