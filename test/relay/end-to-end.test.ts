/**
 * The whole path on real parts: HTTP handler -> Postgres (order + outbox in one transaction)
 * -> NOTIFY -> relay -> Kafka-protocol broker (librdkafka's mock) -> a kafkajs consumer.
 */
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { fitDoorbellTrigger } from '../../src/db/doorbell-trigger'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { LOCK } from '../../src/outbox/locks'
import type { RelayService } from '../../src/relay/start-relay'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { type Collector, collectMessages, startTestKafka } from '../helpers/kafka'
import { unpublishedCount } from '../helpers/ledger'
import { startTestRelay } from '../helpers/relay'
import { waitFor } from '../helpers/wait'

const topic = 'orders.events'
let db: TestDatabase
let kafka: MockKafka
let consumer: Collector
let app: ReturnType<typeof createApp>
let relay: RelayService | undefined

beforeAll(async () => {
  db = await createTestDatabase()
  app = createApp({ db: db.db, logger: pino({ level: 'silent' }) })
})
afterEach(async () => {
  await relay?.stop()
  relay = undefined
})
afterAll(async () => {
  await db.close()
})

async function placeOrder(item = 'book', quantity = 2) {
  const res = await app.request('/orders', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ item, quantity }),
  })
  expect(res.status).toBe(201)
  return (await res.json()) as { id: string }
}

/** One sample of a relay's /metrics, e.g. `relay_wakeups_total{cause="notify"}`. */
async function sample(service: RelayService, series: string) {
  const text = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return Number(line?.split(' ')[1] ?? Number.NaN)
}
const notifyWakeups = (service: RelayService) =>
  sample(service, 'relay_wakeups_total{cause="notify"}')

/** The relay's /readyz no longer waits for its LISTEN connection to answer a ping. */
async function listenConfirmed(service: RelayService) {
  const res = await fetch(`http://127.0.0.1:${service.httpPort}/readyz`)
  const { reasons } = (await res.json()) as { reasons: string[] }
  return !reasons.some((r) => r.startsWith('LISTEN connection'))
}

/** Awake locks the relay holds (adaptive: none while it sleeps). */
async function awakeLocks() {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from pg_locks l join pg_stat_activity a using (pid)
     where l.locktype = 'advisory' and l.classid = ${LOCK.awake} and l.objsubid = 2
       and l.granted and a.application_name = 'outbox-relay' and a.datname = current_database()`
  return row?.n ?? 0
}

const messagesFor = (orderId: string) => consumer.messages.filter((m) => m.key === orderId)
const unpublished = () => unpublishedCount(db.sql)

describe.each(['adaptive', 'notify', 'poll'] as const)('relay, %s wake-up', (mode) => {
  // Each mode gets its own cluster and consumer: the outage test below cuts the consumer off,
  // and a later mode must not depend on how fast a kafkajs consumer rejoins (on a 2-core CI
  // machine it did not within the test's bound).
  // And each mode gets the database its migration would give: `poll`'s has no trigger work.
  beforeAll(async () => {
    await fitDoorbellTrigger(db.sql, mode)
    kafka = startTestKafka(topic)
    consumer = await collectMessages(kafka.bootstrap, topic)
  })
  const startRelay = (settings: Record<string, string> = {}) =>
    startTestRelay({
      databaseUrl: db.url,
      brokers: kafka.bootstrap,
      topic,
      RELAY_WAKEUP: mode,
      ...settings,
    })
  afterAll(async () => {
    await consumer.stop()
    kafka.close()
    await fitDoorbellTrigger(db.sql, 'adaptive')
  })

  it('publishes a POSTed order with key, value and CloudEvents headers, and marks it', async () => {
    relay = await startRelay()
    const order = await placeOrder('book', 2)
    const message = await waitFor('the event on the topic', () => messagesFor(order.id)[0])
    const [row] =
      await db.sql`select event_id, occurred_at, traceparent from outbox where aggregate_id = ${order.id}`
    expect(message?.value).toEqual(order)
    expect(message?.headers).toEqual({
      ce_specversion: '1.0',
      ce_id: row?.event_id,
      ce_type: 'OrderCreated',
      ce_source: '/orders-api',
      ce_subject: order.id,
      ce_time: new Date(row?.occurred_at).toISOString(),
      ce_sequence: '1',
      ce_dataschema: 'http://localhost:3000/schemas/OrderCreated.v1.json',
      traceparent: row?.traceparent,
      'content-type': 'application/json',
    })
    expect(row?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    await waitFor('the row marked published', async () => (await unpublished()) === 0)
  })

  // In poll mode nothing rings by design: it is the one mode that waits for the timer.
  it.skipIf(mode === 'poll')('wakes on NOTIFY, not on the poll', async () => {
    const service = await startRelay({ RELAY_POLL_INTERVAL_MS: '60000' })
    relay = service
    // LISTEN in place, and the relay asleep: from here only a NOTIFY can wake it before the
    // minute poll.
    await waitFor('LISTEN in place', () => listenConfirmed(service))
    await waitFor('asleep', async () => (await awakeLocks()) === 0)
    const before = await notifyWakeups(service)
    const order = await placeOrder()
    await waitFor('the event', () => messagesFor(order.id).length > 0, 5000)
    expect(await notifyWakeups(service)).toBeGreaterThan(before)
  })

  it('catches up on rows written while no relay ran', async () => {
    const orders: Array<{ id: string }> = []
    for (let i = 0; i < 25; i++) orders.push(await placeOrder(`offline-${i}`, 1))
    expect(await unpublished()).toBe(25)

    relay = await startRelay({ RELAY_POLL_INTERVAL_MS: '60000', RELAY_BATCH_SIZE: '10' }) // several batches
    await waitFor('all 25 events', () => orders.every((o) => messagesFor(o.id).length > 0))
    await waitFor('all rows marked', async () => (await unpublished()) === 0)
  })

  it('keeps accepting orders while every broker is down, and delivers them all after', async () => {
    const service = await startRelay()
    relay = service
    kafka.setAllBrokersDown()
    const orders: Array<{ id: string }> = []
    const failures = () => sample(service, 'outbox_publish_errors_total{class="unavailable"}')
    try {
      for (let i = 0; i < 5; i++) orders.push(await placeOrder(`outage-${i}`, 1))
      // Two more failed attempts: the second began after the last order was committed.
      const before = await failures()
      await waitFor('attempts that failed', async () => (await failures()) >= before + 2, 20_000)
      expect(await unpublished()).toBe(5) // nothing marked without an acknowledgement
      expect(orders.every((o) => messagesFor(o.id).length === 0)).toBe(true)
    } finally {
      kafka.setAllBrokersUp()
    }
    await waitFor('all rows marked after recovery', async () => (await unpublished()) === 0, 20_000)
    // A fresh consumer reads the topic from the start: the file's long-lived consumer was cut
    // off by the outage too, and how fast a kafkajs consumer rejoins is not what is tested here.
    const after = await collectMessages(kafka.bootstrap, topic)
    try {
      await waitFor('every event on the topic', () =>
        orders.every((o) => after.messages.some((m) => m.key === o.id)),
      )
    } finally {
      await after.stop()
    }
  })
})
