/**
 * `npm run consume` as its own process, SIGKILLed after applying everything but before
 * committing a single offset: its successor gets every message again, and the inbox turns
 * each redelivery into a counted no-op, for its effect and for its own events (the saga step,
 * written in the same transaction): one effect and one inventory event each on inventory.events.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { asKafkaMessage, orderHistory } from '../helpers/consumer-events'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { collectMessages, startTestKafka } from '../helpers/kafka'
import { type Spawned, spawnEntrypoint } from '../helpers/process'
import { startTestRelay } from '../helpers/relay'
import { waitFor } from '../helpers/wait'

const topic = 'orders.events'
let db: TestDatabase
let kafka: MockKafka
let devDataDir: string
const children: Spawned[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka(topic)
  kafka.createTopic('inventory.events', 3)
  devDataDir = await mkdtemp(join(tmpdir(), 'consume-dev-'))
})
afterAll(async () => {
  for (const child of children) child.child.kill('SIGKILL')
  await rm(devDataDir, { recursive: true, force: true })
  await db.close()
  kafka.close()
})

/** Kafka's OffsetCommit request, and an error kafkajs does not retry: every commit fails. */
const OFFSET_COMMIT = 8
const OFFSET_METADATA_TOO_LARGE = 12
const refuseCommits = () =>
  kafka.pushRequestErrors(OFFSET_COMMIT, Array(1000).fill(OFFSET_METADATA_TOO_LARGE))

const client = () => new Kafka({ brokers: kafka.bootstrap.split(','), logLevel: logLevel.NOTHING })

function spawnConsumer(
  kafkaSettings: Record<string, string>,
  options: { recorded?: boolean } = {},
): Spawned {
  const child = spawnEntrypoint('src/main/consume.ts', {
    ...(options.recorded ? {} : { DATABASE_URL: db.url }),
    ...kafkaSettings,
  })
  children.push(child)
  return child
}

async function inboxStats() {
  const [row] = await db.sql<{ events: number; applied: number; minDeliveries: number }[]>`
    select count(*)::int as events,
           (count(*) filter (where outcome = 'applied'))::int as applied,
           coalesce(min(deliveries), 0)::int as "minDeliveries"
      from inventory.inbox`
  return row ?? { events: 0, applied: 0, minDeliveries: 0 }
}
const inventoryEvents = () =>
  db.sql<{ type: string; n: number }[]>`
    select event_type as type, count(*)::int as n from outbox
     where aggregate_type = 'inventory' group by event_type order by event_type`
const stock = () =>
  db.sql<{ item: string; reserved: number; shipped: number }[]>`
    select item, reserved::float8 as reserved, shipped::float8 as shipped from inventory.stock order by item`

async function committedOffsets(): Promise<number[]> {
  const admin = client().admin()
  await admin.connect()
  try {
    const [committed] = await admin.fetchOffsets({ groupId: 'inventory', topics: [topic] })
    return (committed?.partitions ?? []).map((p) => Number(p.offset))
  } finally {
    await admin.disconnect()
  }
}

describe('consumer process', () => {
  it('SIGKILL between effect and offset commit: all redelivered, each applied once', async () => {
    // 30 orders in three lifecycles: shipped, cancelled, and left confirmed (still reserved).
    const lifecycles = [
      ['OrderCreated', 'OrderConfirmed', 'OrderShipped'],
      ['OrderCreated', 'OrderCancelled'],
      ['OrderCreated', 'OrderConfirmed'],
    ] as const
    const expected = { item: 'widget', reserved: 0, shipped: 0 }
    const events = Array.from({ length: 30 }, (_, i) => {
      const quantity = i + 1
      if (i % 3 === 0) expected.shipped += quantity
      if (i % 3 === 2) expected.reserved += quantity
      return orderHistory(lifecycles[i % 3] ?? [], 'widget', quantity)
    }).flat()
    const producer = client().producer()
    await producer.connect()
    await producer.send({ topic, acks: -1, messages: events.map(asKafkaMessage) })
    await producer.disconnect()

    // The broker refuses every commit of the first consumer: when it dies, it has committed
    // nothing (its warnings say it tried).
    refuseCommits()
    const first = spawnConsumer({ KAFKA_BROKERS: kafka.bootstrap })
    await first.waitForOutput(/consuming orders\.events as group inventory/, 30_000)
    await waitFor(
      'every event applied',
      async () => (await inboxStats()).applied === events.length,
      30_000,
    )
    expect(await stock()).toEqual([expected])
    await first.waitForOutput(/could not commit offsets/, 30_000)
    first.child.kill('SIGKILL')
    await first.exited
    kafka.clearRequestErrors(OFFSET_COMMIT)
    // Applied, yet not one offset committed (-1 on all three partitions): the successor
    // starts from the beginning.
    expect(await committedOffsets()).toEqual([-1, -1, -1])

    // The restart finds its database and broker the way `npm run consume` does beside
    // `npm start`: no DATABASE_URL, no KAFKA_BROKERS, what .data/dev-services.json records. It
    // joins once the broker has given up on the dead member (about two session timeouts).
    await writeFile(
      join(devDataDir, 'dev-services.json'),
      JSON.stringify({ databaseUrl: db.url, brokers: kafka.bootstrap.split(','), topic }),
    )
    const second = spawnConsumer({ DEV_DATA_DIR: devDataDir }, { recorded: true })
    await waitFor(
      'every event delivered a second time',
      async () => (await inboxStats()).minDeliveries >= 2,
      60_000,
    )
    expect(await inboxStats()).toMatchObject({ events: events.length, applied: events.length })
    expect(await stock()).toEqual([expected])
    // Its own events were written once, with the effects: 20 confirmations, 10 cancellations.
    expect(await inventoryEvents()).toEqual([
      { type: 'StockReleased', n: 10 },
      { type: 'StockReserved', n: 20 },
    ])
    // ... and the relay publishes each once to inventory.events.
    const published = await collectMessages(kafka.bootstrap, 'inventory.events')
    const relay = await startTestRelay({
      databaseUrl: db.url,
      brokers: kafka.bootstrap,
      topic: '{aggregate_type}.events',
    })
    try {
      await waitFor('30 inventory events', () => published.messages.length >= 30, 20_000)
      expect(published.byEventId().size).toBe(30)
      expect(published.messages.every((m) => m.key === 'widget')).toBe(true)
    } finally {
      await relay.stop()
      await published.stop()
    }

    // A graceful stop commits what it consumed.
    second.child.kill('SIGTERM')
    expect(await second.exited).toBe(0)
    expect((await committedOffsets()).reduce((sum, offset) => sum + offset, 0)).toBe(events.length)
  }, 120_000)
})
