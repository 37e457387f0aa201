/**
 * Placing an order: the API's hot path. The order, its OrderCreated event and the stock check
 * are one statement, prepared once per executor and connection.
 */
import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { Executor } from '../db/client'
import { orders, outbox, STOCK_MAX, stock } from '../db/schema'
import type { EventData } from '../events/contract'
import type { EventContext } from '../outbox'
import { OrderError } from './errors'
import { type Clock, type Order, type PlaceOrderInput, toOrderJson } from './order'
import { orderEvents } from './order-events'

const p = (name: string) => sql.placeholder(name)

/**
 * Data-modifying CTEs: `refused` finds the item's stock when this order would reserve past
 * STOCK_MAX; only without it does `new_order` insert the order and `new_event` its event. One
 * statement is one transaction, on `Db` as well as inside a caller's transaction: both rows
 * commit or neither does, in one round trip instead of four (BEGIN, two inserts, COMMIT).
 */
function build(executor: Executor) {
  const refused = executor.$with('refused', {}).as(sql`
    select from ${stock}
     where ${stock.item} = ${p('item')}
       and ${stock.reserved} > ${sql.raw(String(STOCK_MAX))} - ${p('quantity')}::bigint`)
  const newOrder = executor.$with('new_order', {}).as(sql`
    insert into ${orders} (id, item, quantity, customer_id, status, version, created_at, updated_at)
    select ${p('id')}, ${p('item')}, ${p('quantity')}, ${p('customerId')}, 'pending', 1,
           ${p('at')}::timestamptz, ${p('at')}::timestamptz
     where not exists (select from refused)
    returning id`)
  // drizzle selects from a data-modifying CTE only when its returned columns are declared.
  const returned = { placed: sql<number>`placed`.as('placed') }
  const newEvent = executor.$with('new_event', returned).as(sql`
    insert into ${outbox} (event_id, event_type, aggregate_type, aggregate_id, payload, sequence,
                           schema_version, occurred_at, request_id, traceparent)
    select ${p('eventId')}, ${p('eventType')}, ${p('aggregateType')}, id,
           ${p('payload')}::jsonb, ${p('sequence')}, ${p('schemaVersion')},
           ${p('at')}::timestamptz, ${p('requestId')}, ${p('traceparent')}
      from new_order
    returning 1 as placed`)
  return executor
    .with(refused, newOrder, newEvent)
    .select({ placed: sql<number>`count(*)::int` })
    .from(newEvent)
    .prepare('place_order')
}

// Built once per executor (the pool's lives as long as the API; a transaction's goes with it),
// not rebuilt from the template per request. postgres.js keeps the prepared statement per
// connection, keyed by its text, so Postgres parses and plans it once per connection, then only
// binds values. That needs session-level connections (as the relay's LISTEN does): not
// PgBouncer in transaction mode before 1.21.
const statements = new WeakMap<Executor, ReturnType<typeof build>>()
function statementFor(executor: Executor) {
  let statement = statements.get(executor)
  if (!statement) {
    statement = build(executor)
    statements.set(executor, statement)
  }
  return statement
}

/**
 * Creates the order and its OrderCreated event (version 1), or refuses the order, writing
 * nothing, when it would take its item's reserved stock (inventory.stock, as the consumer last
 * recorded it) past STOCK_MAX. Orders not yet applied by the consumer are not counted: this
 * refuses what is certain to fail, and the consumer's own check still parks the rest.
 * The event's row comes from the outbox module (`orderEvents.row`: parsed, typed, routed);
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
  const [result] = await statementFor(executor).execute({
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
  if (result?.placed !== 1) {
    throw new OrderError(
      'STOCK_LIMIT_EXCEEDED',
      `Cannot reserve ${order.quantity} more of ${JSON.stringify(order.item)}: its reserved stock would pass the limit of ${STOCK_MAX}. Nothing was written.`,
      { item: order.item },
    )
  }
  return order
}
