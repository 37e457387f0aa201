/**
 * Publishing leaves nothing behind (issue 32): the relay's own drain, with a broker that
 * acknowledges at once, writes no version of any outbox row, so that a snapshot held open
 * elsewhere (a report, pg_dump) cannot make later claims walk what was published; and the
 * retention that deletes published rows leaves its dead versions out of the claim's path too.
 * Exact counts from pg_stat_user_tables and pg_statio_user_* (bench/cost-measure.ts).
 */
import { pino } from 'pino'
import postgres from 'postgres'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buffersOf, readTables } from '../../bench/cost-measure'
import { drain } from '../../src/relay/drain'
import { startRetention } from '../../src/relay/retention'
import { RelaySession } from '../../src/relay/session'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { unpublishedCount } from '../helpers/ledger'
import { waitFor } from '../helpers/wait'

let db: TestDatabase
let session: RelaySession
let reader: postgres.Sql
let writer: postgres.Sql
const policy = {
  maxAttempts: 10,
  backoff: { baseMs: 100, capMs: 1000 },
  topicTemplate: '{aggregate_type}.events',
}
let published = 0
/** Buffers of one idle claim on the fresh outbox. */
let fresh = 0
const publishAll = async () => {
  const r = await drain(
    session,
    1000,
    async (batch) => {
      published += batch.length
    },
    policy,
  )
  return r.published
}
/** One claim on an idle outbox: a drain that finds nothing. */
const claimBuffers = () => buffersOf(session.sql, reader, () => publishAll())
/** 1,000 events per transaction, spread over every partition. */
const insert = (n: number) => writer`
  insert into outbox (aggregate_type, aggregate_id, event_type, payload)
  select 'orders', 'order-' || (i % 3000), 'OrderCreated', jsonb_build_object('i', i)
    from generate_series(1, ${n}) i`

beforeAll(async () => {
  db = await createTestDatabase()
  // Buffers are counted database-wide: an autovacuum or autoanalyze of these tables in the
  // middle of a claim's count would be counted as the claim's.
  for (const table of ['outbox', 'outbox_parked', 'outbox_position']) {
    await db.sql`alter table ${db.sql(table)} set (autovacuum_enabled = off)`
  }
  reader = postgres(db.url, { max: 1, onnotice: () => {} })
  writer = postgres(db.url, { max: 1, onnotice: () => {} })
  session = new RelaySession(db.url, 'test-publish-cost')
  await session.rebalance()
  await publishAll() // positions loaded, statements prepared
  fresh = await claimBuffers()
})
afterAll(async () => {
  await session.close()
  await reader.end()
  await writer.end()
  await db.close()
})

/** Rows the stored positions have passed, as retention reads them (stored on their clock). */
async function passedByPositions() {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from outbox o cross join outbox_position p
     where o.xid is null or pg_visible_in_snapshot(o.xid, p.snapshots[o.partition + 1])`
  return row?.n ?? 0
}

/** n_tup_* of a table, after the writer's and the relay's backends flushed their counters. */
async function counts(table: string) {
  for (const sql of [session.sql, writer]) {
    await sql`select pg_stat_force_next_flush()`
    await sql`select 1` // flushed when the backend goes idle after the previous statement
  }
  await new Promise((r) => setTimeout(r, 50))
  return (await readTables(reader))[table] ?? { ins: 0, upd: 0, hot: 0, del: 0, dead: 0 }
}

it('publishing 10,000 events updates and deletes no outbox row; one position row per store', async () => {
  for (let i = 0; i < 10; i++) await insert(1000)
  const outbox0 = await counts('outbox')
  const position0 = await counts('outbox_position')
  published = 0
  expect(await publishAll()).toBe(10_000)
  expect(published).toBe(10_000)
  await waitFor('the positions stored', async () => (await passedByPositions()) === 10_000)
  expect(await unpublishedCount(db.sql)).toBe(0)
  const outbox1 = await counts('outbox')
  const position1 = await counts('outbox_position')
  expect(outbox1.upd + outbox1.del).toBe(outbox0.upd + outbox0.del)
  expect(outbox1.ins).toBe(outbox0.ins)
  // Ten full batches of 1,000 and the claim that found the window's end: the positions of all
  // 64 partitions are one row, stored after each full batch at most: one row version a claim.
  expect(position1.upd - position0.upd).toBeGreaterThan(0)
  expect(position1.upd - position0.upd).toBeLessThanOrEqual(11)
})

it('with a snapshot held open, a claim after 20,000 published (and deleted) stays within 2x of a fresh one', async () => {
  const held = postgres(db.url, { max: 1, onnotice: () => {} })
  const snapshot = await held.reserve()
  try {
    await snapshot`begin isolation level repeatable read`
    await snapshot`select count(*) from outbox`
    for (let i = 0; i < 20; i++) await insert(1000)
    published = 0
    expect(await publishAll()).toBe(20_000)
    const afterPublishing = await claimBuffers()
    await waitFor('the positions stored', async () => (await passedByPositions()) === 30_000)
    // Retention deletes every published row: 30,000 dead versions vacuum cannot remove yet.
    const retention = startRetention({
      sql: db.sql,
      maxAgeMs: 0,
      batchSize: 5000,
      intervalMs: 3_600_000,
      logger: pino({ level: 'silent' }),
    })
    expect(await retention.runOnce()).toBe(30_000)
    await retention.stop()
    const afterRetention = await claimBuffers()
    expect(fresh).toBeGreaterThan(0)
    expect(afterPublishing).toBeLessThanOrEqual(2 * fresh)
    expect(afterRetention).toBeLessThanOrEqual(2 * fresh)
  } finally {
    await snapshot`rollback`.catch(() => {})
    snapshot.release()
    await held.end()
  }
})
