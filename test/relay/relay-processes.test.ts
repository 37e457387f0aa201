/**
 * Relays as separate processes, killed for real (SIGKILL: no cleanup, no goodbye), against the
 * shared Postgres and this file's broker. Events are routed by aggregate type: orders to
 * `procs-<n>.orders`, shipments (with the same ids) to `procs-<n>.shipment`.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { topicFor } from '../../src/outbox'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { type Collector, collectMessages, messagesOnBroker, startTestKafka } from '../helpers/kafka'
import { insertOrderEvents, ledger, newOrderIds, unpublishedCount } from '../helpers/ledger'
import { type Spawned, spawnRelayProcess } from '../helpers/process'
import { delay, waitFor } from '../helpers/wait'

let db: TestDatabase
let kafka: MockKafka
let consumer: Collector
let shipments: Collector
let topic = ''
let topics = 0
const relays: Spawned[] = []

beforeAll(() => {
  kafka = startTestKafka('unused')
})
beforeEach(async () => {
  db = await createTestDatabase()
  topic = `procs-${++topics}.{aggregate_type}`
  kafka.createTopic(topicFor(topic, 'orders'), 3)
  kafka.createTopic(topicFor(topic, 'shipment'), 3)
  ;[consumer, shipments] = await Promise.all([
    collectMessages(kafka.bootstrap, topicFor(topic, 'orders')),
    collectMessages(kafka.bootstrap, topicFor(topic, 'shipment')),
  ])
})
afterEach(async () => {
  for (const r of relays.splice(0)) r.child.kill('SIGKILL')
  await consumer.stop()
  await shipments.stop()
  await db.close()
})
afterAll(() => kafka.close())

const target = () => ({ databaseUrl: db.url, brokers: kafka.bootstrap, topic })

function spawnRelay(batchSize: number): Spawned {
  const relay = spawnRelayProcess(target(), {
    RELAY_BATCH_SIZE: String(batchSize),
    RELAY_POLL_INTERVAL_MS: '500',
  })
  relays.push(relay)
  return relay
}

const publishedCount = async () =>
  (
    await db.sql<
      { n: number }[]
    >`select ((select count(*) from outbox) - (select count(*) from outbox_unpublished))::int as n`
  )[0]?.n ?? 0

/** Partitions owned, by the backend pid that holds their owner locks. */
const ownersByPid = async () =>
  db.sql<{ pid: number; n: number }[]>`
    select pid, count(*)::int as n from pg_locks
     where locktype = 'advisory' and classid = 780001 and objsubid = 2 and granted
       and database = (select oid from pg_database where datname = current_database())
     group by pid`

const sharedBy = async (relays: number) => {
  const owners = await ownersByPid()
  return owners.length === relays && owners.reduce((s, o) => s + o.n, 0) === 64
}

