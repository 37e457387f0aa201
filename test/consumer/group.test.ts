/**
 * A consumer group of two `npm run consume` processes: the partitions are split between them,
 * and when one is SIGKILLed mid-stream the other takes its partitions over; the inbox absorbs
 * what is delivered twice, and nothing is lost. Each serves its metrics on its own port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { orderHistory, produceEvents } from '../helpers/consumer-events'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startTestKafka } from '../helpers/kafka'
import { type Spawned, spawnEntrypoint } from '../helpers/process'
import { waitFor } from '../helpers/wait'

const topic = 'orders.events'
const PARTITIONS = 4
let db: TestDatabase
let kafka: MockKafka
const children: Spawned[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka(topic, { partitions: PARTITIONS })
})
afterAll(async () => {
  for (const child of children) child.child.kill('SIGKILL')
  await db.close()
  kafka.close()
})

function spawnConsumer(): Spawned {
  const child = spawnEntrypoint('src/main/consume.ts', {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: kafka.bootstrap,
  })
  children.push(child)
  return child
}

/** The JSON log lines of a process with this message. */
const lines = (p: Spawned, msg: string) =>
  p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg)
const assignment = (p: Spawned) =>
  (lines(p, 'joined the group').at(-1)?.partitions as number[] | undefined) ?? []

async function send(orders: number) {
  const events = Array.from({ length: orders }, () =>
    orderHistory(['OrderCreated', 'OrderConfirmed'], 'pen', 1),
  ).flat()
  await produceEvents(kafka.bootstrap, topic, events)
  return events.length
}
const applied = async () =>
  (
    await db.sql<{ n: number }[]>`
      select count(*)::int as n from inventory.inbox where outcome = 'applied'`
  )[0]?.n ?? 0

describe('a consumer group of two', () => {
  it('splits the partitions with a member added mid-stream; one killed mid-stream loses nothing', async () => {
    const a = spawnConsumer()
    await waitFor('the first member joined', () => assignment(a).length === PARTITIONS, 60_000, 200)
    // The second member is added mid-stream.
    const first = await send(200)
    await waitFor('some of the first batch', async () => (await applied()) > 20, 30_000)
    const b = spawnConsumer()
    await waitFor(
      'both members holding partitions',
      () =>
        // Each member logs its own join: until both have logged the same generation, one's
        // last line may still name a partition the other holds now.
        assignment(a).length > 0 &&
        assignment(b).length > 0 &&
        new Set([...assignment(a), ...assignment(b)]).size === PARTITIONS &&
        assignment(a).length + assignment(b).length === PARTITIONS,
      60_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- a:\n${a.output()}\n--- b:\n${b.output()}`)
    })
    expect([...assignment(a), ...assignment(b)].sort()).toEqual([0, 1, 2, 3])
    await waitFor('the first batch applied', async () => (await applied()) === first, 30_000)

    const second = await send(200)
    await waitFor('some of the second batch', async () => (await applied()) > first + 20, 30_000)
    a.child.kill('SIGKILL')
    await a.exited
    await waitFor(
      'everything applied by the survivor',
      async () => (await applied()) === first + second,
      60_000,
      200,
    )
    expect(assignment(b).sort()).toEqual([0, 1, 2, 3])
    const [row] = await db.sql`
      select count(*)::int as events, reserved::float8 as reserved
        from inventory.inbox, inventory.stock where item = 'pen' group by reserved`
    // Each order reserved 1 once, whatever was delivered twice.
    expect(row).toEqual({ events: first + second, reserved: (first + second) / 2 })
    // Still running: a group request the broker refused during a rebalance (kafkajs gives up on
    // those) restarted its client instead of ending the process.
    expect(b.child.exitCode).toBeNull()
    expect(lines(b, 'kafka consumer crashed').length).toBe(
      lines(b, 'restarting the kafka consumer').length,
    )

    const port = lines(b, 'consumer metrics listening')[0]?.port
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    expect(metrics).toMatch(/^inventory_consumer_events_total\{outcome="applied"\} [1-9]/m)
    expect(metrics).toMatch(/^inventory_consumer_lag_messages\{partition="\d"\} \d+/m)
  }, 150_000)
})
