/**
 * `npm start`'s development broker creates a topic the first time an event waits for it (the
 * README's shipment example), with a real relay that, as always, creates none itself.
 */
import { pino } from 'pino'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { createTopicsOnFirstUse } from '../../src/dev/topics-on-first-use'
import type { RelayService } from '../../src/relay/start-relay'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { type Collector, collectMessages, startTestKafka } from '../helpers/kafka'
import { startTestRelay } from '../helpers/relay'
import { waitFor } from '../helpers/wait'

let db: TestDatabase
let kafka: MockKafka
let relay: RelayService
let creator: { stop(): Promise<void> }
let collector: Collector | undefined
const created: string[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka('orders.events', { brokers: 1 })
  relay = await startTestRelay({
    databaseUrl: db.url,
    brokers: kafka.bootstrap,
    topic: '{aggregate_type}.events',
  })
  creator = createTopicsOnFirstUse({
    databaseUrl: db.url,
    createTopic: (name) => {
      created.push(name)
      kafka.createTopic(name, 3)
    },
    topicTemplate: '{aggregate_type}.events',
    logger: pino({ level: 'silent' }),
    intervalMs: 100,
  })
})
afterAll(async () => {
  await creator.stop()
  await relay.stop()
  await collector?.stop()
  kafka.close()
  await db.close()
})

it('the README shipment example reaches shipment.events, its topic created once', async () => {
  await db.sql`
    insert into outbox (aggregate_type, aggregate_id, event_type, payload)
    values ('shipment', 'SHP-1042', 'ShipmentDispatched', '{"carrier": "dhl"}')`
  await waitFor('the topic created', () => created.includes('shipment.events'), 10_000)
  collector = await collectMessages(kafka.bootstrap, 'shipment.events')
  const message = await waitFor('the event', () => collector?.messages[0], 15_000)
  expect(message).toMatchObject({ key: 'SHP-1042', value: { carrier: 'dhl' } })
  await db.sql`
    insert into outbox (aggregate_type, aggregate_id, event_type, payload)
    values ('shipment', 'SHP-1043', 'ShipmentDispatched', '{}')`
  await waitFor('the second event', () => collector?.messages.length === 2, 10_000)
  expect(created).toEqual(['shipment.events'])
})
