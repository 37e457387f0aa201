/**
 * What the API does to an existing order. Every change writes the order and its event in the
 * caller's transaction (through the outbox module, src/outbox): both commit or neither does.
 * Placing one is place-order.ts; listing, list-orders.ts.
 */
import { and, eq, inArray, sql } from 'drizzle-orm'
import type { Db, Tx } from '../db/client'
import { orders } from '../db/schema'
import type { EventData, EventType } from '../events/contract'
import type { EventContext } from '../outbox'
import { OrderError } from './errors'
import { type Clock, type Order, type Transition, toOrderJson, transitions } from './order'
import { orderEvents } from './order-events'

/**
 * Moves the order along the lifecycle and writes the transition's event with the new version.
 *
 * The update is conditional on the current status, so two concurrent transitions on one order
 * cannot both win: the second waits for the first's row lock, Postgres re-checks its WHERE
 * against the committed row, it matches nothing, and the caller gets a 409 naming the state
 * the first one left. An illegal transition writes nothing.
 */
export async function transitionOrder(
  tx: Tx,
  id: string,
  transition: Transition,
  clock: Clock,
  options: { reason?: string; context?: EventContext } = {},
): Promise<Order> {
  const rule = transitions[transition]
  const now = clock()
  const [order] = await tx
    .update(orders)
    .set({
      status: rule.to,
      version: sql`${orders.version} + 1`,
      updatedAt: now,
      ...(transition === 'cancel' ? { cancellationReason: options.reason ?? null } : {}),
    })
    .where(and(eq(orders.id, id), inArray(orders.status, [...rule.from])))
    .returning()
  if (!order) {
    const [current] = await tx
      .select({ status: orders.status })
      .from(orders)
      .where(eq(orders.id, id))
    if (!current) throw new OrderError('ORDER_NOT_FOUND', `No order with id ${id}`)
    throw new OrderError(
      'ORDER_STATE_CONFLICT',
      `Cannot ${transition} an order that is ${current.status}; only ${rule.from.join(' or ')} orders can be ${pastTense[transition]}.`,
      { currentStatus: current.status },
    )
  }
  const type: EventType = rule.event
  await orderEvents.enqueue(tx, {
    type,
    aggregateId: order.id,
    sequence: order.version,
    data: toOrderJson(order) as EventData<typeof type>,
    occurredAt: now,
    context: options.context,
  })
  return order
}

const pastTense: Record<Transition, string> = {
  confirm: 'confirmed',
  ship: 'shipped',
  cancel: 'cancelled',
}

export async function findOrder(db: Db, id: string): Promise<Order | undefined> {
  const [order] = await db.select().from(orders).where(eq(orders.id, id))
  return order
}
