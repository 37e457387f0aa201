/**
 * The outbox as a contract (docs/outbox.md): rows written by plain SQL, no project code, with
 * any aggregate type and a text key, are published to the topic their type names (or their own
 * `topic`), with the CloudEvents headers and their extra headers. A topic the cluster lacks
 * holds its events back, and only them, until it is created.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import type { RelayService } from '../../src/relay/start-relay'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { type Collector, collectMessages, startTestKafka } from '../helpers/kafka'
import { park } from '../helpers/outbox-state'
import { startTestRelay } from '../helpers/relay'
import { waitFor } from '../helpers/wait'

/**
 * Runs SQL text as an outside service would: through psql when installed, else as one simple
 * query on a bare connection. Either way nothing of this project's code writes the row.
 */
async function plainSql(url: string, text: string): Promise<void> {
  try {
    await promisify(execFile)('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', text, url])
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    const sql = postgres(url, { max: 1, onnotice: () => {} })
    await sql.unsafe(text).finally(() => sql.end())
  }
}

let db: TestDatabase
let kafka: MockKafka
let relay: RelayService
const collectors = new Map<string, Collector>()
const on = async (topic: string) => {
  const existing = collectors.get(topic)
  if (existing) return existing
  const collector = await collectMessages(kafka.bootstrap, topic)
  collectors.set(topic, collector)
  return collector
}

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka('orders.events')
  kafka.createTopic('shipment.events', 3)
  kafka.createTopic('audit.log', 1)
  await Promise.all(['orders.events', 'shipment.events', 'audit.log'].map(on))
  relay = await startTestRelay({
    databaseUrl: db.url,
    brokers: kafka.bootstrap,
    topic: '{aggregate_type}.events',
  })
})
afterAll(async () => {
  await relay.stop()
  for (const c of collectors.values()) await c.stop()
  kafka.close()
  await db.close()
})

