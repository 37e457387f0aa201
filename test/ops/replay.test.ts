/**
 * `npm run outbox -- replay` as an operator runs it: its own process, against a real database
 * and broker, while a real relay publishes live events beside it.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import type { RelayService } from '../../src/relay/start-relay'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { type Collector, collectMessages, messagesOnBroker, startTestKafka } from '../helpers/kafka'
import { insertOrderEvents, newOrderIds, unpublishedCount } from '../helpers/ledger'
import { startTestRelay } from '../helpers/relay'
import { runCli } from '../helpers/run-cli'
import { spawnCommand } from '../helpers/spawn-command'
import { delay, waitFor } from '../helpers/wait'

let db: TestDatabase
let kafka: MockKafka
let relay: RelayService
const collectors: Collector[] = []
const HOUR = 3_600_000

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka('orders.events')
  for (const t of ['shipment.events', 'replay.one', 'replay.two', 'replay.three']) {
    kafka.createTopic(t, 3)
  }
  relay = await startTestRelay({
    databaseUrl: db.url,
    brokers: kafka.bootstrap,
    topic: '{aggregate_type}.events',
  })
})
afterEach(async () => {
  for (const c of collectors.splice(0)) await c.stop()
})
afterAll(async () => {
  await relay.stop()
  await db.close()
  kafka.close()
})

const env = () => ({
  DATABASE_URL: db.url,
  KAFKA_BROKERS: kafka.bootstrap,
  KAFKA_IDEMPOTENT: 'false',
})
const cli = (...args: string[]) => runCli(['replay', ...args], env())
const collect = async (topic: string) => {
  const c = await collectMessages(kafka.bootstrap, topic)
  collectors.push(c)
  return c
}

/**
 * History, published (by the relay, to their own topic): `perAggregate` events for each
 * aggregate, ten seconds apart from `hoursAgo` back, in id order.
 */
async function history(aggregates: string[], perAggregate: number, hoursAgo: number) {
  await db.sql`
    insert into outbox (event_type, aggregate_type, aggregate_id, payload, sequence, occurred_at)
    select 'OrderNoted', 'orders', a, jsonb_build_object('seq', s), s,
           now() - ${hoursAgo} * interval '1 hour' + (s * 10) * interval '1 second'
      from generate_series(1, ${perAggregate}) s, unnest(${aggregates}::text[]) a
     order by s, a`
  await waitFor('history published', async () => (await unpublishedCount(db.sql)) === 0)
}

/** Per aggregate, the sequence numbers in the order of their first arrival. */
function firstArrivals(c: Collector): Map<string, number[]> {
  const seen = new Set<string>()
  const order = new Map<string, number[]>()
  for (const m of c.messages) {
    const id = m.headers.ce_id ?? ''
    if (seen.has(id)) continue
    seen.add(id)
    order.set(m.key, [...(order.get(m.key) ?? []), Number(m.headers.ce_sequence)])
  }
  return order
}

const runs = async () =>
  (await db.sql<{ n: number }[]>`select count(*)::int as n from outbox_replay`)[0]?.n ?? 0

