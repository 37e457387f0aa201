/**
 * The whole path into the inventory and out again: HTTP -> orders + outbox -> relay ->
 * orders.events -> inventory consumer -> inventory.stock and its own events in the outbox ->
 * relay -> inventory.events, on real parts.
 */
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import type { InventoryConsumer } from '../../src/consumer/consumer'
import type { MockKafka } from '../../src/dev/mock-kafka'
import type { RelayService } from '../../src/relay/start-relay'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { type Collector, collectMessages, startTestKafka } from '../helpers/kafka'
import type { LogLine } from '../helpers/memory-logger'
import { startTestRelay } from '../helpers/relay'
import { startTestConsumer } from '../helpers/start-consumer'
import { waitFor } from '../helpers/wait'

const topic = 'orders.events'
let db: TestDatabase
let kafka: MockKafka
let relay: RelayService
let collector: Collector
let inventoryTopic: Collector
let consumer: InventoryConsumer
let app: ReturnType<typeof createApp>
let log: LogLine[]

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka(topic)
  kafka.createTopic('inventory.events', 3)
  app = createApp({ db: db.db, logger: pino({ level: 'silent' }) })
  relay = await startTestRelay({
    databaseUrl: db.url,
    brokers: kafka.bootstrap,
    topic: '{aggregate_type}.events',
  })
  ;({ consumer, log } = await startTestConsumer(db.db, kafka.bootstrap, topic))
  // After the consumer, so that the groups' joins (about 3 s on this broker) overlap.
  ;[collector, inventoryTopic] = await Promise.all([
    collectMessages(kafka.bootstrap, topic),
    collectMessages(kafka.bootstrap, 'inventory.events'),
  ])
})
afterAll(async () => {
  await consumer?.stop()
  await collector?.stop()
  await inventoryTopic?.stop()
  await relay?.stop()
  await db.close()
  kafka.close()
})

async function post(path: string, body?: unknown): Promise<{ id: string; version: number }> {
  const res = await app.request(path, {
    method: 'POST',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  expect(res.status).toBeLessThan(300)
  return (await res.json()) as { id: string; version: number }
}

const inbox = (orderId: string) =>
  db.sql<{ event_id: string; event_type: string; version: number; outcome: string }[]>`
    select event_id, event_type, version, outcome from inventory.inbox
     where order_id = ${orderId} order by version`
const appliedVersion = async (orderId: string) =>
  (
    await db.sql<{ version: number }[]>`
      select version from inventory.order_versions where order_id = ${orderId}`
  )[0]?.version

describe('orders to inventory', () => {
  it('ships one order and cancels another: events applied once each, in order; stock moves', async () => {
    const shipped = await post('/orders', { item: 'globe', quantity: 3 })
    await post(`/orders/${shipped.id}/confirm`)
    expect(await post(`/orders/${shipped.id}/ship`)).toMatchObject({ version: 3 })
    const cancelled = await post('/orders', { item: 'atlas', quantity: 5 })
    expect(await post(`/orders/${cancelled.id}/cancel`, { reason: 'too heavy' })).toMatchObject({
      version: 2,
    })

    await waitFor(
      'both orders fully applied',
      async () =>
        (await appliedVersion(shipped.id)) === 3 && (await appliedVersion(cancelled.id)) === 2,
      30_000,
    )

    // On the topic, in each order's partition: the sequence the relay stamped, in order.
    const onTopic = (orderId: string) =>
      collector.messages
        .filter((m) => m.key === orderId)
        .map((m) => [m.headers.ce_type, m.headers.ce_sequence])
    await waitFor('the collector to see all five', () => collector.messages.length >= 5)
    expect(onTopic(shipped.id)).toEqual([
      ['OrderCreated', '1'],
      ['OrderConfirmed', '2'],
      ['OrderShipped', '3'],
    ])
    expect(onTopic(cancelled.id)).toEqual([
      ['OrderCreated', '1'],
      ['OrderCancelled', '2'],
    ])

    // In the inbox: every outbox event, by its id, applied.
    const outbox = await db.sql<{ event_id: string; aggregate_id: string; sequence: number }[]>`
      select event_id, aggregate_id, sequence from outbox order by id`
    for (const order of [shipped, cancelled]) {
      expect(await inbox(order.id)).toEqual(
        outbox
          .filter((e) => e.aggregate_id === order.id)
          .map((e) => ({
            event_id: e.event_id,
            event_type: expect.any(String),
            version: e.sequence,
            outcome: 'applied',
          })),
      )
    }

    // The consumer received them in order: each applied on first arrival, one version at a
    // time, none parked waiting for an earlier one.
    const consumed = (orderId: string) =>
      log
        .filter((l) => l.orderId === orderId && l.msg !== 'redelivered')
        .map((l) => [l.msg, l.versions])
    expect(consumed(shipped.id)).toEqual([
      ['applied', [1]],
      ['applied', [2]],
      ['applied', [3]],
    ])
    expect(consumed(cancelled.id)).toEqual([
      ['applied', [1]],
      ['applied', [2]],
    ])

    const stock =
      await db.sql`select item, reserved::float8 as reserved, shipped::float8 as shipped from inventory.stock order by item`
    expect(stock).toEqual([
      { item: 'atlas', reserved: 0, shipped: 0 }, // reserved 5, released by the cancellation
      { item: 'globe', reserved: 0, shipped: 3 },
    ])

    // The saga step: the confirmation and the cancellation answered on inventory.events, keyed
    // by item, once each.
    await waitFor('both inventory events', () => inventoryTopic.messages.length >= 2, 15_000)
    expect(inventoryTopic.messages.map((m) => [m.key, m.headers.ce_type, m.value]).sort()).toEqual([
      ['atlas', 'StockReleased', { item: 'atlas', quantity: 5, orderId: cancelled.id }],
      ['globe', 'StockReserved', { item: 'globe', quantity: 3, orderId: shipped.id }],
    ])
    expect(log.filter((l) => l.level >= 50)).toEqual([])
  }, 60_000)
})
