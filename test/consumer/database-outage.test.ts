/**
 * The consumer's database goes away (its connections killed, new ones refused) while events
 * arrive: the handler fails, kafkajs delivers the same messages again and again, and once the
 * database is back they are applied, none skipped.
 */
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { InventoryConsumer } from '../../src/consumer/consumer'
import { createDb } from '../../src/db/client'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { orderHistory, produceEvents } from '../helpers/consumer-events'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startTestKafka } from '../helpers/kafka'
import type { LogLine } from '../helpers/memory-logger'
import { startTestConsumer } from '../helpers/start-consumer'
import { waitFor } from '../helpers/wait'

const topic = 'orders.events'
let db: TestDatabase
let kafka: MockKafka
let consumerDb: ReturnType<typeof createDb>
let consumer: InventoryConsumer
let admin: postgres.Sql
let log: LogLine[]

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka(topic)
  // The server's maintenance database: still reachable while the test database refuses logins.
  admin = postgres(inject('postgresUrl'), { max: 1, onnotice: () => {} })
  consumerDb = createDb(db.url, { max: 2, applicationName: 'inventory' })
  ;({ consumer, log } = await startTestConsumer(consumerDb.db, kafka.bootstrap, topic))
})
afterAll(async () => {
  await consumer?.stop()
  await consumerDb?.sql.end({ timeout: 1 })
  await admin?.end()
  await db.close()
  kafka.close()
})

const databaseName = () => new URL(db.url).pathname.slice(1)

/** Refuses new connections to the test database (superusers included) and ends the open ones. */
async function takeDatabaseDown() {
  await admin.unsafe(`alter database "${databaseName()}" allow_connections false`)
  await admin`select pg_terminate_backend(pid) from pg_stat_activity
               where datname = ${databaseName()} and pid <> pg_backend_pid()`
}
const bringDatabaseUp = () =>
  admin.unsafe(`alter database "${databaseName()}" allow_connections true`)

const publish = (events: ReturnType<typeof orderHistory>[number][]) =>
  produceEvents(kafka.bootstrap, topic, events)

const stock = () =>
  db.sql`select item, reserved::float8 as reserved, shipped::float8 as shipped from inventory.stock order by item`

describe('consumer during a database outage', () => {
  it('retries the same messages until the database is back; nothing skipped, nothing doubled', async () => {
    const [created, confirmed, shipped] = orderHistory(
      ['OrderCreated', 'OrderConfirmed', 'OrderShipped'],
      'clock',
      4,
    )
    await publish([created])
    await waitFor('the first event applied', async () => (await stock()).length === 1, 20_000)

    await takeDatabaseDown()
    try {
      await publish([confirmed, shipped])
      const failures = () => log.filter((l) => l.msg.startsWith('could not handle the event'))
      // A failure, then at least one retry of the same message after kafkajs's backoff.
      await waitFor('the message retried', () => failures().length >= 2, 20_000)
      expect(new Set(failures().map((l) => l.eventId))).toEqual(new Set([confirmed.eventId]))
    } finally {
      await bringDatabaseUp()
    }

    await waitFor(
      'both applied after the outage',
      async () => (await stock())[0]?.shipped === 4,
      30_000,
    )
    expect(await stock()).toEqual([{ item: 'clock', reserved: 0, shipped: 4 }])
    // The failed attempts rolled back entirely: the inbox saw each event once.
    const inbox = await db.sql`
      select version, outcome, deliveries from inventory.inbox order by version`
    expect(inbox).toEqual(
      [1, 2, 3].map((version) => ({ version, outcome: 'applied', deliveries: 1 })),
    )
  }, 90_000)
})
