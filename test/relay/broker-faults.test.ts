/**
 * Broker-side failures, injected through the mock cluster's fault API, with the real relay.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ApiKey, KafkaError, type MockKafka } from '../../src/dev/mock-kafka'
import type { RelayService } from '../../src/relay/start-relay'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { type Collector, collectMessages, startTestKafka } from '../helpers/kafka'
import { insertOrderEvents, ledger, newOrderIds, unpublishedCount } from '../helpers/ledger'
import { type RelayTuning, startTestRelay } from '../helpers/relay'
import { delay, waitFor } from '../helpers/wait'

let db: TestDatabase
let kafka: MockKafka
let consumer: Collector
let relay: RelayService | undefined
let topic = ''
let topics = 0

beforeAll(async () => {
  kafka = startTestKafka('unused')
})
beforeEach(async () => {
  // A fresh database and topic per test: each ledger check sees only its own events.
  db = await createTestDatabase()
  topic = `faults-${++topics}`
  kafka.createTopic(topic, 3)
  consumer = await collectMessages(kafka.bootstrap, topic)
})
afterEach(async () => {
  await relay?.stop()
  relay = undefined
  await consumer.stop()
  await db.close()
})
afterAll(() => kafka.close())

const start = (env: Record<string, string> = {}, tuning: RelayTuning = {}) =>
  startTestRelay({ databaseUrl: db.url, brokers: kafka.bootstrap, topic, ...env }, tuning)

describe('broker faults', () => {
  it('all brokers down for 10 s under load: nothing lost, published early or parked', async () => {
    // An outage twice the send timeout: a send stuck on it is given up and the producer rebuilt.
    relay = await start({}, { backoff: { baseMs: 100, capMs: 1000 }, sendTimeoutMs: 5000 })
    kafka.setAllBrokersDown()
    const orders = newOrderIds(50)
    const outageStart = Date.now()
    try {
      for (let round = 0; round < 10; round++) {
        await insertOrderEvents(db.sql, orders.slice(round * 5, round * 5 + 5), 3)
        await delay(1000) // ten rounds: a 10 s outage
      }
      expect(await unpublishedCount(db.sql)).toBe(150)
      expect(Date.now() - outageStart).toBeGreaterThan(10_000)
      // An unreachable broker says nothing about the events: none is parked (so none is
      // dead-lettered or counted an attempt); the relay backs off as a whole and claims them
      // again (publish-failure.ts).
      const [parked] = await db.sql`select count(*)::int as n from outbox_parked`
      expect(parked?.n).toBe(0)
    } finally {
      kafka.setAllBrokersUp()
    }
    await waitFor('backlog drained', async () => (await unpublishedCount(db.sql)) === 0, 20_000)
    // A fresh consumer: the long-lived one was cut off by the outage too.
    const after = await collectMessages(kafka.bootstrap, topic)
    try {
      await waitFor('all on the topic', () => after.byEventId().size === 150)
      const report = await ledger(db.sql, after)
      expect(report.missing).toEqual([])
      expect(report.outOfOrder).toEqual([])
    } finally {
      await after.stop()
    }
  }, 60_000)

  it('retriable produce errors: delivered, in order', async () => {
    relay = await start()
    // The errors wait in the broker for the first produce requests, whenever they come.
    kafka.pushRequestErrors(ApiKey.Produce, [
      KafkaError.NOT_LEADER_FOR_PARTITION,
      KafkaError.NOT_ENOUGH_REPLICAS,
      KafkaError.REQUEST_TIMED_OUT,
      KafkaError.NOT_LEADER_FOR_PARTITION,
      KafkaError.LEADER_NOT_AVAILABLE,
      KafkaError.NOT_ENOUGH_REPLICAS,
    ])
    const orders = newOrderIds(20)
    await insertOrderEvents(db.sql, orders, 5)
    await waitFor('all published', async () => (await unpublishedCount(db.sql)) === 0, 20_000)
    await waitFor('all on the topic', () => consumer.byEventId().size === 100)
    const report = await ledger(db.sql, consumer)
    expect(report.missing).toEqual([])
    expect(report.outOfOrder).toEqual([])
  })

  it('a permanently failing event is dead-lettered; its order waits, other orders flow', async () => {
    relay = await start({ KAFKA_MAX_MESSAGE_BYTES: '10000' })
    const [poisoned, healthy] = newOrderIds(2) as [string, string]
    await insertOrderEvents(db.sql, [poisoned, healthy], 1)
    const pad = 'x'.repeat(20_000) // seq 2 of the poisoned order is over the 10,000-byte limit
    await db.sql`
      insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
      values (gen_random_uuid(), 'OrderUpdated', ${poisoned}, ${JSON.stringify({ seq: 2, pad })}::jsonb, now()),
             (gen_random_uuid(), 'OrderUpdated', ${poisoned}, '{"seq":3}', now()),
             (gen_random_uuid(), 'OrderUpdated', ${healthy}, '{"seq":2}', now())`

    const dead = await waitFor('the oversized event dead-lettered', async () => {
      const rows = await db.sql<{ seq: string; last_error: string }[]>`
        select o.payload->>'seq' as seq, u.last_error from outbox_unpublished u
          join outbox o on o.id = u.id where u.dead_at is not null`
      return rows.length > 0 ? [...rows] : undefined
    })
    expect(dead).toHaveLength(1)
    expect(dead[0]).toMatchObject({
      seq: '2',
      last_error: expect.stringMatching(/MESSAGE_TOO_LARGE/),
    })
    await waitFor(
      'the healthy order complete',
      () => consumer.messages.filter((m) => m.key === healthy).length === 2,
    )
    // An order written after all of them: the drain that publishes it has seen seq 3 too.
    const [probe] = newOrderIds(1) as [string]
    await insertOrderEvents(db.sql, [probe], 1)
    await waitFor('the later order published', async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from outbox_unpublished where aggregate_id = ${probe}`
      return row?.n === 0
    })
    const poisonedSeqs = consumer.messages
      .filter((m) => m.key === poisoned)
      .map((m) => (m.value as { seq: number }).seq)
    expect(poisonedSeqs).toEqual([1])
    const held = await db.sql`
      select o.payload->>'seq' as seq from outbox_unpublished u join outbox o on o.id = u.id
       where u.aggregate_id = ${poisoned} and u.dead_at is null`
    expect(held.map((r) => r.seq)).toEqual(['3'])
  })
})
