/** Retention on a real database: what it deletes, what it never touches, how it paces itself. */

import { pino } from 'pino'
import postgres from 'postgres'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startRetention } from '../../src/relay/retention'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { park, passAll } from '../helpers/outbox-state'
import { delay, waitFor } from '../helpers/wait'

const DAY = 86_400_000
let db: TestDatabase
let client: postgres.Sql
const stops: (() => Promise<void>)[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  client = postgres(db.url, { max: 1, onnotice: () => {} })
})
afterEach(async () => {
  // Last started, first stopped: a retention before the connection it runs on.
  for (const stop of stops.splice(0).reverse()) await stop()
  await db.sql`truncate outbox, outbox_parked`
})
afterAll(async () => {
  await client.end({ timeout: 1 })
  await db.close()
})

const silent = pino({ level: 'silent' })

/** A connection of its own that counts the statements sent on it: a pass sends at least two. */
function countingClient() {
  let statements = 0
  const sql = postgres(db.url, { max: 1, onnotice: () => {}, debug: () => void statements++ })
  stops.push(() => sql.end({ timeout: 1 }))
  return { sql, statements: () => statements }
}

function retention(options: { batchSize?: number; intervalMs?: number; sql?: postgres.Sql } = {}) {
  const batches: number[] = []
  const r = startRetention({
    sql: options.sql ?? client,
    maxAgeMs: 7 * DAY,
    batchSize: options.batchSize ?? 1000,
    intervalMs: options.intervalMs ?? 3_600_000, // tests call runOnce unless they want the timer
    logger: silent,
    onDeleted: (n) => batches.push(n),
  })
  stops.push(r.stop)
  return { ...r, batches }
}

/**
 * Rows in a given state, tagged by event_type. Published ones are parked as published at that
 * time (a publication time of their own); `passed` ones are published the ordinary way, by the
 * positions moving past them (which also passes every unparked row inserted before).
 */
async function insert(
  n: number,
  tag: string,
  state: {
    publishedDaysAgo?: number
    deadDaysAgo?: number
    occurredDaysAgo: number
    /** When it was written (created_at, retention's age); default: when it occurred. */
    writtenDaysAgo?: number
    passed?: boolean
  },
) {
  const ago = (days: number | undefined) => (days === undefined ? undefined : `${days} days`)
  await db.sql`
    insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
    select gen_random_uuid(), ${tag}, gen_random_uuid(), '{}',
           now() - ${`${state.occurredDaysAgo} days`}::interval
      from generate_series(1, ${n})`
  // The trigger dates every row now; these stand for rows written back then.
  await db.sql`update outbox set created_at = now() - ${`${state.writtenDaysAgo ?? state.occurredDaysAgo} days`}::interval
                where event_type = ${tag}`
  if (state.passed) await passAll(db.sql)
  if (state.publishedDaysAgo === undefined && state.deadDaysAgo === undefined) return
  await park(db.sql, db.sql`event_type = ${tag}`, {
    publishedAgo: ago(state.publishedDaysAgo),
    deadAgo: ago(state.deadDaysAgo),
  })
}

const countByTag = async () =>
  Object.fromEntries(
    (
      await db.sql<{ tag: string; n: number }[]>`
        select event_type as tag, count(*)::int as n from outbox group by event_type`
    ).map((r) => [r.tag, r.n]),
  )

