/**
 * Behind a dead letter that stays for hours, its aggregate's later events pile up parked, held
 * back. A claim must not walk them: each one ran a hold-back probe per held row, over 100 ms
 * for a drain of 10 other events behind 100,000 (docs/benchmarks.md). Held ones wait outside
 * the claim's index until the dead letter is out (src/outbox/held.ts), then go out in order,
 * released 10,000 at a time (RELEASE_AT_MOST): the 20,000 here take two releases.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { discardDead, requeueDead } from '../../src/outbox/admin'
import { oldestPublishableAge } from '../../src/outbox/stats'
import { drain } from '../../src/relay/drain'
import { positionsOf } from '../../src/relay/positions'
import { RelaySession } from '../../src/relay/session'
import { indexReads } from '../helpers/backend-stats'
import { retriableError } from '../helpers/broker-errors'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { park } from '../helpers/outbox-state'

let db: TestDatabase
let session: RelaySession
beforeAll(async () => {
  db = await createTestDatabase()
  session = new RelaySession(db.url, 'test-hold-back-storm')
  await session.rebalance()
})
afterAll(async () => {
  await session.close()
  await db.close()
})

const insert = (n: number, aggregate?: string) => db.sql`
  insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
  select gen_random_uuid(), 'OrderCreated', coalesce(${aggregate ?? null}, gen_random_uuid()::text),
         jsonb_build_object('n', g), now()
    from generate_series(1, ${n}) g`

/** Dead-letters the newest event of `aggregate`; returns its event id. */
async function deadLetter(aggregate: string): Promise<string> {
  const newest = () => db.sql`id = (select max(id) from outbox where aggregate_id = ${aggregate})`
  await park(db.sql, newest(), {
    attempts: 1,
    failure: 'permanent',
    lastError: 'test',
    deadAgo: '0',
  })
  const [row] = await db.sql<{ event_id: string }[]>`select event_id from outbox where ${newest()}`
  if (!row) throw new Error('no event to dead-letter')
  return row.event_id
}

const policy = {
  maxAttempts: 10,
  backoff: { baseMs: 100, capMs: 1000 },
  reclaimAfterShort: false,
  topicTemplate: '{aggregate_type}.events',
}

const published: { aggregateId: string; id: number }[] = []
const drainAll = () =>
  drain(
    session,
    1000,
    async (batch) => {
      published.push(...batch.map((m) => ({ aggregateId: m.aggregateId, id: m.id })))
    },
    policy,
  )

/** Index entries the relay's backend read on outbox_parked so far, all its indexes. */
const parkedIndexReads = () => indexReads(session.sql, db.sql, 'outbox_parked')

const HELD = 20_000

