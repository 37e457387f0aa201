/**
 * The adaptive doorbell's one dangerous moment: the relay going from awake (writers skip their
 * NOTIFY) to asleep. A writer that skipped must still be published promptly, never left for
 * the fallback poll (60 s here). Bursts of concurrent writers, then pauses straddling the
 * relay's linger time, many times over; every event must be published within a bound.
 */
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { enterAwake } from '../../src/relay/awake'
import { Doorbell } from '../../src/relay/doorbell'
import { startListener } from '../../src/relay/listener'
import { runRelay } from '../../src/relay/relay'
import { LOCK, RelaySession } from '../../src/relay/session'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { delay, waitFor } from '../helpers/wait'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.close())

// Each writer holds its transaction open for a moment after the insert (where its trigger
// decided whether to ring), so commits keep landing after the relay's decisions: exactly the
// writer that skipped its NOTIFY while the relay was awake and commits after it fell asleep.
const insertOne = (sql: TestDatabase['sql']) =>
  sql.begin(async (tx) => {
    await tx`
      insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
      values (gen_random_uuid(), 'OrderCreated', gen_random_uuid(), '{}', clock_timestamp())`
    await tx`select pg_sleep(${Math.random() * 0.03})`
  })

/**
 * An adaptive relay (poll at 60 s) publishing to a map of event id -> time, with the writers'
 * rings counted on a LISTEN of our own.
 */
async function startRelay(options: { lingerMs?: number } = {}) {
  const published = new Map<string, number>()
  const doorbell = new Doorbell()
  const logger = pino({ level: 'silent' })
  const listener = startListener(db.url, doorbell, logger)
  const session = new RelaySession(db.url, 'test-adaptive')
  const controller = new AbortController()
  let rings = 0
  const counting = await db.sql.listen('outbox_events', () => {
    rings++
  })
  await delay(300) // LISTEN in place
  const loop = runRelay({
    session,
    publish: async (batch) => {
      for (const m of batch) published.set(m.eventId, Date.now())
    },
    doorbell,
    logger,
    mode: 'adaptive',
    batchSize: 100,
    pollIntervalMs: 60_000,
    maxAttempts: 5,
    backoff: { baseMs: 50, capMs: 500 },
    signal: controller.signal,
    lingerMs: options.lingerMs,
  })
  await delay(300) // partitions taken, first (empty) drain done
  const insert = async () => {
    const [row] = await db.sql<{ event_id: string }[]>`
      insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
      values (gen_random_uuid(), 'OrderCreated', gen_random_uuid(), '{}', clock_timestamp())
      returning event_id`
    return { eventId: row?.event_id ?? '', at: Date.now() }
  }
  return {
    published,
    insert,
    rings: () => rings,
    async stop() {
      controller.abort()
      await loop
      await counting.unlisten()
      await listener.close()
      await session.close()
    },
  }
}

describe('adaptive wake-up, busy-to-idle transition', () => {
  it('never leaves an event for the fallback poll', async () => {
    const lingerMs = 20
    const relay = await startRelay({ lingerMs })
    const published = relay.published
    try {
      let inserted = 0
      for (let round = 0; round < 200; round++) {
        // A burst from several concurrent writers keeps the relay awake...
        const writers = 1 + (round % 6)
        await Promise.all(Array.from({ length: writers }, () => insertOne(db.sql)))
        inserted += writers
        // ...then a pause around the linger time, so the next write lands while the relay is
        // lingering, releasing its locks, waiting out writers, or already asleep.
        // Every tenth pause is longer than the bound below: a row stranded there would show.
        await delay(round % 10 === 9 ? 600 : Math.random() * lingerMs * 2.5)
      }
      await waitFor('all published', () => published.size === inserted, 10_000)
      const rows = await db.sql<{ event_id: string; inserted: Date }[]>`
        select event_id, occurred_at as inserted from outbox`
      const slowest = Math.max(
        ...rows.map(
          (r) =>
            (published.get(r.event_id) ?? Number.POSITIVE_INFINITY) -
            new Date(r.inserted).getTime(),
        ),
      )
      // Generous for a loaded 2-core CI machine, yet shorter than the long pauses (a stranded
      // row would wait at least that long) and 120x shorter than the poll.
      console.info(`adaptive transition: ${inserted} events, slowest ${slowest} ms`)
      expect(slowest).toBeLessThan(500)
      expect(slowest).toBeGreaterThan(0)
      expect(rows).toHaveLength(inserted)
    } finally {
      await relay.stop()
    }
  })
})

