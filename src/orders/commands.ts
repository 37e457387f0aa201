/**
 * What the API does to orders. Every change writes the order and its event in the caller's
 * transaction (through the outbox module, src/outbox): both commit or neither does.
 */
import { randomUUID } from 'node:crypto'
import { and, desc, eq, inArray, lt, or, sql } from 'drizzle-orm'
import { z } from 'zod'
import { type Db, type Executor, preparedStatement, type Tx } from '../db/client'
import { orders, outbox } from '../db/schema'
import type { EventData, EventType } from '../events/contract'
import type { EventContext } from '../outbox'
import { OrderError } from './errors'
import {
  type Order,
  type OrderStatus,
  type PlaceOrderInput,
  type Transition,
  toOrderJson,
  transitions,
} from './order'
import { orderEvents } from './order-events'

export type Clock = () => Date

// See placeOrder. Built once, prepared once per connection (see preparedStatement).
const insertOrderAndEvent = preparedStatement(sql`
  with new_order as (
    insert into ${orders} (id, item, quantity, customer_id, status, version, created_at, updated_at)
    values (${sql.placeholder('id')}, ${sql.placeholder('item')}, ${sql.placeholder('quantity')},
            ${sql.placeholder('customerId')}, 'pending', 1, ${sql.placeholder('at')}::timestamptz,
            ${sql.placeholder('at')}::timestamptz)
    returning id)
  insert into ${outbox} (event_id, event_type, aggregate_type, aggregate_id, payload, sequence,
                         schema_version, occurred_at, request_id, traceparent)
  select ${sql.placeholder('eventId')}, ${sql.placeholder('eventType')},
         ${sql.placeholder('aggregateType')}, id,
         ${sql.placeholder('payload')}::jsonb, ${sql.placeholder('sequence')},
         ${sql.placeholder('schemaVersion')}, ${sql.placeholder('at')}::timestamptz,
         ${sql.placeholder('requestId')}, ${sql.placeholder('traceparent')}
    from new_order`)

/**
 * Creates the order and its OrderCreated event (version 1) in ONE statement: a data-modifying
 * CTE inserts the order, the outer insert its event. One statement is one transaction, so
 * both rows commit or neither does, on `Db` as well as inside a caller's transaction, and it
 * costs one round trip instead of four (BEGIN, two inserts, COMMIT): the API's hot path. The
 * event's row still comes from the outbox module (`orderEvents.row`: parsed, typed, routed);
 * only the statement that inserts it is this feature's own.
 */
export async function placeOrder(
  executor: Executor,
  input: PlaceOrderInput,
  clock: Clock,
  context: EventContext = {},
): Promise<Order> {
  const now = clock()
  const order: Order = {
    id: randomUUID(),
    item: input.item,
    quantity: input.quantity,
    customerId: input.customerId ?? null,
    status: 'pending',
    version: 1,
    cancellationReason: null,
    createdAt: now,
    updatedAt: now,
  }
  const event = orderEvents.row({
    type: 'OrderCreated',
    aggregateId: order.id,
    sequence: order.version,
    data: toOrderJson(order) as EventData<'OrderCreated'>,
    occurredAt: now,
    context,
  })
  await insertOrderAndEvent(executor, {
    id: order.id,
    item: order.item,
    quantity: order.quantity,
    customerId: order.customerId,
    at: now.toISOString(),
    eventId: event.eventId,
    eventType: event.eventType,
    aggregateType: event.aggregateType,
    payload: JSON.stringify(event.payload),
    sequence: event.sequence,
    schemaVersion: event.schemaVersion,
    requestId: event.requestId,
    traceparent: event.traceparent,
  })
  return order
}

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

/** A position in the newest-first listing: the last order of the previous page. */
export type Cursor = { createdAt: Date; id: string }

export function encodeCursor(order: Pick<Order, 'createdAt' | 'id'>): string {
  return Buffer.from(JSON.stringify([order.createdAt.toISOString(), order.id])).toString(
    'base64url',
  )
}

const CursorShape = z.tuple([
  z.iso.datetime().refine((at) => {
    const year = new Date(at).getUTCFullYear()
    return year >= 1970 && year <= 9999
  }),
  z.uuid(),
])

/** Undefined for anything that is not a cursor this service made. */
export function decodeCursor(cursor: string): Cursor | undefined {
  try {
    const parsed = CursorShape.safeParse(
      JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')),
    )
    return parsed.success ? { createdAt: new Date(parsed.data[0]), id: parsed.data[1] } : undefined
  } catch {
    return undefined
  }
}

/** Newest first, keyset-paginated on (created_at, id): stable while orders are being added. */
export async function listOrders(
  db: Db,
  query: { limit: number; after?: Cursor; status?: OrderStatus },
): Promise<{ items: Order[]; next?: Cursor }> {
  const rows = await db
    .select()
    .from(orders)
    .where(
      and(
        query.status ? eq(orders.status, query.status) : undefined,
        query.after
          ? or(
              lt(orders.createdAt, query.after.createdAt),
              and(eq(orders.createdAt, query.after.createdAt), lt(orders.id, query.after.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(orders.createdAt), desc(orders.id))
    .limit(query.limit + 1)
  const items = rows.slice(0, query.limit)
  const last = items.at(-1)
  return { items, next: rows.length > query.limit && last ? last : undefined }
}
