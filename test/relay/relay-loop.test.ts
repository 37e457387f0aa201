/**
 * The relay loop against a real Postgres with a recording fake Publish: what gets marked,
 * in what order, and how it behaves while publishing fails.
 */
import { randomUUID } from 'node:crypto'
import { pino } from 'pino'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { WakeupMode } from '../../src/db/doorbell-trigger'
import type { Logger } from '../../src/logger'
import { PermanentPublishError } from '../../src/relay/classify-error'
import { Doorbell } from '../../src/relay/doorbell'
import { startListener } from '../../src/relay/listener'
import type { OutboxMessage, Publish } from '../../src/relay/publish'
import { runRelay } from '../../src/relay/relay'
import { RelaySession } from '../../src/relay/session'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { unpublishedCount } from '../helpers/ledger'
import { memoryLogger } from '../helpers/memory-logger'
import { park } from '../helpers/outbox-state'
import { delay, waitFor } from '../helpers/wait'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
beforeEach(() => db.sql`truncate outbox, outbox_parked`)
afterAll(() => db.close())

async function insertEvents(n: number, aggregateId = '11111111-1111-4111-8111-111111111111') {
  await db.sql`
    insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
    select gen_random_uuid(), 'OrderCreated', ${aggregateId}, jsonb_build_object('n', i), now()
    from generate_series(1, ${n}) as i`
}

function run(
  publish: Publish,
  overrides: {
    batchSize?: number
    pollIntervalMs?: number
    mode?: WakeupMode
    rebalanceEveryMs?: number
    lingerMs?: number
    /** Sees every statement the relay's session sends. */
    debug?: (query: string) => void
    logger?: Logger
    /** LISTEN for the writers' rings, as a relay in production does (else only the poll wakes it). */
    listen?: boolean
  } = {},
) {
  const controller = new AbortController()
  const session = new RelaySession(db.url, 'test-relay', { debug: overrides.debug })
  const logger = overrides.logger ?? pino({ level: 'silent' })
  const doorbell = new Doorbell()
  const listener = overrides.listen ? startListener(db.url, doorbell, logger) : undefined
  const done = runRelay({
    session,
    mode: overrides.mode ?? 'adaptive',
    maxAttempts: 5,
    topicTemplate: '{aggregate_type}.events',
    publish,
    doorbell,
    logger,
    batchSize: overrides.batchSize ?? 10,
    pollIntervalMs: overrides.pollIntervalMs ?? 50,
    backoff: { baseMs: 20, capMs: 200 },
    signal: controller.signal,
    rebalanceEveryMs: overrides.rebalanceEveryMs,
    lingerMs: overrides.lingerMs,
  })
  return {
    session,
    stop: async () => {
      controller.abort()
      await done
      await listener?.close()
      await session.close()
    },
  }
}

const unpublished = () => unpublishedCount(db.sql)

/** Counts a session's statements, and its rebalances (the loop's tick) among them. */
function statementCounter() {
  const counts = { statements: 0, rebalances: 0 }
  const debug = (query: string) => {
    counts.statements++
    if (query.includes('as relays')) counts.rebalances++
  }
  /** Resolves once `n` more rebalances have run. */
  const ticks = (n: number) => {
    const until = counts.rebalances + n
    return waitFor(`${n} rebalances`, () => counts.rebalances >= until)
  }
  return { counts, debug, ticks }
}