describe('relay processes', () => {
  it('SIGKILL mid-stream, restart: everything delivered, duplicates only from the batches in flight', async () => {
    const batchSize = 100
    await insertOrderEvents(db.sql, newOrderIds(2000), 3) // 6,000 events
    const first = spawnRelay(batchSize)
    await first.waitForOutput(/relay started/)
    await waitFor('publishing under way', async () => (await publishedCount()) >= 300, 20_000)
    first.child.kill('SIGKILL')
    await first.exited
    const before = await publishedCount()
    expect(before).toBeLessThan(6000) // killed mid-stream, not after the end

    spawnRelay(batchSize)
    await waitFor('backlog drained', async () => (await unpublishedCount(db.sql)) === 0, 30_000)
    await waitFor('all on the topic', () => consumer.byEventId().size === 6000, 20_000)
    const report = await ledger(db.sql, consumer)
    expect(report.missing).toEqual([])
    expect(report.outOfOrder).toEqual([])
    // At most the batches in flight: one being published, the one before it being marked.
    expect(report.duplicates).toBeLessThanOrEqual(2 * batchSize)
  })

  it('SIGTERM while a batch is stuck on an unreachable broker: bounded exit, nothing marked', async () => {
    await insertOrderEvents(db.sql, newOrderIds(50), 1)
    kafka.setAllBrokersDown()
    try {
      const relay = spawnRelayProcess(target())
      relays.push(relay)
      await relay.waitForOutput(/relay started/)
      // Joined: its first drain claims at once, and the batch waits on the broker.
      await waitFor('the partitions owned', () => sharedBy(1), 20_000)
      const stopped = Date.now()
      relay.child.kill('SIGTERM')
      expect(await relay.exited).toBe(0)
      // Its 5 s wait for the batch in hand (src/config/fixed.ts), then closing.
      expect(Date.now() - stopped).toBeLessThan(15_000)
      expect(await publishedCount()).toBe(0)
    } finally {
      kafka.setAllBrokersUp()
    }
  })

  it('three relays share the partitions; one SIGKILLed, its partitions move, order holds for two aggregate types on two topics', async () => {
    const trio = [spawnRelay(50), spawnRelay(50), spawnRelay(50)]
    await waitFor('three relays sharing all 64 partitions', () => sharedBy(3), 20_000)

    const orders = newOrderIds(300)
    const writer = (async () => {
      for (let seq = 0; seq < 8; seq++) {
        await insertOrderEvents(db.sql, orders.slice(seq * 30, seq * 30 + 60), 2)
        // The same ids as shipments: other aggregates, never held back by the orders.
        const slice = orders.slice(seq * 30, seq * 30 + 30)
        await insertOrderEvents(db.sql, slice, 2, { aggregateType: 'shipment' })
        await delay(150)
      }
      await insertOrderEvents(db.sql, orders, 2) // every order ends with two more events
      await insertOrderEvents(db.sql, orders, 1, { aggregateType: 'shipment' })
    })()
    await waitFor('the stream under way', async () => (await publishedCount()) >= 100, 20_000)
    trio[1]?.child.kill('SIGKILL')
    await writer

    await waitFor('the survivors own all 64 partitions', () => sharedBy(2), 10_000)
    await waitFor('backlog drained', async () => (await unpublishedCount(db.sql)) === 0, 30_000)
    const [{ n: committed } = { n: 0 }] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from outbox`
    await waitFor(
      'all on the topics',
      () => consumer.byEventId().size + shipments.byEventId().size === committed,
      20_000,
    )
    expect(shipments.byEventId().size).toBe(8 * 30 * 2 + 300)
    const report = await ledger(db.sql, [consumer, shipments])
    expect(report.missing).toEqual([])
    expect(report.outOfOrder).toEqual([])
  })

  it('one of two relays frozen (SIGSTOP): the other publishes everything within 30 s; resumed, it rejoins and publishes nothing twice', async () => {
    const [frozen] = [spawnRelay(50), spawnRelay(50)]
    await waitFor('two relays sharing all 64 partitions', () => sharedBy(2), 20_000)
    frozen?.child.kill('SIGSTOP') // its connection stays up, its locks held
    const frozenAt = Date.now()
    try {
      for (let i = 0; i < 100; i++) {
        await insertOrderEvents(db.sql, newOrderIds(1), 1) // 100 orders at 20/s, all partitions
        await delay(50)
      }
      const left = 30_000 - (Date.now() - frozenAt)
      await waitFor('every event on the topic', () => consumer.byEventId().size === 100, left)
    } finally {
      frozen?.child.kill('SIGCONT')
    }
    await frozen?.waitForOutput(/partitions lost; rejoining/, 10_000)
    await waitFor('two relays sharing all 64 again', () => sharedBy(2), 10_000)
    await insertOrderEvents(db.sql, newOrderIds(100), 2)
    await waitFor('all on the topic', () => consumer.byEventId().size === 300, 20_000)
    // A stale batch of the frozen relay would have gone out before it logged its rejoin: the
    // broker holds exactly 300 messages, none twice.
    expect(await messagesOnBroker(kafka.bootstrap, topicFor(topic, 'orders'))).toBe(300)
    const report = await ledger(db.sql, consumer)
    expect(report.missing).toEqual([])
    expect(report.outOfOrder).toEqual([])
    expect(report.duplicates).toBe(0)
  }, 90_000)
})