describe('replay', () => {
  it("a day of three aggregates' events to another topic: complete, in order per aggregate, while live events flow", async () => {
    const aggregates = newOrderIds(3)
    await history(aggregates, 200, 20) // 600 events, 20 h ago
    const target = await collect('replay.one')
    const live = newOrderIds(50)
    const writer = (async () => {
      for (let i = 0; i < 10; i++) {
        await insertOrderEvents(db.sql, live, 1)
        await delay(50)
      }
    })()
    const since = new Date(Date.now() - 21 * HOUR).toISOString()
    const until = new Date(Date.now() - 10 * HOUR).toISOString()
    const result = await cli(
      '--since',
      since,
      '--until',
      until,
      '--to-topic',
      'replay.one',
      '--rate',
      '1000',
    )
    await writer
    expect(result.stderr).not.toMatch(/error/i)
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/600 published events match, to be sent to replay\.one/)
    await waitFor('600 replayed', () => target.byEventId().size === 600)
    const order = firstArrivals(target)
    for (const a of aggregates) {
      expect(order.get(a)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    }
    expect(target.messages.every((m) => /^\d+$/.test(m.headers.outbox_replay ?? ''))).toBe(true)
    await waitFor('live events published', async () => (await unpublishedCount(db.sql)) === 0)
    const metrics = await (await fetch(`http://127.0.0.1:${relay.httpPort}/metrics`)).text()
    expect(metrics).toMatch(
      /^outbox_replayed_events\{run="\d+",topic="replay\.one",status="done"\} 600$/m,
    )
  })

  it('killed halfway, resumed: finishes with no event skipped', async () => {
    const aggregates = newOrderIds(3)
    await history(aggregates, 100, 5)
    const target = await collect('replay.two')
    const child = spawnCommand(
      [
        process.execPath,
        '--import',
        'tsx',
        'src/main/outbox.ts',
        'replay',
        '--since',
        new Date(Date.now() - 6 * HOUR).toISOString(),
        '--until',
        new Date(Date.now() - 4 * HOUR).toISOString(),
        '--to-topic',
        'replay.two',
        '--rate',
        '60',
      ],
      { env: { ...env(), RELAY_BATCH_SIZE: '10' } },
    )
    await waitFor('a third replayed', () => target.byEventId().size >= 100, 20_000)
    child.child.kill('SIGKILL')
    await child.exited
    const status = await cli('--status', '--json')
    const [run] = JSON.parse(status.stdout) as {
      id: number
      status: string
      done: number
      total: number
    }[]
    expect(run).toMatchObject({ status: 'running', total: 300 })
    expect(run?.done).toBeLessThan(300)

    const resumed = await runCli(['replay', '--resume', String(run?.id)], env())
    expect(resumed.code).toBe(0)
    await waitFor('all 300 replayed', () => target.byEventId().size === 300)
    const order = firstArrivals(target)
    for (const a of aggregates)
      expect(order.get(a)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    // At most the batch in hand when it was killed goes out twice.
    expect(target.messages.length - 300).toBeLessThanOrEqual(10)
    const after = JSON.parse((await cli('--status', '--json')).stdout) as {
      status: string
      done: number
    }[]
    expect(after[0]).toMatchObject({ status: 'done' })
  })

  it('--dry-run counts per topic and type and sends nothing', async () => {
    const aggregates = newOrderIds(2)
    await history(aggregates, 5, 3)
    const offsets = await messagesOnBroker(kafka.bootstrap, 'replay.three')
    const before = await runs()
    const result = await cli(
      '--aggregate-id',
      aggregates[0] as string,
      '--to-topic',
      'replay.three',
      '--dry-run',
    )
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/5 published events match/)
    expect(result.stdout).toMatch(/orders\.events\s+OrderNoted\s+5/)
    // The process has exited: whatever it sent was acknowledged, and would show in the offsets.
    expect(await messagesOnBroker(kafka.bootstrap, 'replay.three')).toEqual(offsets)
    expect(await runs()).toBe(before)
  })

  it.each([
    [
      ['--since', new Date(Date.now() - 30 * 24 * HOUR).toISOString()],
      /^--since .* is outside retention: .*replay from .* on/,
    ],
    [['--to-topic', 'no.such.topic'], /^the cluster has no topic no\.such\.topic: create it first/],
    [['--aggregate-id', randomUUID()], /^no published event matches .*: nothing to replay/],
  ])('%s: one line saying why, nothing sent, no run recorded', async (args, message) => {
    const offsets = await messagesOnBroker(kafka.bootstrap, 'replay.three')
    const before = await runs()
    const result = await cli(...args)
    expect(result.code).toBe(1)
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)])
    expect(await runs()).toBe(before)
    expect(await messagesOnBroker(kafka.bootstrap, 'replay.three')).toEqual(offsets)
  })
})
