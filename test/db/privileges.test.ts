/**
 * Least privilege: the API, relay and consumer roles can do their jobs and nothing else.
 * Runs the real API and relay logged in as their roles.
 */
import { pino } from 'pino'
import type postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { createDb } from '../../src/db/client'
import { enableRoleLogins, type RoleName, roles } from '../../src/db/roles'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startTestKafka } from '../helpers/kafka'
import { startTestRelay } from '../helpers/relay'
import { waitFor } from '../helpers/wait'

let db: TestDatabase
let kafka: MockKafka
const handles: Array<{ sql: postgres.Sql }> = []
const password = 'test-password-1'

function urlAs(role: RoleName) {
  const url = new URL(db.url)
  url.username = roles[role]
  url.password = password
  return url.toString()
}
function connectAs(role: RoleName) {
  const handle = createDb(urlAs(role), { max: 2 })
  handles.push(handle)
  return handle
}

beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka('orders.events')
  await enableRoleLogins(db.sql, { api: password, relay: password, consumer: password })
})
afterAll(async () => {
  await Promise.all(handles.map((h) => h.sql.end({ timeout: 1 })))
  await db.close()
  kafka.close()
})

const denied = (query: Promise<unknown>) => expect(query).rejects.toThrow(/permission denied/)

describe('least-privilege roles', () => {
  it('outbox_api places and moves orders with idempotency keys, and cannot touch events after', async () => {
    const api = connectAs('api')
    const [who] = await api.sql`select current_user`
    expect(who?.current_user).toBe('outbox_api')
    const app = createApp({ db: api.db, logger: pino({ level: 'silent' }) })
    const res = await app.request('/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'priv-1' },
      body: JSON.stringify({ item: 'book', quantity: 1 }),
    })
    expect(res.status).toBe(201)
    const { id } = (await res.json()) as { id: string }
    expect((await app.request(`/orders/${id}/confirm`, { method: 'POST' })).status).toBe(200)
    expect((await app.request('/orders?limit=5')).status).toBe(200)
    await denied(api.sql`select * from outbox`)
    await denied(api.sql`update outbox set payload = '{}'`)
    await denied(api.sql`delete from outbox`)
    await denied(api.sql`delete from orders`)
    // Of the consumer's tables, only what the stock limit needs (drizzle/0020): the item and its
    // reserved count, read.
    await api.sql`select item, reserved from inventory.stock`
    await denied(api.sql`select * from inventory.stock`)
    await denied(api.sql`update inventory.stock set reserved = 0`)
    await denied(api.sql`insert into inventory.stock (item) values ('x')`)
    await denied(api.sql`select * from inventory.inbox`)
  })

  it('outbox_relay publishes and marks events, and cannot read or write orders', async () => {
    const before = await db.sql`select count(*)::int as n from outbox_unpublished`
    expect(before[0]?.n).toBeGreaterThan(0)
    const relay = await startTestRelay({
      databaseUrl: urlAs('relay'),
      brokers: kafka.bootstrap,
      topic: 'orders.events',
    })
    try {
      await waitFor('events published by outbox_relay', async () => {
        const [row] = await db.sql`select count(*)::int as n from outbox_unpublished`
        return row?.n === 0
      })
    } finally {
      await relay.stop()
    }
    const relaySql = connectAs('relay').sql
    await denied(relaySql`select * from orders`)
    await denied(relaySql`insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
                          values (gen_random_uuid(), 'x', gen_random_uuid(), '{}', now())`)
  })

  it('outbox_consumer works in its own schema, and may only append its events to the outbox', async () => {
    const consumer = connectAs('consumer').sql
    await consumer`insert into inventory.stock (item, reserved) values ('pen', 1)`
    expect(
      await consumer`select reserved::float8 as reserved from inventory.stock where item = 'pen'`,
    ).toEqual([{ reserved: 1 }])
    await denied(consumer`delete from inventory.stock`)
    await denied(consumer`select * from orders`)
    await denied(consumer`select * from outbox`)
    // Its saga step (src/consumer/stock-events.ts) writes through the outbox contract.
    await consumer`insert into outbox (aggregate_type, aggregate_id, event_type, payload)
                   values ('inventory', 'pen', 'StockReserved', '{}')`
    await denied(consumer`update outbox set topic = 'x'`)
    await denied(consumer`delete from outbox`)
  })
})
