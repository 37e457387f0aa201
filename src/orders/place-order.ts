import { randomUUID } from 'node:crypto'
import { eq } from 'drizzle-orm'
import type { Db, Tx } from '../db/client'
import { orders } from '../db/schema'
import { enqueue } from '../outbox/enqueue'
import { type Order, type PlaceOrderInput, toOrderJson } from './order'

export type Clock = () => Date

/** Creates the order and its OrderCreated event in the caller's transaction. */
export async function placeOrder(tx: Tx, input: PlaceOrderInput, clock: Clock): Promise<Order> {
  const now = clock()
  const [order] = await tx
    .insert(orders)
    .values({
      id: randomUUID(),
      item: input.item,
      quantity: input.quantity,
      customerId: input.customerId ?? null,
      status: 'pending',
      createdAt: now,
      updatedAt: now,
    })
    .returning()
  if (!order) throw new Error('insert into orders returned no row')
  await enqueue(tx, {
    type: 'OrderCreated',
    aggregateId: order.id,
    data: toOrderJson(order),
    occurredAt: now,
  })
  return order
}

export async function findOrder(db: Db, id: string): Promise<Order | undefined> {
  const [order] = await db.select().from(orders).where(eq(orders.id, id))
  return order
}
