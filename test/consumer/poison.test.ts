/**
 * A message that fails forever is parked after its retries and its partition flows on; a stock
 * move past the counters' range is refused (parked at once, not an SQL error); an operator
 * retries or skips a parked message (`npm run consume -- retry | skip`).
 */
import { Kafka, logLevel } from 'kafkajs'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runConsumeCommand } from '../../src/consumer/cli'
import { type InventoryConsumer, startInventoryConsumer } from '../../src/consumer/consumer'
import type { InboxEvent } from '../../src/consumer/decode'
import { createConsumerMetrics } from '../../src/consumer/metrics'
import { STOCK_MAX } from '../../src/db/schema'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { asKafkaMessage, orderHistory, produceEvents } from '../helpers/consumer-events'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startTestKafka } from '../helpers/kafka'
import { type LogLine, memoryLogger } from '../helpers/memory-logger'
import { waitFor } from '../helpers/wait'

const topic = 'orders.events'
let db: TestDatabase
let kafka: MockKafka
let consumer: InventoryConsumer
let log: LogLine[]
const registry = new Registry()

beforeAll(async () => {
  db = await createTestDatabase()
  // One partition: the poison message and the ones after it share it.
  kafka = startTestKafka(topic, { brokers: 1, partitions: 1 })
  const memory = memoryLogger()
  log = memory.lines
  consumer = await startInventoryConsumer({
    db: db.db,
    brokers: kafka.bootstrap.split(','),
    topic,
    groupId: 'inventory',
    clientId: 'poison-test',
    commitIntervalMs: 100,
    logger: memory.logger,
    maxAttempts: 3,
    retryBackoffMs: 10,
    metrics: createConsumerMetrics(registry, db.db),
  })
})
afterAll(async () => {
  await consumer?.stop()
  await db.close()
  kafka.close()
})

const send = (events: InboxEvent[]) => produceEvents(kafka.bootstrap, topic, events)

const parked = () =>
  db.sql<
    { id: number; orderId: string; reason: string; attempts: number; resolution: string | null }[]
  >`
    select id::int, order_id as "orderId", reason, attempts, resolution
      from inventory.parked_messages order by id`
const applied = async (orderId: string) =>
  (
    await db.sql<{ version: number }[]>`
    select version from inventory.order_versions where order_id = ${orderId}`
  )[0]?.version ?? 0
const stockOf = async (item: string) =>
  (
    await db.sql<{ reserved: number }[]>`
    select reserved::float8 as reserved from inventory.stock where item = ${item}`
  )[0]?.reserved

