/**
 * The adaptive doorbell on a database that is never quiet. The fallback poll is at 60 s, so
 * only the wake-up protocol (src/relay/awake.ts) can deliver within the 1 s bounds below: they
 * tell a wake-up from a poll, not a fast machine from a slow one.
 */
import { Writable } from 'node:stream'
import { pino } from 'pino'
import type postgres from 'postgres'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { noRelayMetrics } from '../../src/observability/metrics'
import { LOCK } from '../../src/outbox/locks'
import { Doorbell, type RingCause } from '../../src/relay/doorbell'
import { startListener } from '../../src/relay/listener'
import { runRelay } from '../../src/relay/relay'
import { RelaySession } from '../../src/relay/session'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { delay, waitFor } from '../helpers/wait'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
beforeEach(() => db.sql`truncate outbox`)
afterAll(() => db.close())

type Sql = TestDatabase['sql']
type Tx = postgres.TransactionSql

/** One event in its own statement; returns its id and partition. */
async function insertEvent(sql: Sql | Tx) {
  const [row] = await sql<{ event_id: string; partition: number }[]>`
    insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
    values (gen_random_uuid(), 'OrderNoted', gen_random_uuid(), '{}', clock_timestamp())
    returning event_id, partition`
  if (!row) throw new Error('no row')
  return { eventId: row.event_id, partition: row.partition }
}

/**
 * Advisory locks are per database, and other test files run relays on this server at the same
 * time: a lock of theirs on the same partition is not this writer's.
 */
const inThisDatabase = () =>
  db.sql`database = (select oid from pg_database where datname = current_database())`

/** A doorbell that says whether the LISTEN is in place and whether the relay waits on it. */
class WatchedDoorbell extends Doorbell {
  listening = false
  waiting = 0
  override ring(cause?: RingCause) {
    if (cause === 'listen') this.listening = true
    super.ring(cause)
  }
  override wait(...args: Parameters<Doorbell['wait']>) {
    this.waiting++
    return super.wait(...args).finally(() => this.waiting--)
  }
}

/** 1 s: a wake-up's latency on any machine; the fallback poll would take 60. */
const WOKEN_WITHIN_MS = 1000

/**
 * An adaptive relay (poll at 60 s) publishing to a map of event id -> time; each publish takes
 * `publishMs` (default 0).
 */
async function startRelay(
  o: { publishMs?: number; rebalanceEveryMs?: number; lingerMs?: number } = {},
) {
  const published = new Map<string, number>()
  const warnings: Record<string, unknown>[] = []
  const lockWaits: string[] = []
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk, _encoding, done) {
        warnings.push(JSON.parse(String(chunk)))
        done()
      },
    }),
  )
  const doorbell = new WatchedDoorbell()
  const listener = startListener(db.url, doorbell, logger)
  const session = new RelaySession(db.url, 'test-adaptive')
  const controller = new AbortController()
  let rings = 0
  const counting = await db.sql.listen('outbox_events', () => {
    rings++
  })
  const loop = runRelay({
    session,
    publish: async (batch) => {
      if (o.publishMs) await delay(o.publishMs)
      for (const m of batch) published.set(m.eventId, Date.now())
    },
    doorbell,
    logger,
    metrics: { ...noRelayMetrics, lockWaited: (lock) => lockWaits.push(lock) },
    mode: 'adaptive',
    batchSize: 100,
    pollIntervalMs: 60_000,
    maxAttempts: 5,
    backoff: { baseMs: 50, capMs: 500 },
    topicTemplate: '{aggregate_type}.events',
    signal: controller.signal,
    rebalanceEveryMs: o.rebalanceEveryMs,
    lingerMs: o.lingerMs,
  })
  /** Awake locks this relay holds now (of partition `p` only, if given). */
  const awakeLocks = async (p?: number) => {
    const [row] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_locks
       where locktype = 'advisory' and classid = ${LOCK.awake} and objsubid = 2
         and granted and pid = ${session.pid ?? 0} and (${p ?? null}::int is null or objid = ${p ?? 0})`
    return row?.n ?? 0
  }
  await waitFor(
    'partitions owned, LISTEN in place, the relay asleep',
    async () =>
      session.owned.length === 64 &&
      doorbell.listening &&
      doorbell.waiting > 0 &&
      (await awakeLocks()) === 0,
  )
  return {
    session,
    published,
    warnings,
    lockWaits,
    rings: () => rings,
    awakeLocks,
    async stop() {
      controller.abort()
      await loop
      await counting.unlisten()
      await listener.close()
      await session.close()
    },
  }
}

/**
 * A writer's transaction that rang: it inserted while the relay slept, so it holds its
 * partition's awake lock (shared) until it ends. One that found the relay awake for a moment
 * (a re-LISTEN on a busy machine wakes it) skipped instead: it is committed, and another opened.
 */
async function openRingingWriter(relay: Awaited<ReturnType<typeof startRelay>>) {
  for (let attempt = 1; ; attempt++) {
    const writer = openTransaction((tx) => insertEvent(tx))
    const { partition } = await writer.ready
    const [row] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_locks
       where locktype = 'advisory' and classid = ${LOCK.awake} and objid = ${partition}
         and objsubid = 2 and mode = 'ShareLock' and granted and ${inThisDatabase()}`
    if (row?.n === 1) return writer
    writer.end()
    await writer.done
    if (attempt === 5) throw new Error('no writer found the relay asleep in 5 tries')
    await waitFor('asleep', async () => (await relay.awakeLocks()) === 0)
  }
}