describe('runRelay', () => {
  it('publishes everything once, in id order, in batches, and marks it', async () => {
    await insertEvents(35)
    const batches: OutboxMessage[][] = []
    const relay = run(async (batch) => {
      batches.push([...batch])
    })
    await waitFor('all marked', async () => (await unpublished()) === 0)
    await relay.stop()
    const ids = batches.flat().map((m) => m.id)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(new Set(ids).size).toBe(35)
    expect(batches.map((b) => b.length)).toEqual([10, 10, 10, 5])
  })

  it('lingering, publishes a stream in order, and a stop is prompt with every batch marked', async () => {
    const batches: number[][] = []
    const relay = run(
      async (batch) => {
        batches.push(batch.map((m) => m.id))
      },
      { lingerMs: 60_000 },
    )
    for (let i = 0; i < 10; i++) {
      await insertEvents(3)
      await delay(5)
    }
    await waitFor('all marked', async () => (await unpublished()) === 0)
    // Lingering now, for a minute: a stop that waited the linger out would take that long.
    const stopAt = performance.now()
    await relay.stop()
    expect(performance.now() - stopAt).toBeLessThan(10_000)
    const ids = batches.flat()
    expect(new Set(ids).size).toBe(30)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
  })

  it('in poll mode, drains full batches and stops at the first short one until the next poll', async () => {
    await insertEvents(25)
    const batches: number[] = []
    const counter = statementCounter()
    const relay = run(
      async (batch) => {
        batches.push(batch.length)
        // Events arriving while the last (short) batch is in flight wait for the next poll.
        if (batches.length === 3) await insertEvents(4)
      },
      { mode: 'poll', pollIntervalMs: 60_000, rebalanceEveryMs: 50, debug: counter.debug },
    )
    await waitFor('the first poll published', () => batches.length === 3)
    await counter.ticks(3) // the loop woke three times: no claim without a poll
    await relay.stop()
    expect(batches).toEqual([10, 10, 5])
    expect(await unpublished()).toBe(4)
  })

  it('in poll mode, a drain cut short by the rebalance tick goes on right after it, not at the next poll', async () => {
    await insertEvents(100)
    let published = 0
    const relay = run(
      async (batch) => {
        await delay(30) // several rebalance ticks pass during the drain
        published += batch.length
      },
      { mode: 'poll', pollIntervalMs: 60_000, rebalanceEveryMs: 50 },
    )
    await waitFor('all published', () => published === 100, 5000)
    await relay.stop()
    expect(await unpublished()).toBe(0)
  })

  it('marks nothing while publishing fails, backs off instead of spinning, then delivers', async () => {
    await insertEvents(5)
    let attempts = 0
    let failing = true
    const delivered: string[] = []
    const startedAt = performance.now()
    const relay = run(async (batch) => {
      attempts += 1
      if (failing) throw new Error('broker unreachable')
      delivered.push(...batch.map((m) => m.eventId))
    })
    await waitFor('eight attempts', () => attempts >= 8)
    expect(await unpublished()).toBe(5)
    // Backoff 20 ms doubling to a 200 ms cap, fully jittered: seven waits average 450 ms, and
    // all seven under 100 ms is a chance in thousands. A loop with no backoff takes a few ms.
    expect(performance.now() - startedAt).toBeGreaterThan(100)
    failing = false
    await waitFor('all marked', async () => (await unpublished()) === 0)
    await relay.stop()
    expect(delivered).toHaveLength(5)
  })

  it('never marks a batch whose publish was rejected, even partway', async () => {
    await insertEvents(3)
    let calls = 0
    const relay = run(async () => {
      calls += 1
      if (calls === 1) throw new Error('acknowledged only partly')
    })
    await waitFor('published on the second try', async () => (await unpublished()) === 0)
    await relay.stop()
    expect(calls).toBe(2)
  })

  it('drops the batch claimed while an earlier one was in flight when that one fails', async () => {
    // One order, batches of 10: while batch 2 is in flight (slowly), batch 3 is claimed. Batch 2
    // fails once; batch 3 must not be published before batch 2 is.
    await insertEvents(35)
    const delivered: number[] = []
    let calls = 0
    const relay = run(async (batch) => {
      calls += 1
      await delay(30)
      if (calls === 2) throw new Error('broker unreachable')
      delivered.push(...batch.map((m) => m.id))
    })
    await waitFor('all marked', async () => (await unpublished()) === 0)
    await relay.stop()
    const firsts = delivered.filter((id, i) => delivered.indexOf(id) === i)
    expect(firsts).toHaveLength(35)
    expect(firsts).toEqual([...firsts].sort((a, b) => a - b))
  })

  // A relay busy without a break (a long backlog, or a stream whose every claim finds
  // something) must still rebalance on time: a relay started to share the load gets its half
  // while the stream goes on, not when it ends.
  it.each([
    { stream: 'a backlog', mode: 'poll' as const },
    { stream: 'a backlog', mode: 'adaptive' as const },
    { stream: 'a steady trickle', mode: 'adaptive' as const },
  ])(
    'hands partitions to a relay started while it drains $stream ($mode)',
    async ({ stream, mode }) => {
      const backlog = stream === 'a backlog'
      if (backlog) await insertSpread(20_000) // at 10 events per 5 ms, 10 s of work
      const writing = new AbortController()
      const writer = backlog ? Promise.resolve() : trickle(writing.signal)
      let published = 0
      const busy = run(
        async (batch) => {
          if (backlog) await delay(5)
          published += batch.length
        },
        { mode, rebalanceEveryMs: 200 },
      )
      const newcomer = new RelaySession(db.url, 'test-relay-newcomer')
      try {
        await waitFor('the first relay at work', () => published > 0)
        await waitFor(
          'the newcomer owns its half',
          async () => {
            await newcomer.rebalance()
            return newcomer.owned.length === 32
          },
          3000,
          100,
        )
        const before = published
        await waitFor('the stream still flowing', () => published > before + 5)
        expect(busy.session.owned).toHaveLength(32)
        expect(new Set([...busy.session.owned, ...newcomer.owned]).size).toBe(64)
      } finally {
        writing.abort()
        await writer
        await busy.stop()
        await newcomer.close()
      }
    },
  )
})