describe('poison messages', () => {
  it('parks a message that fails every attempt; the rest of its partition flows', async () => {
    // U+0000 passes the event contract but no jsonb column takes it: the inbox insert fails.
    const [poison, poisonNext] = orderHistory(['OrderCreated', 'OrderConfirmed'], 'nul\u0000item')
    Object.assign(poisonNext.data as object, { item: 'clean' })
    const [other] = orderHistory(['OrderCreated'], 'flows', 2)
    await send([poison, other, poisonNext])

    await waitFor('the other order applied', async () => (await applied(other.orderId)) === 1)
    const [row] = await parked()
    expect(row).toMatchObject({ orderId: poison.orderId, attempts: 3, resolution: null })
    expect(row?.reason).toMatch(/^22P05: /)
    // Its successor waits behind it, as a gap in the inbox; it did not apply.
    const successor = await waitFor('the successor seen', async () => {
      const rows = await db.sql`
        select outcome from inventory.inbox where event_id = ${poisonNext.eventId}`
      return rows.length > 0 ? rows : undefined
    })
    expect(successor).toEqual([{ outcome: 'parked' }])
    expect(await applied(poisonNext.orderId)).toBe(0)

    const lines = log.filter((l) => l.msg.startsWith('parked: set aside'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ eventId: poison.eventId, attempts: 3 })
    // No line carries the event's data.
    expect(JSON.stringify(log)).not.toContain('nul\\u0000item')
    const metrics = await registry.metrics()
    expect(metrics).toMatch(/^inventory_consumer_parked_total 1$/m)
    expect(metrics).toMatch(/^inventory_consumer_parked_waiting 1$/m)
    expect(metrics).toMatch(/^inventory_consumer_events_total\{outcome="applied"\} 1$/m)

    // skip: the order goes on without its first version; its confirmation applies now.
    const out: string[] = []
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) }
    expect(await runConsumeCommand(db.db, { name: 'skip', id: row?.id ?? 0 }, io)).toBe(0)
    expect(await applied(poison.orderId)).toBe(2)
    expect((await parked())[0]?.resolution).toBe('skipped')
    expect(await runConsumeCommand(db.db, { name: 'skip', id: row?.id ?? 0 }, io)).toBe(1)
    expect(out.at(-1)).toMatch(/already skipped/)
  })

  it('parks a message that is not an event, with why; the next one flows', async () => {
    const producer = new Kafka({
      brokers: kafka.bootstrap.split(','),
      logLevel: logLevel.NOTHING,
    }).producer()
    await producer.connect()
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'not json' }] })
    await producer.disconnect()
    // A type and a header name no text column takes: parked all the same.
    const [nulType] = orderHistory(['Order\u0000Created'], 'nul', 1)
    const nulMessage = asKafkaMessage(nulType)
    nulMessage.headers['x-\u0000'] = 'v'
    const [next] = orderHistory(['OrderCreated'], 'next', 1)
    const producer2 = new Kafka({
      brokers: kafka.bootstrap.split(','),
      logLevel: logLevel.NOTHING,
    }).producer()
    await producer2.connect()
    await producer2.send({ topic, acks: -1, messages: [nulMessage, asKafkaMessage(next)] })
    await producer2.disconnect()
    await waitFor('the next order applied', async () => (await applied(next.orderId)) === 1)
    const notEvent = (await parked()).filter((p) => p.reason.startsWith('not an event'))
    expect(notEvent).toHaveLength(1)
    const [nul] = await db.sql`
      select event_type, reason from inventory.parked_messages where order_id = ${nulType.orderId}`
    expect(nul?.event_type).toBe('Order\\u0000Created')
    expect(nul?.reason).toMatch(/^22021: /)
    expect(log.some((l) => l.msg === 'parked: not an event')).toBe(true)
  })

  it('refuses a stock move past the counters range at once, and retry applies it later', async () => {
    await db.sql`insert into inventory.stock (item, reserved) values ('huge', ${STOCK_MAX - 5})`
    const [created] = orderHistory(['OrderCreated'], 'huge', 10)
    const [after] = orderHistory(['OrderCreated'], 'after', 1)
    await send([created, after])

    await waitFor('the next order applied', async () => (await applied(after.orderId)) === 1)
    const row = (await parked()).find((p) => p.orderId === created.orderId)
    expect(row).toMatchObject({ attempts: 1, resolution: null })
    expect(row?.reason).toMatch(/reserved stock of "huge" would be .* \(allowed: 0 to /)
    expect(await stockOf('huge')).toBe(STOCK_MAX - 5)

    const out: string[] = []
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) }
    expect(await runConsumeCommand(db.db, { name: 'retry', id: row?.id ?? 0 }, io)).toBe(1)
    expect(out.at(-1)).toMatch(/failed again, still parked/)
    expect(await runConsumeCommand(db.db, { name: 'parked', json: false }, io)).toBe(0)
    expect(out.at(-1)).toMatch(/^3 parked message\(s\)\n/)
    expect(out.at(-1)).toMatch(/\n\d+ .* OrderCreated order=.* attempts=1\n {4}reserved stock of/)

    await db.sql`update inventory.stock set reserved = 0 where item = 'huge'`
    expect(await runConsumeCommand(db.db, { name: 'retry', id: row?.id ?? 0 }, io)).toBe(0)
    expect(await stockOf('huge')).toBe(10)
    expect(await applied(created.orderId)).toBe(1)
  })
})
