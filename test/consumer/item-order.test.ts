/**
 * Two overlapping writers of one inventory item: the StockReserved events reach Kafka in the
 * order their transactions committed. The consumer locks the item's row before writing a stock
 * event, so the second writer waits for the first; its outbox row gets the later id, and the
 * relay publishes in id order (docs/outbox.md: a writer serialises on its aggregate).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { handleEvent } from '../../src/consumer/inventory'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { orderHistory } from '../helpers/consumer-events'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { type Collector, collectMessages, startTestKafka } from '../helpers/kafka'
import { startTestRelay } from '../helpers/relay'
import { waitFor } from '../helpers/wait'

let db: TestDatabase
let kafka: MockKafka
let collector: Collector | undefined

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka('inventory.events')
})
afterAll(async () => {
  await collector?.stop()
  await db.close()
  kafka.close()
})

describe('one item, two writers', () => {
  it('StockReserved events reach Kafka in commit order', async () => {
    const [createdA, confirmedA] = orderHistory(['OrderCreated', 'OrderConfirmed'], 'lamp', 1)
    const [createdB, confirmedB] = orderHistory(['OrderCreated', 'OrderConfirmed'], 'lamp', 2)
    for (const e of [createdA, createdB]) await db.db.transaction((tx) => handleEvent(tx, e))

    const commits: string[] = []
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let handledA: () => void = () => {}
    const aHandled = new Promise<void>((resolve) => {
      handledA = resolve
    })
    // A writes its StockReserved and stays open; B starts while A's row is uncommitted.
    const a = db.db
      .transaction(async (tx) => {
        await handleEvent(tx, confirmedA)
        handledA()
        await held
      })
      .then(() => commits.push(confirmedA.orderId))
    await aHandled
    const b = db.db
      .transaction((tx) => handleEvent(tx, confirmedB))
      .then(() => commits.push(confirmedB.orderId))
    // B waits on the item's row lock that A holds (a writer serialises on its aggregate).
    await waitFor('B waiting on A', async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
         where datname = current_database() and wait_event_type = 'Lock'`
      return (row?.n ?? 0) > 0
    })
    expect(commits).toEqual([])
    release()
    await Promise.all([a, b])

    // Published only now, in one claim: in id order.
    collector = await collectMessages(kafka.bootstrap, 'inventory.events')
    const relay = await startTestRelay({
      databaseUrl: db.url,
      brokers: kafka.bootstrap,
      topic: '{aggregate_type}.events',
    })
    try {
      await waitFor('both StockReserved', () => (collector?.messages.length ?? 0) >= 2, 20_000)
    } finally {
      await relay.stop()
    }
    const published = collector.messages.map((m) => (m.value as { orderId: string }).orderId)
    expect(published).toEqual(commits)
  })
})
