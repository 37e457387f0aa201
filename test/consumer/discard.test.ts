/**
 * `npm run outbox -- discard` is visible to consumers: the discard writes a marker with the
 * discarded event's id and sequence, the relay publishes it, and the inventory consumer applies
 * the order's later events without the discarded one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { InventoryConsumer } from '../../src/consumer/consumer'
import type { InboxEvent } from '../../src/consumer/decode'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { discardDead } from '../../src/outbox/admin'
import type { RelayService } from '../../src/relay/start-relay'
import { orderHistory } from '../helpers/consumer-events'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startTestKafka } from '../helpers/kafka'
import type { LogLine } from '../helpers/memory-logger'
import { park } from '../helpers/outbox-state'
import { startTestRelay } from '../helpers/relay'
import { startTestConsumer } from '../helpers/start-consumer'
import { waitFor } from '../helpers/wait'

const topic = 'orders.events'
let db: TestDatabase
let kafka: MockKafka
let relay: RelayService
let consumer: InventoryConsumer
let log: LogLine[]

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka(topic)
  kafka.createTopic('inventory.events', 3)
  relay = await startTestRelay({
    databaseUrl: db.url,
    brokers: kafka.bootstrap,
    topic: '{aggregate_type}.events',
  })
  ;({ consumer, log } = await startTestConsumer(db.db, kafka.bootstrap, topic))
})
afterAll(async () => {
  await consumer?.stop()
  await relay?.stop()
  await db.close()
  kafka.close()
})

/** The event as an outbox row, dead-lettered (parked dead, in the same transaction) when `dead`. */
const insert = (event: InboxEvent, dead = false) =>
  db.sql.begin(async (tx) => {
    await tx`
      insert into outbox (event_id, event_type, aggregate_type, aggregate_id, payload, sequence)
      values (${event.eventId}, ${event.type}, 'orders', ${event.orderId},
              ${JSON.stringify(event.data)}::jsonb, ${event.version})`
    if (dead) {
      await park(tx, tx`event_id = ${event.eventId}::uuid`, {
        attempts: 10,
        lastError: 'broker refused it',
        deadAgo: '0 seconds',
      })
    }
  })
const applied = async (orderId: string) =>
  (
    await db.sql<{ version: number }[]>`
      select version from inventory.order_versions where order_id = ${orderId}`
  )[0]?.version ?? 0

describe('a discarded event', () => {
  it("its successors are applied by the consumer: the cancellation releases the order's stock", async () => {
    const [created, confirmed, cancelled] = orderHistory(
      ['OrderCreated', 'OrderConfirmed', 'OrderCancelled'],
      'vase',
      5,
    )
    await insert(created)
    await waitFor(
      'the creation applied',
      async () => (await applied(created.orderId)) === 1,
      20_000,
    )
    // The confirmation died; the cancellation waits behind it in the outbox.
    await insert(confirmed, true)
    await insert(cancelled)

    await discardDead(db.sql, confirmed.eventId)
    await waitFor(
      'the cancellation applied',
      async () => (await applied(created.orderId)) === 3,
      20_000,
    )

    const [stock] = await db.sql`
      select reserved::float8 as reserved from inventory.stock where item = 'vase'`
    expect(stock).toEqual({ reserved: 0 })
    const released = await db.sql`
      select payload from outbox where aggregate_type = 'inventory' and event_type = 'StockReleased'`
    expect(released).toEqual([{ payload: { item: 'vase', quantity: 5, orderId: created.orderId } }])
    const [marker] = await db.sql`
      select payload, sequence from outbox where event_type = 'EventDiscarded'`
    expect(marker).toEqual({
      payload: {
        discardedEventId: confirmed.eventId,
        discardedEventType: 'OrderConfirmed',
        sequence: 2,
      },
      sequence: 2,
    })
    expect(log.some((l) => l.msg.startsWith('this version was discarded upstream'))).toBe(true)
  })
})
