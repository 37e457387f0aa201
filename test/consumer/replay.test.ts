/**
 * A replay (npm run outbox -- replay) of events the inventory consumer has already applied, to
 * their own topic: every one is recognised by its ce_id in the inbox, and nothing changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { InventoryConsumer } from '../../src/consumer/consumer'
import type { InboxEvent } from '../../src/consumer/decode'
import type { MockKafka } from '../../src/dev/mock-kafka'
import type { RelayService } from '../../src/relay/start-relay'
import { orderHistory } from '../helpers/consumer-events'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startTestKafka } from '../helpers/kafka'
import { unpublishedCount } from '../helpers/ledger'
import { startTestRelay } from '../helpers/relay'
import { runCli } from '../helpers/run-cli'
import { startTestConsumer } from '../helpers/start-consumer'
import { waitFor } from '../helpers/wait'

const topic = 'orders.events'
let db: TestDatabase
let kafka: MockKafka
let relay: RelayService
let consumer: InventoryConsumer

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka(topic)
  kafka.createTopic('inventory.events', 3)
  relay = await startTestRelay({
    databaseUrl: db.url,
    brokers: kafka.bootstrap,
    topic: '{aggregate_type}.events',
  })
  ;({ consumer } = await startTestConsumer(db.db, kafka.bootstrap, topic))
})
afterAll(async () => {
  await consumer?.stop()
  await relay?.stop()
  await db.close()
  kafka.close()
})

const insert = (event: InboxEvent) => db.sql`
  insert into outbox (event_id, event_type, aggregate_type, aggregate_id, payload, sequence)
  values (${event.eventId}, ${event.type}, 'orders', ${event.orderId},
          ${JSON.stringify(event.data)}::jsonb, ${event.version})`

/** What the consumer has done: stock, versions applied, the events it wrote itself. */
const state = async () => ({
  stock:
    await db.sql`select item, reserved::float8, shipped::float8 from inventory.stock order by item`,
  versions: await db.sql`select order_id, version from inventory.order_versions order by order_id`,
  own: (
    await db.sql<
      { n: number }[]
    >`select count(*)::int as n from outbox where aggregate_type = 'inventory'`
  )[0]?.n,
})
const deliveries = async () =>
  (
    await db.sql<
      { n: number }[]
    >`select coalesce(sum(deliveries), 0)::int as n from inventory.inbox`
  )[0]?.n ?? 0

describe('the inventory consumer fed a replay', () => {
  it('of events it has applied: each is recognised as seen, and nothing changes', async () => {
    const histories = [
      orderHistory(['OrderCreated', 'OrderConfirmed', 'OrderShipped'], 'lamp', 2),
      orderHistory(['OrderCreated', 'OrderCancelled'], 'desk', 1),
      orderHistory(['OrderCreated', 'OrderConfirmed'], 'lamp', 3),
    ]
    for (const h of histories) for (const e of h) await insert(e)
    const events = histories.flat().length // 7
    await waitFor('all applied', async () => (await deliveries()) === events, 20_000)
    await waitFor('its own events published', async () => (await unpublishedCount(db.sql)) === 0)
    const before = await state()

    const replay = await runCli(['replay', '--aggregate-type', 'orders'], {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: kafka.bootstrap,
      KAFKA_IDEMPOTENT: 'false',
    })
    expect(replay.code).toBe(0)
    expect(replay.stdout).toMatch(
      new RegExp(`${events} published events match, each to its own topic`),
    )
    await waitFor(
      'every replayed event seen again',
      async () => (await deliveries()) === 2 * events,
      20_000,
    )
    expect(await state()).toEqual(before)
  })
})