it('claims past 20,000 events held behind a dead letter without reading them; a discard releases them in order', async () => {
  await insert(1, 'poisoned')
  const dead = await deadLetter('poisoned')
  await insert(HELD, 'poisoned')
  await drainAll()
  expect(published).toEqual([])
  const [parked] = await db.sql<{ held: number }[]>`
    select count(*) filter (where held)::int as held from outbox_parked`
  expect(parked?.held).toBe(HELD)

  // Other aggregates flow, and a claim reads a handful of parked entries, not the held ones.
  await db.sql`vacuum analyze outbox_parked`
  await drainAll()
  // Nor does the relay's lag (readiness, metrics): held events are not publishable. (Its
  // positions stored first: rows they have not passed are each looked up in outbox_parked.)
  await positionsOf(session).store(session)
  const lagFrom = await parkedIndexReads()
  expect(await oldestPublishableAge(session.sql, session.owned)).toBe(0)
  expect(await parkedIndexReads()).toBeLessThan(lagFrom + 1000)
  const before = await parkedIndexReads()
  await insert(10)
  await drainAll()
  expect(published).toHaveLength(10)
  expect(await parkedIndexReads()).toBeLessThan(before + 1000)

  // Requeued, the dead letter goes out first; then the held ones, in their order.
  published.length = 0
  await requeueDead(db.sql, { eventId: dead })
  await drainAll()
  await drainAll()
  expect(published).toHaveLength(HELD + 1)
  expect(published.every((m) => m.aggregateId === 'poisoned')).toBe(true)
  const ids = published.map((m) => m.id)
  expect(ids).toEqual([...ids].sort((a, b) => a - b))
  const [left] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from outbox_parked where published_at is null`
  expect(left?.n).toBe(0)
})

it('a discarded dead letter releases what it held back', async () => {
  published.length = 0
  await insert(1, 'discarded')
  const dead = await deadLetter('discarded')
  await insert(50, 'discarded')
  await drainAll()
  expect(published).toEqual([])
  await discardDead(db.sql, dead)
  await drainAll()
  await drainAll()
  // The 50, then the discard marker (discard-marker.ts), also of this aggregate.
  expect(published.map((m) => m.aggregateId)).toEqual(Array(51).fill('discarded'))
  const ids = published.map((m) => m.id)
  expect(ids.slice(0, 50)).toEqual([...ids.slice(0, 50)].sort((a, b) => a - b))
})

const heldOf = async (aggregate: string) => {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from outbox_parked where aggregate_id = ${aggregate} and held`
  return row?.n ?? 0
}

it('released events behind one that fails again are held again, not walked by every claim', async () => {
  published.length = 0
  await insert(1, 'flapping')
  const dead = await deadLetter('flapping')
  await insert(5000, 'flapping')
  await drainAll()
  await requeueDead(db.sql, { eventId: dead })
  await drainAll() // the requeued event goes out; the 5,000 are released
  expect(await heldOf('flapping')).toBe(0)
  // The first 1,000 fail and wait a minute; the 4,000 behind them are held again.
  const failing = { ...policy, backoff: { baseMs: 60_000, capMs: 60_000 } }
  await drain(session, 1000, async () => Promise.reject(retriableError()), failing)
  expect(await heldOf('flapping')).toBe(4000)
  // A claim reads the 1,000 waiting (their time has not come), not the 4,000.
  await drainAll()
  const before = await parkedIndexReads()
  await insert(10)
  await drainAll()
  expect(await parkedIndexReads()).toBeLessThan(before + 2500)
})

it('discards racing a relay that claims and parks their aggregates leave nothing held', async () => {
  published.length = 0
  const aggregates = Array.from({ length: 20 }, (_, i) => `racing-${i}`)
  const dead: string[] = []
  for (const a of aggregates) {
    await insert(1, a)
    dead.push(await deadLetter(a))
    await insert(20, a)
  }
  await drainAll()
  // Writers go on writing to these aggregates and the relay claims (parking them held) while
  // an operator discards the dead letters one by one.
  let writing = true
  const writers = (async () => {
    while (writing) for (const a of aggregates) await insert(1, a)
  })()
  const relay = (async () => {
    while (writing) await drainAll()
  })()
  for (const id of dead) {
    await discardDead(db.sql, id)
    await new Promise((r) => setTimeout(r, 5))
  }
  writing = false
  await Promise.all([writers, relay])
  while ((await drainAll()).claimed > 0) {}
  const [left] = await db.sql<{ held: number; open: number }[]>`
    select count(*) filter (where held)::int as held, count(*)::int as open
      from outbox_parked where published_at is null and aggregate_id like 'racing-%'`
  expect(left).toEqual({ held: 0, open: 0 })
  // Every event of these aggregates but the discarded ones went out (the discards' markers
  // too), each aggregate's in order.
  const [written] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from outbox where aggregate_id like 'racing-%'`
  const events = published.filter((m) => m.aggregateId.startsWith('racing-'))
  const ids = new Set(events.map((m) => m.id))
  expect(ids.size).toBe((written?.n ?? 0) - dead.length)
  for (const a of aggregates) {
    const order = events.filter((m) => m.aggregateId === a).map((m) => m.id)
    expect(order).toEqual([...order].sort((x, y) => x - y))
  }
})
