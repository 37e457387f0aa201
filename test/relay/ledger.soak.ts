/**
 * The ledger soak: orders stream in through the API for SOAK_SECONDS (default 60) at about
 * 170/s (10,000+ orders a minute), each followed by more events of the same order, while faults
 * are injected at random: relay processes SIGKILLed and restarted, every broker down for a
 * while, LISTEN connections terminated. Events of two aggregate types go to two topics: the
 * orders' to orders.events, and shipments with the same ids (other aggregates) to
 * shipment.events. Afterwards the set of delivered event ids must equal the set of committed
 * ones, and each aggregate's events must have arrived in order.
 * Not part of `npm test`: `npm run soak` (CI runs it for 30 s); longer: SOAK_SECONDS=600 npm run soak
 */
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { type Collector, collectMessages, startTestKafka } from '../helpers/kafka'
import { insertOrderEvents, ledger, unpublishedCount } from '../helpers/ledger'
import { type Spawned, spawnRelayProcess } from '../helpers/process'
import { delay, waitFor } from '../helpers/wait'

const seconds = Number(process.env.SOAK_SECONDS ?? 60)
const ordersPerSecond = 170
const topics = ['orders.events', 'shipment.events']
let db: TestDatabase
let kafka: MockKafka
let app: ReturnType<typeof createApp>
const relays: Spawned[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka('orders.events', { partitions: 6 })
  kafka.createTopic('shipment.events', 6)
  app = createApp({ db: db.db, logger: pino({ level: 'silent' }) })
})
afterAll(async () => {
  for (const r of relays) r.child.kill('SIGKILL')
  await db.close()
  kafka.close()
})

function spawnRelay(slot: number): Spawned {
  const relay = spawnRelayProcess(
    { databaseUrl: db.url, brokers: kafka.bootstrap, topic: '{aggregate_type}.events' },
    {
      RELAY_BATCH_SIZE: '200',
      LOG_LEVEL: 'info',
    },
  )
  relays[slot] = relay
  return relay
}

async function placeOrders(n: number): Promise<string[]> {
  const responses = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      app.request('/orders', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ item: `soak-${i}`, quantity: 1 + (i % 5) }),
      }),
    ),
  )
  const ids: string[] = []
  for (const res of responses) {
    if (res.status !== 201) throw new Error(`POST /orders answered ${res.status}`)
    ids.push(((await res.json()) as { id: string }).id)
  }
  return ids
}

async function injectFault(faults: string[]): Promise<void> {
  const pick = Math.floor(Math.random() * 3)
  if (pick === 0) {
    const slot = Math.floor(Math.random() * relays.length)
    relays[slot]?.child.kill('SIGKILL')
    await relays[slot]?.exited
    spawnRelay(slot)
    faults.push(`relay ${slot} killed`)
  } else if (pick === 1) {
    kafka.setAllBrokersDown()
    await delay(1000 + Math.random() * 2000)
    kafka.setAllBrokersUp()
    faults.push('brokers down')
  } else {
    await db.sql`select pg_terminate_backend(pid) from pg_stat_activity
                  where application_name = 'outbox-relay-listen' and datname = current_database()`
    faults.push('listeners killed')
  }
}

describe('ledger soak', () => {
  it(
    `${seconds} s of orders under random faults: every event delivered, per-order order kept`,
    async () => {
      spawnRelay(0)
      spawnRelay(1)
      const faults: string[] = []
      const until = Date.now() + seconds * 1000
      let orders = 0
      let nextFault = Date.now() + 2000
      const tickMs = 100
      while (Date.now() < until) {
        const tick = Date.now()
        const ids = await placeOrders(Math.round((ordersPerSecond * tickMs) / 1000))
        orders += ids.length
        // A third of the orders get two more events (seq 2, 3), committed later; another third
        // two shipment events under the same ids.
        await Promise.all([
          insertOrderEvents(
            db.sql,
            ids.filter((_, i) => i % 3 === 0),
            2,
            { created: true },
          ),
          insertOrderEvents(
            db.sql,
            ids.filter((_, i) => i % 3 === 1),
            2,
            { aggregateType: 'shipment' },
          ),
        ])
        if (Date.now() >= nextFault) {
          void injectFault(faults)
          nextFault = Date.now() + 2000 + Math.random() * 3000
        }
        await delay(Math.max(0, tickMs - (Date.now() - tick)))
      }
      await delay(3500) // let the last brokers-down fault end
      await waitFor(
        'the backlog drained',
        async () => (await unpublishedCount(db.sql)) === 0,
        60_000,
      ).catch(async (err: unknown) => {
        const states = await db.sql`
          select (dead_at is not null) as dead, (next_attempt_at > now()) as deferred, partition,
                 count(*)::int as n, max(attempts) as attempts, max(last_error) as error
            from outbox_unpublished group by 1, 2, 3 order by n desc limit 10`
        const owners =
          await db.sql`select pid, classid, count(*) from pg_locks where locktype = 'advisory' group by 1, 2`
        const activity =
          await db.sql`select pid, application_name, state, now() - xact_start as xact_age, left(query, 80) as query from pg_stat_activity where datname = current_database()`
        const output = relays.map((r) => r.output().slice(-3000)).join('\n----\n')
        throw new Error(
          `${err}\n${JSON.stringify(states)}\n${JSON.stringify(owners)}\n${JSON.stringify(activity)}\n${output}`,
        )
      })

      // One consumer per topic reads it whole after the run (the mock keeps it all: well under
      // its per-partition limits), so consumer-side outages are not part of the measurement.
      const consumers: Collector[] = await Promise.all(
        topics.map((topic) => collectMessages(kafka.bootstrap, topic)),
      )
      const delivered = () => consumers.reduce((n, c) => n + c.byEventId().size, 0)
      try {
        const [{ n: committed } = { n: 0 }] = await db.sql<
          { n: number }[]
        >`select count(*)::int as n from outbox`
        await waitFor('every event on the topics', () => delivered() >= committed, 60_000)
        const report = await ledger(db.sql, consumers)
        console.info(
          `soak: ${orders} orders, ${report.committed} events, ${report.duplicates} duplicates, ` +
            `faults: ${faults.length} (${faults.join(', ')})`,
        )
        expect(orders).toBeGreaterThanOrEqual(Math.floor(seconds * ordersPerSecond * 0.9))
        expect(faults.length).toBeGreaterThan(0)
        expect(report.missing).toEqual([])
        expect(report.delivered).toBe(report.committed)
        expect(report.outOfOrder).toEqual([])
        expect(consumers.map((c) => c.messages.length > 0)).toEqual([true, true])
      } finally {
        for (const c of consumers) await c.stop()
      }
    },
    (seconds + 180) * 1000,
  )
})