describe('rows written with plain SQL', () => {
  it('a shipment with a text key arrives on shipment.events with its CloudEvents and extra headers', async () => {
    await plainSql(
      db.url,
      `insert into outbox (aggregate_type, aggregate_id, event_type, payload, headers)
       values ('shipment', 'SHP-0001', 'ShipmentDispatched', '{"carrier": "dhl"}',
               '{"tenant": "acme", "schema": "shipment-v1"}')`,
    )
    const [row] = await db.sql<{ event_id: string }[]>`
      select event_id from outbox where aggregate_id = 'SHP-0001'`
    const shipments = await on('shipment.events')
    const message = await waitFor('the shipment event', () => shipments.messages[0])
    expect(message.key).toBe('SHP-0001')
    expect(message.value).toEqual({ carrier: 'dhl' })
    expect(message.headers).toMatchObject({
      ce_id: row?.event_id,
      ce_type: 'ShipmentDispatched',
      ce_subject: 'SHP-0001',
      ce_specversion: '1.0',
      ce_source: '/orders-api', // no source written: the relay's default
      tenant: 'acme',
      schema: 'shipment-v1',
    })
    expect(message.headers.ce_time).toMatch(/^\d{4}-\d\d-\d\dT/)
    // No sequence was written, and the type is not one src/events declares.
    expect(message.headers).not.toHaveProperty('ce_sequence')
    expect(message.headers).not.toHaveProperty('ce_dataschema')
  })

  it("a row with topic = 'audit.log' arrives there, not on its type's topic", async () => {
    await plainSql(
      db.url,
      `insert into outbox (aggregate_type, aggregate_id, event_type, payload, topic, sequence)
       values ('shipment', 'SHP-0002', 'ShipmentAudited', '{"by": "ops"}', 'audit.log', 7)`,
    )
    const audit = await on('audit.log')
    const message = await waitFor('the audit event', () => audit.messages[0])
    expect(message).toMatchObject({
      key: 'SHP-0002',
      headers: { ce_type: 'ShipmentAudited', ce_subject: 'SHP-0002', ce_sequence: '7' },
    })
    // The aggregate's next event, to its type's topic: same key, so the same partition, after
    // anything of SHP-0002 sent there before.
    await plainSql(
      db.url,
      `insert into outbox (aggregate_type, aggregate_id, event_type, payload)
       values ('shipment', 'SHP-0002', 'ShipmentNoted', '{}')`,
    )
    const shipments = await on('shipment.events')
    await waitFor('the next event', () => shipments.messages.some((m) => m.key === 'SHP-0002'))
    expect(
      shipments.messages.filter((m) => m.key === 'SHP-0002').map((m) => m.headers.ce_type),
    ).toEqual(['ShipmentNoted'])
  })

  it('a row that names its source goes out with it as ce_source', async () => {
    await plainSql(
      db.url,
      `insert into outbox (aggregate_type, aggregate_id, event_type, payload, source, topic)
       values ('shipment', 'SHP-0009', 'ShipmentDispatched', '{}', '/shipping', 'audit.log')`,
    )
    const audit = await on('audit.log')
    const message = await waitFor('the event', () =>
      audit.messages.find((m) => m.key === 'SHP-0009'),
    )
    expect(message.headers.ce_source).toBe('/shipping')
  })

  it('refuses headers that are not an object of strings', async () => {
    await expect(
      plainSql(
        db.url,
        `insert into outbox (aggregate_type, aggregate_id, event_type, payload, headers)
         values ('shipment', 'SHP-0003', 'X', '{}', '{"n": 1}')`,
      ),
    ).rejects.toThrow(/outbox_headers_strings/)
  })

  it('a row routed to a name no topic can have is dead-lettered, saying why', async () => {
    await db.sql`
      insert into outbox (aggregate_type, aggregate_id, event_type, payload, topic)
      values ('shipment', 'SHP-0004', 'X', '{}', 'no such/topic')`
    const dead = await waitFor('the event dead-lettered', async () => {
      const [row] = await db.sql<{ last_error: string }[]>`
        select last_error from outbox_unpublished
         where aggregate_id = 'SHP-0004' and dead_at is not null`
      return row
    })
    expect(dead.last_error).toMatch(/INVALID_TOPIC: .*'no such\/topic'/)
  })

  it('an OrderCreated written by SQL that does not fit its schema is dead-lettered, naming the field, not published', async () => {
    const id = '5a1f1b5e-0000-4000-8000-00000000e1e1'
    await db.sql`
      insert into outbox (aggregate_type, aggregate_id, event_type, payload)
      values ('orders', ${id}, 'OrderCreated', '{}')`
    const dead = await waitFor('the event dead-lettered', async () => {
      const [row] = await db.sql<{ last_error: string }[]>`
        select last_error from outbox_unpublished where aggregate_id = ${id} and dead_at is not null`
      return row
    })
    expect(dead.last_error).toMatch(/SCHEMA_MISMATCH: .* does not fit OrderCreated\.v1\.json: id: /)
    expect((await on('orders.events')).messages.map((m) => m.key)).not.toContain(id)
  })

  it('two aggregates of different types with the same id do not hold each other back', async () => {
    // orders/SAME has a dead event: its later event waits. shipment/SAME is another aggregate.
    // Written dead in one transaction, so the running relay never sees it otherwise.
    await db.sql.begin(async (tx) => {
      await tx`
        insert into outbox (aggregate_type, aggregate_id, event_type, payload)
        values ('orders', 'SAME', 'OrderCreated', '{}')`
      await park(tx, tx`aggregate_id = 'SAME'`, { deadAgo: '0', lastError: 'permanent: test' })
    })
    await db.sql`
      insert into outbox (aggregate_type, aggregate_id, event_type, payload)
      values ('orders', 'SAME', 'OrderConfirmed', '{}'), ('shipment', 'SAME', 'ShipmentDispatched', '{}')`
    const shipments = await on('shipment.events')
    await waitFor('shipment/SAME', () => shipments.messages.some((m) => m.key === 'SAME'))
    // The drain that published shipment/SAME saw orders/SAME's later event too, and held it.
    const [held] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from outbox_unpublished
       where aggregate_type = 'orders' and aggregate_id = 'SAME' and dead_at is null`
    expect(held?.n).toBe(1)
    expect((await on('orders.events')).messages.filter((m) => m.key === 'SAME')).toHaveLength(0)
  })
})

describe('a topic the cluster does not have', () => {
  it('holds its events and their aggregates in order, lets other topics flow, and publishes them once it exists', async () => {
    await db.sql`
      insert into outbox (aggregate_type, aggregate_id, event_type, payload, sequence)
      select t, k, 'Step', jsonb_build_object('n', n), n
        from (values ('payment', 'PAY-1'), ('shipment', 'SHP-9')) a(t, k),
             generate_series(1, 3) n
       order by n, t`
    const shipments = await on('shipment.events')
    await waitFor(
      'shipment/SHP-9',
      () => shipments.messages.filter((m) => m.key === 'SHP-9').length === 3,
    )
    // Waiting: not dead, no attempt counted, the topic named (once the relay has tried).
    await waitFor('the payment events tried', async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from outbox_unpublished
         where aggregate_type = 'payment' and last_error like '%MISSING_TOPIC%'`
      return row?.n === 3
    })
    const waiting = await db.sql<{ attempts: number; dead: boolean; last_error: string }[]>`
      select attempts, dead_at is not null as dead, last_error from outbox_unpublished
       where aggregate_type = 'payment' order by id`
    expect(waiting).toHaveLength(3)
    for (const row of waiting) {
      expect(row).toMatchObject({ attempts: 0, dead: false })
      expect(row.last_error).toMatch(/MISSING_TOPIC: payment\.events/)
    }

    kafka.createTopic('payment.events', 3)
    const payments = await on('payment.events')
    await waitFor('the payment events', () => payments.messages.length === 3, 15_000)
    expect(payments.messages.map((m) => (m.value as { n: number }).n)).toEqual([1, 2, 3])
    expect(payments.messages.every((m) => m.key === 'PAY-1')).toBe(true)
    const [left] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from outbox_unpublished where aggregate_type = 'payment'`
    expect(left?.n).toBe(0)
  })
})