/**
 * How often writers ring, by stream density. Sparse (an event every 30 ms): the relay sleeps
 * between events, so nearly every writer rings, and the doorbell brings each event out at once.
 * Dense (inserts back to back): the relay stays awake and writers stop ringing.
 */
describe('adaptive wake-up, by stream density', () => {
  it('sleeps between the events of a sparse stream and wakes for each at once', async () => {
    const relay = await startRelay()
    try {
      const sent: { eventId: string; at: number }[] = []
      for (let i = 0; i < 30; i++) {
        sent.push(await relay.insert())
        await delay(30)
      }
      await waitFor('all published', () => relay.published.size === sent.length, 5000)
      const slowest = Math.max(...sent.map((s) => (relay.published.get(s.eventId) ?? 0) - s.at))
      console.info(
        `sparse stream: ${relay.rings()} rings for ${sent.length} events, slowest ${slowest} ms`,
      )
      // Lingering (50 ms, longer than the gaps) would silence nearly every ring.
      expect(relay.rings()).toBeGreaterThanOrEqual(20)
      expect(slowest).toBeLessThan(200) // the poll is at 60 s
    } finally {
      await relay.stop()
    }
  })

  it('stays awake through a dense stream, where writers stop ringing', async () => {
    const relay = await startRelay()
    try {
      const sent: { eventId: string; at: number }[] = []
      for (const until = Date.now() + 500; Date.now() < until; ) sent.push(await relay.insert())
      await waitFor('all published', () => relay.published.size === sent.length, 5000)
      console.info(`dense stream: ${relay.rings()} rings for ${sent.length} events`)
      expect(sent.length).toBeGreaterThan(50)
      expect(relay.rings()).toBeLessThan(sent.length / 4)
    } finally {
      await relay.stop()
    }
  })
})

/**
 * Waking up under load: a writer that rang holds its partition's awake lock (shared) until it
 * commits, and when load starts after a sleep every writer rings and their commits queue behind
 * each other's NOTIFY. The relay must not wait for such a writer before taking the other
 * partitions: each partition not yet taken lets its writers go on ringing.
 */
describe('adaptive wake-up, taking the awake locks', () => {
  it('takes every free awake lock at once while a writer holds one, then that one', async () => {
    const session = new RelaySession(db.url, 'test-enter-awake')
    let commit: () => void = () => {}
    const released = new Promise<void>((r) => {
      commit = r
    })
    let holding: () => void = () => {}
    const held = new Promise<void>((r) => {
      holding = r
    })
    const writer = db.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock_shared(${LOCK.awake}, 5)`
      holding()
      await released
    })
    try {
      await session.rebalance()
      expect(session.owned).toHaveLength(64)
      await held
      let done = false
      const entering = enterAwake(session).then(() => {
        done = true
      })
      const awakeLocks = async () => {
        const [row] = await db.sql<{ n: number }[]>`
          select count(*)::int as n from pg_locks
           where locktype = 'advisory' and classid = ${LOCK.awake} and objsubid = 2
             and mode = 'ExclusiveLock' and granted and pid = ${session.pid ?? 0}`
        return row?.n ?? 0
      }
      // All but partition 5 (waiting partition by partition, it stopped at 5: 5 taken).
      await waitFor('63 awake locks', async () => (await awakeLocks()) === 63, 2000)
      expect(done).toBe(false)
      commit()
      await writer
      await entering
      expect(await awakeLocks()).toBe(64)
      expect([...session.awake].sort((a, b) => a - b)).toEqual(session.owned)
    } finally {
      commit()
      await writer.catch(() => {})
      await session.close()
    }
  })
})