/** A transaction of another session, held open until `end` is called; `ready` gives its result. */
function openTransaction<T>(work: (tx: Tx) => Promise<T>) {
  let end: () => void = () => {}
  const ended = new Promise<void>((r) => {
    end = r
  })
  let started: (value: T) => void = () => {}
  const ready = new Promise<T>((r) => {
    started = r
  })
  const done = db.sql.begin(async (tx) => {
    started(await work(tx))
    await ended
  })
  return { ready, end, done }
}

type Sent = { eventId: string; partition: number; at: number }

const latencies = (sent: Sent[], published: Map<string, number>) =>
  sent.map((s) => (published.get(s.eventId) ?? Number.POSITIVE_INFINITY) - s.at)

async function sendSparse(n: number, gapMs: number): Promise<Sent[]> {
  const sent: Sent[] = []
  for (let i = 0; i < n; i++) {
    sent.push({ ...(await insertEvent(db.sql)), at: Date.now() })
    await delay(gapMs)
  }
  return sent
}

describe('adaptive wake-up beside other sessions', () => {
  it('with an unrelated transaction holding an xid, a sparse stream arrives in ms and the relay sleeps', async () => {
    const relay = await startRelay()
    const other = openTransaction((tx) => tx`select pg_current_xact_id()`)
    try {
      await other.ready
      // 100 ms apart: well past the 20 ms linger and a settle, even on a busy machine.
      const sent = await sendSparse(20, 100)
      await waitFor('all published', () => sent.every((s) => relay.published.has(s.eventId)), 5000)
      expect(Math.max(...latencies(sent, relay.published))).toBeLessThan(WOKEN_WITHIN_MS)
      // Asleep between events: the writers rang (an awake relay silences them), and no awake
      // lock is held once the stream ends.
      expect(relay.rings()).toBeGreaterThanOrEqual(15)
      await waitFor('asleep', async () => (await relay.awakeLocks()) === 0, 1000)
    } finally {
      other.end()
      await other.done
      await relay.stop()
    }
  })

  it("with a foreign writer open on partition p, other partitions' events arrive in ms, p's once it ends, and the wait is reported", async () => {
    const relay = await startRelay()
    // It inserts while the relay sleeps, so it rings and holds p's awake lock (shared) to its end.
    const foreign = openTransaction((tx) => insertEvent(tx))
    try {
      const { eventId: foreignId, partition: p } = await foreign.ready
      // Dense enough to keep the relay waking and trying p's lock for well over a second.
      const sent = await sendSparse(60, 25)
      const elsewhere = sent.filter((s) => s.partition !== p)
      const onP = sent.filter((s) => s.partition === p)
      await waitFor('the other partitions published', () =>
        elsewhere.every((s) => relay.published.has(s.eventId)),
      )
      expect(Math.max(...latencies(elsewhere, relay.published))).toBeLessThan(WOKEN_WITHIN_MS)
      expect(relay.published.has(foreignId)).toBe(false) // not committed yet
      // Reported once: a metric and one warning naming the partition and the blocking pid.
      await waitFor('the wait reported', () => relay.lockWaits.length > 0, 3000)
      expect(relay.lockWaits).toEqual(['awake'])
      const [writer] = await db.sql<{ pid: number }[]>`
        select pid from pg_locks where locktype = 'advisory' and classid = ${LOCK.awake}
           and objid = ${p} and objsubid = 2 and mode = 'ShareLock' and granted
           and ${inThisDatabase()}`
      const warning = relay.warnings.find((w) => w.partition === p)
      expect(warning).toMatchObject({ lock: 'awake', blockingPids: [writer?.pid] })
      const endedAt = Date.now()
      foreign.end()
      await foreign.done
      await waitFor('p published', () =>
        [foreignId, ...onP.map((s) => s.eventId)].every((id) => relay.published.has(id)),
      )
      expect((relay.published.get(foreignId) ?? 0) - endedAt).toBeLessThan(WOKEN_WITHIN_MS)
    } finally {
      foreign.end()
      await foreign.done
      await relay.stop()
    }
  })

  it('under a steady stream, a partition a ringing writer held is made awake once it ends, and its writers stop ringing', async () => {
    // A slow publish and a writer faster than it: every claim finds events, so the drain never
    // ends; no rebalance comes to cut it short either. A long linger keeps the relay awake
    // should the writer stall on a busy machine (a relay gone to sleep would rightly be rung).
    const relay = await startRelay({ publishMs: 5, rebalanceEveryMs: 60_000, lingerMs: 10_000 })
    const foreign = await openRingingWriter(relay) // holds p's awake lock
    let streaming = true
    const sent: Sent[] = []
    const stream = (async () => {
      while (streaming) sent.push({ ...(await insertEvent(db.sql)), at: Date.now() })
    })()
    try {
      const { eventId: foreignId, partition: p } = await foreign.ready
      let held = 0
      const awake = async () => {
        held = await relay.awakeLocks()
        return held === 63
      }
      await waitFor('the relay awake', awake).catch((err: Error) => {
        throw new Error(`${err.message}: ${held} awake locks, ${relay.published.size} published`)
      })
      // It kept trying p's lock for over a second (the wait is reported), and never got it.
      await waitFor('the wait on p reported', () => relay.lockWaits.length > 0, 5000)
      expect(await relay.awakeLocks(p)).toBe(0)
      foreign.end()
      await foreign.done
      await waitFor('p awake', async () => (await relay.awakeLocks(p)) === 1, WOKEN_WITHIN_MS)
      // Every partition awake: the stream goes on without a single NOTIFY.
      const rings = relay.rings()
      const before = sent.length
      await waitFor('50 more events written', () => sent.length - before > 50)
      expect(relay.rings()).toBe(rings)
      streaming = false
      await stream
      await waitFor('all published', () =>
        [foreignId, ...sent.map((s) => s.eventId)].every((id) => relay.published.has(id)),
      )
    } finally {
      streaming = false
      await stream
      foreign.end()
      await foreign.done
      await relay.stop()
    }
  })

  it('with a writer that skipped its NOTIFY still open, the other partitions go to sleep', async () => {
    const relay = await startRelay()
    // Keep the relay awake with a burst, and open a writer in the middle of it: it skips.
    let skipper: ReturnType<typeof openTransaction<Sent>> | undefined
    for (let i = 0; i < 50; i++) {
      await insertEvent(db.sql)
      if (i === 25) {
        skipper = openTransaction(async (tx) => ({ ...(await insertEvent(tx)), at: 0 }))
        await skipper.ready
      }
    }
    if (!skipper) throw new Error('no skipper')
    try {
      const { eventId, partition: p } = await skipper.ready
      // The relay went to sleep elsewhere: a sparse stream on other partitions rings and arrives.
      await waitFor('asleep elsewhere', async () => (await relay.awakeLocks()) === 0)
      const sent = (await sendSparse(20, 30)).filter((s) => s.partition !== p)
      await waitFor('published', () => sent.every((s) => relay.published.has(s.eventId)))
      expect(Math.max(...latencies(sent, relay.published))).toBeLessThan(WOKEN_WITHIN_MS)
      // Each ring wakes every partition for a linger; after the last one they sleep again.
      await waitFor('asleep again', async () => (await relay.awakeLocks()) === 0, WOKEN_WITHIN_MS)
      const endedAt = Date.now()
      skipper.end()
      await skipper.done
      // Its row is found by the settling partition's re-check (no ring came from it).
      await waitFor('the skipper published', () => relay.published.has(eventId), 2000)
      expect((relay.published.get(eventId) ?? 0) - endedAt).toBeLessThan(WOKEN_WITHIN_MS)
    } finally {
      skipper.end()
      await skipper.done
      await relay.stop()
    }
  })
})