describe('retention', () => {
  it('deletes old published events only: recent published, unpublished and dead stay', async () => {
    await insert(6, 'old-passed', { occurredDaysAgo: 30, passed: true })
    await insert(30, 'old-published', { occurredDaysAgo: 30, publishedDaysAgo: 30 })
    await insert(5, 'just-expired', { occurredDaysAgo: 8, publishedDaysAgo: 7.01 })
    await insert(10, 'recent-published', { occurredDaysAgo: 6.9, publishedDaysAgo: 6.9 })
    // Published long after it occurred (a requeued dead event): its publication is what counts.
    await insert(4, 'old-but-published-late', { occurredDaysAgo: 30, publishedDaysAgo: 1 })
    await insert(7, 'old-pending', { occurredDaysAgo: 60 })
    await insert(3, 'old-dead', { occurredDaysAgo: 60, deadDaysAgo: 59 })

    expect(await retention().runOnce()).toBe(41)
    expect(await countByTag()).toEqual({
      'recent-published': 10,
      'old-but-published-late': 4,
      'old-pending': 7,
      'old-dead': 3,
    })
  })

  it('a row whose occurred_at is 30 days ahead keeps no other expired row', async () => {
    await insert(20, 'before', { occurredDaysAgo: 8 })
    // A business time set ahead by its writer, written and published with its neighbours.
    await insert(1, 'ahead', { occurredDaysAgo: -30, writtenDaysAgo: 8 })
    await insert(20, 'after', { occurredDaysAgo: 8 })
    await insert(5, 'recent', { occurredDaysAgo: 0, passed: true })
    expect(await retention().runOnce()).toBe(41)
    expect(await countByTag()).toEqual({ recent: 5 })
  })

  it('2,500 old rows with batches of 1,000: all gone in one run, in three batches', async () => {
    await insert(2500, 'old', { occurredDaysAgo: 30, publishedDaysAgo: 30 })
    await insert(50, 'recent', { occurredDaysAgo: 0, publishedDaysAgo: 0 })
    const r = retention({ batchSize: 1000 })
    expect(await r.runOnce()).toBe(2500)
    expect(r.batches).toEqual([1000, 1000, 500])
    expect(await countByTag()).toEqual({ recent: 50 })
    expect(await r.runOnce()).toBe(0) // nothing left: one short (empty) batch, no callback
    expect(r.batches).toHaveLength(3)
  })

  it('runs on its timer while writers insert, and never deletes what they write', async () => {
    await insert(3000, 'old', { occurredDaysAgo: 30, publishedDaysAgo: 30 })
    const counting = countingClient()
    const r = retention({ batchSize: 200, intervalMs: 50, sql: counting.sql })
    let written = 0
    const writer = (async () => {
      for (let i = 0; i < 40; i++) {
        await insert(10, 'new-pending', { occurredDaysAgo: 0 })
        await insert(10, 'new-published', { occurredDaysAgo: 0, publishedDaysAgo: 0 })
        written += 10
        await delay(10)
      }
    })()
    await waitFor('the old rows deleted by the timer', async () => !(await countByTag()).old)
    await writer
    const sent = counting.statements()
    await waitFor(
      'two more passes, with nothing to delete',
      () => counting.statements() >= sent + 4,
    )
    expect(await countByTag()).toEqual({ 'new-pending': written, 'new-published': written })
    expect(r.batches.reduce((a, b) => a + b, 0)).toBe(3000)
    expect(Math.max(...r.batches)).toBeLessThanOrEqual(200)
  })

  it('a failing pass is logged and retried at the next interval', async () => {
    await insert(100, 'old', { occurredDaysAgo: 30, publishedDaysAgo: 30 })
    const impatient = postgres(db.url, {
      max: 1,
      onnotice: () => {},
      connection: { lock_timeout: 50 },
    })
    const warnings: string[] = []
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => warnings.push(JSON.parse(line).msg) },
    )
    // An exclusive table lock held elsewhere makes every pass fail on lock_timeout.
    const holder = db.sql.reserve()
    const locker = await holder
    await locker`begin`
    await locker`lock table outbox in access exclusive mode`
    const r = startRetention({
      sql: impatient,
      maxAgeMs: 7 * DAY,
      batchSize: 1000,
      intervalMs: 30,
      logger,
    })
    stops.push(async () => {
      await r.stop()
      await impatient.end({ timeout: 1 })
    })
    await waitFor('two failed passes', () => warnings.length >= 2)
    await locker`rollback`
    locker.release()
    await waitFor('deleted once the lock is gone', async () => !(await countByTag()).old)
    expect(warnings.every((w) => w === 'retention pass failed; retrying next interval')).toBe(true)
  })

  it('stop() ends the timer: nothing is deleted afterwards', async () => {
    const stopped = countingClient()
    const r = retention({ intervalMs: 20, sql: stopped.sql })
    await r.stop()
    const sentBeforeStop = stopped.statements()
    await insert(10, 'old', { occurredDaysAgo: 30, publishedDaysAgo: 30 })
    // A second retention on the same interval, that keeps everything: its passes are the
    // stopped one's missed ticks.
    const control = countingClient()
    const kept = startRetention({
      sql: control.sql,
      maxAgeMs: 365 * DAY,
      batchSize: 1000,
      intervalMs: 20,
      logger: silent,
    })
    stops.push(kept.stop)
    await waitFor('three passes of the other', () => control.statements() >= 6)
    expect(stopped.statements()).toBe(sentBeforeStop)
    expect(await countByTag()).toEqual({ old: 10 })
  })
})
