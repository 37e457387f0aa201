/**
 * `npm run outbox` on events that wait for a topic the cluster lacks: pending, never dead, no
 * attempts counted. `show` prints one whole; `discard` and `reroute` get it out (before them,
 * only a hand-written UPDATE could), against a real relay and broker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import type { RelayService } from '../../src/relay/start-relay'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { type Collector, collectMessages, startTestKafka } from '../helpers/kafka'
import { park } from '../helpers/outbox-state'
import { startTestRelay } from '../helpers/relay'
import { runCli } from '../helpers/run-cli'
import { waitFor } from '../helpers/wait'

let db: TestDatabase
let kafka: MockKafka
let relay: RelayService
let orders: Collector
const cli = (...args: string[]) => runCli(args, { DATABASE_URL: db.url })

/** Inserts one event as a plain-SQL writer would; returns its event id. */
async function insert(aggregate: string, id: string, topic: string | null = null) {
  const [row] = await db.sql<{ eventId: string }[]>`
    insert into outbox (aggregate_type, aggregate_id, event_type, payload, topic)
    values (${aggregate}, ${id}, 'ParcelScanned', '{"at": "depot"}', ${topic})
    returning event_id as "eventId"`
  if (!row) throw new Error('insert returned no row')
  return row.eventId
}

const row = async (eventId: string) =>
  (
    await db.sql<{ publishedAt: Date | null; deadAt: Date | null; lastError: string | null }[]>`
      select x.published_at as "publishedAt", x.dead_at as "deadAt", x.last_error as "lastError"
        from outbox o left join outbox_parked x on x.id = o.id where o.event_id = ${eventId}`
  )[0]

const waiting = (eventId: string) =>
  waitFor(`${eventId} waiting for its topic`, async () =>
    (await row(eventId))?.lastError?.startsWith('MissingTopicError'),
  )

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka('orders.events', { brokers: 1 })
  orders = await collectMessages(kafka.bootstrap, 'orders.events')
  relay = await startTestRelay({
    databaseUrl: db.url,
    brokers: kafka.bootstrap,
    topic: '{aggregate_type}.events',
  })
})
afterAll(async () => {
  await relay.stop()
  await orders.stop()
  kafka.close()
  await db.close()
})

describe('an event waiting for a missing topic', () => {
  it('show: its state and its whole error', async () => {
    const eventId = await insert('parcel', 'P-1')
    await waiting(eventId)
    const text = await cli('show', eventId)
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/^state:\s+waiting-for-topic$/m)
    expect(text.stdout).toMatch(/^aggregate:\s+parcel\/P-1$/m)
    expect(text.stdout).toMatch(/^topic:\s+parcel\.events \(KAFKA_TOPIC_TEMPLATE/m)
    expect(text.stdout).toContain(
      'MISSING_TOPIC: parcel.events does not exist (the relay never creates topics)',
    )
    const json = JSON.parse((await cli('show', eventId, '--json')).stdout)
    expect(json).toMatchObject({
      eventId,
      state: 'waiting-for-topic',
      aggregateType: 'parcel',
      aggregateId: 'P-1',
      route: 'parcel.events',
      source: null,
      attempts: 0,
      payload: { at: 'depot' },
    })
  })

  it('discard: handled without publishing; the later events of its aggregate go out', async () => {
    const first = await insert('crate', 'C-1')
    await waiting(first)
    // A later event of the same aggregate, to a topic that exists: held behind the first.
    const later = await insert('crate', 'C-1', 'orders.events')
    const discarded = await cli('discard', first)
    expect(discarded).toMatchObject({ code: 0, stdout: expect.stringMatching(/^discarded event/) })
    expect(await row(first)).toMatchObject({
      publishedAt: expect.anything(),
      deadAt: expect.anything(),
      lastError: expect.stringMatching(/^discarded by operator at .+; was: MissingTopicError/),
    })
    const message = await waitFor('the later event', () =>
      orders.messages.find((m) => m.headers.ce_id === later),
    )
    expect(message.key).toBe('C-1')
    expect(orders.messages.some((m) => m.headers.ce_id === first)).toBe(false)
    expect(await cli('discard', first)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/was discarded at/),
    })
  })

  it('reroute: published on the topic named, once', async () => {
    const eventId = await insert('parcel', 'E-1', 'parcels.evnets') // a typo in its topic
    await waiting(eventId)
    const rerouted = await cli('reroute', eventId, 'orders.events')
    expect(rerouted).toMatchObject({ code: 0, stdout: expect.stringMatching(/^rerouted event/) })
    const message = await waitFor('the rerouted event', () =>
      orders.messages.find((m) => m.headers.ce_id === eventId),
    )
    expect(message).toMatchObject({ key: 'E-1', value: { at: 'depot' } })
    expect(await cli('reroute', eventId, 'orders.events')).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/was published at/),
    })
  })

  it('reroute: a dead event, dead for its topic name, goes out on the topic named', async () => {
    const [dead] = await db.sql<{ eventId: string }[]>`
      insert into outbox (aggregate_type, aggregate_id, event_type, payload, topic)
      values ('crate', 'C-9', 'CrateLost', '{}', 'no such/topic')
      returning event_id as "eventId"`
    const eventId = dead?.eventId ?? ''
    await waitFor('dead-lettered by the relay', async () => (await row(eventId))?.deadAt)
    const rerouted = await cli('reroute', eventId, 'orders.events')
    expect(rerouted).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/\(was no such\/topic\)/),
    })
    const message = await waitFor('the rerouted dead event', () =>
      orders.messages.find((m) => m.headers.ce_id === eventId),
    )
    expect(message.key).toBe('C-9')
  })

  it('refuses an event the relay will publish, and a bad topic, changing nothing', async () => {
    // Pending, not waiting for a topic; held an hour so that the relay leaves it alone meanwhile.
    // Parked in the same transaction, so the relay never sees it otherwise.
    const [pending] = await db.sql.begin(async (tx) => {
      const rows = await tx<{ eventId: string }[]>`
        insert into outbox (aggregate_type, aggregate_id, event_type, payload)
        values ('parcel', 'P-2', 'X', '{}')
        returning event_id as "eventId"`
      await park(tx, tx`event_id = ${rows[0]?.eventId ?? ''}::uuid`, { nextAttemptAgo: '-1 hour' })
      return rows
    })
    const id = pending?.eventId ?? ''
    expect(await cli('discard', id)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/it is pending, not waiting for a missing topic/),
    })
    expect(await cli('reroute', id, 'orders.events')).toMatchObject({ code: 1 })
    expect(await cli('reroute', id, 'no such/topic')).toMatchObject({ code: 2 })
    const [left] = await db.sql<{ topic: string | null; publishedAt: Date | null }[]>`
      select o.topic, x.published_at as "publishedAt"
        from outbox o left join outbox_parked x on x.id = o.id where o.event_id = ${id}`
    expect(left).toEqual({ topic: null, publishedAt: null })
  })
})