/**
 * The one dangerous moment: from awake (writers skip their NOTIFY) to asleep. Each writer
 * holds its transaction open for a moment after its insert (where its trigger decided whether
 * to ring), so commits land during and after the relay's decision to sleep. Every pause is
 * longer than the linger, so every round crosses the transition.
 */
describe('adaptive wake-up, busy-to-idle transition', () => {
  it('publishes every event within a wake-up of its commit, over 200 rounds', async () => {
    const relay = await startRelay()
    const committed = new Map<string, number>()
    // Writers start a little apart and hold their transaction open for up to 50 ms after the
    // insert, longer than the 20 ms linger: some insert while the relay is awake (and skip) and
    // commit after it released its locks.
    const write = async () => {
      await delay(Math.random() * 20)
      const eventId = await db.sql.begin(async (tx) => {
        const { eventId } = await insertEvent(tx)
        await tx`select pg_sleep(${Math.random() * 0.05})`
        return eventId
      })
      committed.set(eventId, Date.now())
    }
    try {
      for (let round = 0; round < 200; round++) {
        await Promise.all(Array.from({ length: 1 + (round % 6) }, write))
        await delay(40 + Math.random() * 40)
      }
      await waitFor('all published', () => relay.published.size === committed.size, 10_000)
      const late = [...committed].filter(
        ([id, at]) => (relay.published.get(id) ?? Number.POSITIVE_INFINITY) - at > WOKEN_WITHIN_MS,
      )
      expect(late).toEqual([])
      expect(committed.size).toBeGreaterThan(600)
    } finally {
      await relay.stop()
    }
  })
})
