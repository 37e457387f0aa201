/**
 * The inventory handler on a real Postgres: dedupe by event id, and the sequence policy
 * (stale, gap, unknown type, broken contract) by version.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { InboxEvent } from '../../src/consumer/decode'
import { handleEvent } from '../../src/consumer/inventory'
import { orderHistory } from '../helpers/consumer-events'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.close()
})

const handle = (event: InboxEvent) => db.db.transaction((tx) => handleEvent(tx, event))

async function stockOf(item: string) {
  const [row] = await db.sql<{ reserved: number; shipped: number }[]>`
    select reserved::float8 as reserved, shipped::float8 as shipped from inventory.stock where item = ${item}`
  return row ?? { reserved: 0, shipped: 0 }
}
async function appliedVersion(orderId: string) {
  const [row] = await db.sql<{ version: number }[]>`
    select version from inventory.order_versions where order_id = ${orderId}`
  return row?.version
}
async function inboxOf(orderId: string) {
  return db.sql<{ version: number; outcome: string; deliveries: number; hasData: boolean }[]>`
    select version, outcome, deliveries, data is not null as "hasData"
      from inventory.inbox where order_id = ${orderId} order by version, received_at`
}

describe('inventory handler', () => {
  it('applies a lifecycle in order: reserve, confirm, ship', async () => {
    const [created, confirmed, shipped] = orderHistory(
      ['OrderCreated', 'OrderConfirmed', 'OrderShipped'],
      'lamp',
      3,
    )
    expect(await handle(created)).toEqual({ outcome: 'applied', versions: [1] })
    expect(await stockOf('lamp')).toEqual({ reserved: 3, shipped: 0 })
    expect(await handle(confirmed)).toEqual({ outcome: 'applied', versions: [2] })
    expect(await stockOf('lamp')).toEqual({ reserved: 3, shipped: 0 })
    expect(await handle(shipped)).toEqual({ outcome: 'applied', versions: [3] })
    expect(await stockOf('lamp')).toEqual({ reserved: 0, shipped: 3 })
    expect(await appliedVersion(created.orderId)).toBe(3)
  })

  it('a cancellation releases what the order reserved', async () => {
    const [created, confirmed, cancelled] = orderHistory(
      ['OrderCreated', 'OrderConfirmed', 'OrderCancelled'],
      'kettle',
      4,
    )
    for (const event of [created, confirmed, cancelled]) await handle(event)
    expect(await stockOf('kettle')).toEqual({ reserved: 0, shipped: 0 })
  })

  it('the same event delivered twice has one effect and counts two deliveries', async () => {
    const [created] = orderHistory(['OrderCreated'], 'pen', 5)
    expect(await handle(created)).toEqual({ outcome: 'applied', versions: [1] })
    expect(await handle(created)).toEqual({ outcome: 'redelivered', deliveries: 2 })
    expect(await stockOf('pen')).toEqual({ reserved: 5, shipped: 0 })
    expect(await inboxOf(created.orderId)).toEqual([
      { version: 1, outcome: 'applied', deliveries: 2, hasData: false },
    ])
  })

  it('an older version than already applied is stale: recorded, no effect', async () => {
    const [created, confirmed, shipped] = orderHistory(
      ['OrderCreated', 'OrderConfirmed', 'OrderShipped'],
      'cup',
      2,
    )
    for (const event of [created, confirmed, shipped]) await handle(event)
    // Version 2 again under a new id (not a redelivery: say, a replay from elsewhere).
    const stale = { ...confirmed, eventId: randomUUID(), receivedAt: new Date(Date.now() + 1000) }
    expect(await handle(stale)).toEqual({ outcome: 'stale', applied: 3 })
    expect(await stockOf('cup')).toEqual({ reserved: 0, shipped: 2 })
    expect(await appliedVersion(created.orderId)).toBe(3)
    expect((await inboxOf(created.orderId)).map((r) => r.outcome)).toEqual([
      'applied',
      'applied',
      'stale',
      'applied',
    ])
  })

  it('a gap parks the later version; the missing one applies both, in order', async () => {
    const [created, confirmed, shipped] = orderHistory(
      ['OrderCreated', 'OrderConfirmed', 'OrderShipped'],
      'chair',
      2,
    )
    await handle(created)
    expect(await handle(shipped)).toEqual({ outcome: 'parked', applied: 1 })
    expect(await stockOf('chair')).toEqual({ reserved: 2, shipped: 0 }) // not shipped yet
    expect(await inboxOf(created.orderId)).toContainEqual({
      version: 3,
      outcome: 'parked',
      deliveries: 1,
      hasData: true,
    })
    expect(await handle(confirmed)).toEqual({ outcome: 'applied', versions: [2, 3] })
    expect(await stockOf('chair')).toEqual({ reserved: 0, shipped: 2 })
    expect(await appliedVersion(created.orderId)).toBe(3)
    expect(await inboxOf(created.orderId)).toEqual(
      [1, 2, 3].map((version) => ({ version, outcome: 'applied', deliveries: 1, hasData: false })),
    )
  })

  it('everything before the first version waits for it', async () => {
    const [created, cancelled] = orderHistory(['OrderCreated', 'OrderCancelled'], 'desk', 1)
    expect(await handle(cancelled)).toEqual({ outcome: 'parked', applied: 0 })
    expect(await handle(cancelled)).toEqual({ outcome: 'redelivered', deliveries: 2 })
    expect(await stockOf('desk')).toEqual({ reserved: 0, shipped: 0 })
    expect(await handle(created)).toEqual({ outcome: 'applied', versions: [1, 2] })
    expect(await stockOf('desk')).toEqual({ reserved: 0, shipped: 0 })
    expect(await appliedVersion(created.orderId)).toBe(2)
  })

  it('an unknown type holds its place in the sequence, with no stock effect', async () => {
    const [created, wrapped, shipped] = orderHistory(
      ['OrderCreated', 'OrderGiftWrapped', 'OrderShipped'],
      'vase',
      1,
    )
    await handle(created)
    // Parked ahead of its turn like any other event, then applied with the gap filled.
    expect(await handle(shipped)).toEqual({ outcome: 'parked', applied: 1 })
    expect(await handle(wrapped)).toEqual({ outcome: 'applied', versions: [2, 3] })
    expect(await stockOf('vase')).toEqual({ reserved: 0, shipped: 1 })
    const rows = await db.sql`
      select event_type, outcome from inventory.inbox
       where order_id = ${created.orderId} and version = 2`
    expect(rows).toEqual([{ event_type: 'OrderGiftWrapped', outcome: 'applied' }])
  })

  it('data that breaks the contract is rejected: not recorded, no effect, later versions wait', async () => {
    const [created, confirmed, shipped] = orderHistory(
      ['OrderCreated', 'OrderConfirmed', 'OrderShipped'],
      'rug',
      2,
    )
    await handle(created)
    const broken = { ...confirmed, data: { ...(confirmed.data as object), quantity: -1 } }
    const result = await handle(broken)
    expect(result.outcome).toBe('rejected')
    expect(result).toHaveProperty('reason', expect.stringContaining('quantity'))
    // Headers and data that disagree are rejected too.
    const mislabelled = { ...confirmed, version: 5 }
    expect((await handle(mislabelled)).outcome).toBe('rejected')

    expect(await handle(shipped)).toEqual({ outcome: 'parked', applied: 1 })
    expect(await stockOf('rug')).toEqual({ reserved: 2, shipped: 0 })
    expect((await inboxOf(created.orderId)).map((r) => [r.version, r.outcome])).toEqual([
      [1, 'applied'],
      [3, 'parked'],
    ])
    // The valid version 2, when it comes (say, republished after a fix), unblocks the order.
    expect(await handle(confirmed)).toEqual({ outcome: 'applied', versions: [2, 3] })
  })

  it('of two events parked for one version, the first applies and the other turns stale', async () => {
    const [created, confirmed] = orderHistory(['OrderCreated', 'OrderConfirmed'], 'mug', 1)
    // Another event claiming version 2 of the same order, received later.
    const rival = { ...confirmed, eventId: randomUUID(), receivedAt: new Date(Date.now() + 1000) }
    expect(await handle(confirmed)).toEqual({ outcome: 'parked', applied: 0 })
    expect(await handle(rival)).toEqual({ outcome: 'parked', applied: 0 })
    expect(await handle(created)).toEqual({ outcome: 'applied', versions: [1, 2] })
    // Nothing is left parked behind the order, where it would wait forever.
    const rows = await db.sql`
      select event_id, outcome from inventory.inbox
       where order_id = ${created.orderId} and version = 2 order by received_at`
    expect(rows).toEqual([
      { event_id: confirmed.eventId, outcome: 'applied' },
      { event_id: rival.eventId, outcome: 'stale' },
    ])
  })

  it('its saga step: a confirmation writes StockReserved, a cancellation StockReleased, once each however often delivered', async () => {
    const [created, confirmed, cancelled] = orderHistory(
      ['OrderCreated', 'OrderConfirmed', 'OrderCancelled'],
      'saga-item',
      5,
    )
    for (const event of [created, confirmed, confirmed, cancelled, cancelled]) await handle(event)
    const rows = await db.sql<
      { aggregate_type: string; aggregate_id: string; event_type: string; payload: unknown }[]
    >`
      select aggregate_type, aggregate_id, event_type, payload from outbox
       where aggregate_type = 'inventory' and aggregate_id = 'saga-item' order by id`
    const data = { item: 'saga-item', quantity: 5, orderId: created.orderId }
    expect(rows).toEqual([
      {
        aggregate_type: 'inventory',
        aggregate_id: 'saga-item',
        event_type: 'StockReserved',
        payload: data,
      },
      {
        aggregate_type: 'inventory',
        aggregate_id: 'saga-item',
        event_type: 'StockReleased',
        payload: data,
      },
    ])
  })

  it('a parked confirmation writes its event when the gap fills', async () => {
    const [created, confirmed] = orderHistory(['OrderCreated', 'OrderConfirmed'], 'parked-item', 2)
    expect((await handle(confirmed)).outcome).toBe('parked')
    const count = async () =>
      (
        await db.sql<{ n: number }[]>`
        select count(*)::int as n from outbox where aggregate_id = 'parked-item'`
      )[0]?.n
    expect(await count()).toBe(0)
    await handle(created)
    expect(await count()).toBe(1)
  })
})