/** `n` events of distinct orders: spread over all partitions. */
async function insertSpread(n: number) {
  await db.sql`
    insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
    select gen_random_uuid(), 'OrderCreated', gen_random_uuid(), jsonb_build_object('n', i), now()
    from generate_series(1, ${n}) as i`
}

/** An event every ~3 ms (each of its own order) until aborted. */
async function trickle(signal: AbortSignal) {
  while (!signal.aborted) {
    await insertSpread(1)
    await delay(3)
  }
}

describe('runRelay, held to account', () => {
  it('idle behind a dead letter, with a past-due event held back by it, sends few statements', async () => {
    await insertEvents(2)
    await park(db.sql, db.sql`id = (select min(id) from outbox)`, {
      attempts: 5,
      lastError: 'test',
      deadAgo: '0 seconds',
    })
    // As a deferred batch leaves it: its retry time passed, but it waits behind the dead one.
    await park(db.sql, db.sql`id = (select max(id) from outbox)`, {
      attempts: 1,
      nextAttemptAgo: '1 second',
    })
    const counter = statementCounter()
    const published: OutboxMessage[] = []
    const relay = run(async (batch) => void published.push(...batch), {
      pollIntervalMs: 60_000,
      debug: counter.debug,
    })
    await counter.ticks(2) // joined, found nothing to publish, asleep
    const before = counter.counts.statements
    await counter.ticks(2)
    const perTick = (counter.counts.statements - before) / 2
    await relay.stop()
    expect(published).toEqual([])
    // A rebalance, its heartbeat and a look at the retry times; a loop re-claiming the held
    // event sends hundreds.
    expect(perTick).toBeLessThan(50)
  })

  it('a relay whose locks are released on its own backend notices, rejoins, and publishes twice at most its batches in hand', async () => {
    const byA = new Set<string>()
    const byB = new Set<string>()
    const recorder = (set: Set<string>) => async (batch: readonly OutboxMessage[]) => {
      await delay(2)
      for (const m of batch) set.add(m.eventId)
    }
    // With no poll to fall back on, a ring is what wakes a relay between the writer's inserts.
    const options = { batchSize: 10, pollIntervalMs: 60_000, listen: true }
    const a = run(recorder(byA), options)
    await waitFor('a owns every partition', () => a.session.owned.length === 64)
    let written = 0
    const writer = (async () => {
      for (let i = 0; i < 100; i++) {
        await insertEvents(10, randomUUID())
        written += 10
        await delay(10)
      }
    })()
    await waitFor('the stream under way', () => written >= 200)
    // What a pooler's DISCARD ALL does to the session's locks, on the relay's own backend.
    await a.session.sql`select pg_advisory_unlock_all()`
    const b = run(recorder(byB), options)
    try {
      await writer
      await waitFor('all published', async () => (await unpublished()) === 0, 10_000)
      // Each rebalances until they share: all 64 between them, some for each.
      await waitFor(
        'the partitions shared by both',
        () =>
          a.session.owned.length + b.session.owned.length === 64 &&
          a.session.owned.length > 0 &&
          b.session.owned.length > 0,
      )
      const both = [...byA].filter((id) => byB.has(id))
      expect(both.length).toBeLessThanOrEqual(2 * options.batchSize)
      expect(new Set([...byA, ...byB]).size).toBe(1000)
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })
})

describe('runRelay, dead letters', () => {
  it('writes one warn line per dead-lettered event, naming it, its aggregate and why', async () => {
    await insertEvents(3)
    const [victim] = await db.sql<{ eventId: string }[]>`
      select event_id as "eventId" from outbox order by id limit 1 offset 1`
    const memory = memoryLogger()
    const counter = statementCounter()
    const relay = run(
      async (batch) => {
        const bad = batch.find((m) => m.eventId === victim?.eventId)
        if (bad) throw new PermanentPublishError(bad.eventId, 'MESSAGE_TOO_LARGE: test')
      },
      { logger: memory.logger, pollIntervalMs: 60_000, debug: counter.debug },
    )
    try {
      const line = await waitFor('the dead letter logged', () => {
        return memory.lines.find((l) => l.msg.startsWith('event dead-lettered'))
      })
      expect(line).toMatchObject({
        level: 40,
        eventId: victim?.eventId,
        aggregateType: 'orders',
        aggregateId: '11111111-1111-4111-8111-111111111111',
        reason: expect.stringMatching(/^permanent: .*MESSAGE_TOO_LARGE: test/),
      })
      // The loop went round twice more and logged it no more.
      await counter.ticks(2)
      expect(memory.lines.filter((l) => l.msg.startsWith('event dead-lettered'))).toHaveLength(1)
    } finally {
      await relay.stop()
    }
  })
})
