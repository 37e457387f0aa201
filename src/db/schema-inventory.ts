import { sql } from 'drizzle-orm'
import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core'

/**
 * The example consumer's own tables (`npm run consume`, src/consumer). In production the
 * consumer is another service with its own database; here it gets its own schema in the same
 * one so the local stack stays small.
 */
export const inventory = pgSchema('inventory')

/**
 * The largest stock count: what a JavaScript number holds exactly (the counters are read as
 * numbers), far below bigint's limit. One constant for every check of it: the table's
 * constraint below, the consumer's refusal of a move past it (src/consumer/queries.ts), and the
 * API's refusal of an order that would reserve past it (src/orders/place-order.ts).
 */
export const STOCK_MAX = Number.MAX_SAFE_INTEGER
const stockRange = sql.raw(`between 0 and ${STOCK_MAX}`)

/** Stock per item, moved by order events: reserved on create, shipped or released after. */
export const stock = inventory.table(
  'stock',
  {
    item: text('item').primaryKey(),
    reserved: bigint('reserved', { mode: 'number' }).notNull().default(0),
    shipped: bigint('shipped', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    check('stock_counts_range', sql`${t.reserved} ${stockRange} and ${t.shipped} ${stockRange}`),
  ],
)

/** The last version of each order this consumer applied (its per-order sequence). */
export const orderVersions = inventory.table(
  'order_versions',
  {
    orderId: uuid('order_id').primaryKey(),
    version: integer('version').notNull(),
    /** When the version last moved: retention deletes orders idle longer than it keeps. */
    appliedAt: timestamp('applied_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('order_versions_applied_at_idx').on(t.appliedAt)],
)

/**
 * Every event the consumer has seen, by `ce_id`, written in the same transaction as its
 * effect: a redelivered event finds its row and has no second effect. `outcome`: applied;
 * stale (an older version than already applied); parked (a version arrived before the one
 * before it: held, and applied when the gap fills).
 */
export const inbox = inventory.table(
  'inbox',
  {
    eventId: uuid('event_id').primaryKey(),
    orderId: uuid('order_id').notNull(),
    eventType: text('event_type').notNull(),
    version: integer('version').notNull(),
    outcome: text('outcome', { enum: ['applied', 'stale', 'parked'] }).notNull(),
    /** The event data, kept while parked so it can be applied later. */
    data: jsonb('data'),
    /** How many times it was delivered: more than 1 means a redelivery was absorbed. */
    deliveries: integer('deliveries').notNull().default(1),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    index('inbox_parked_idx').on(t.orderId, t.version).where(sql`${t.outcome} = 'parked'`),
    // Retention walks settled rows oldest first.
    index('inbox_settled_received_at_idx').on(t.receivedAt).where(sql`${t.outcome} <> 'parked'`),
  ],
)

/**
 * Messages the consumer set aside (src/consumer/poison.ts): handling failed for a reason other
 * than an outage, its attempts (src/config/fixed.ts), or was refused by a domain rule. The message
 * is kept as it came (key, headers and value base64: it may hold what a text column cannot),
 * so `npm run consume -- retry` can handle it again; `released_at` is set when an operator
 * retried or skipped it. Its order's later versions wait in the inbox (as gaps) meanwhile.
 */
export const parkedMessages = inventory.table(
  'parked_messages',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    topic: text('topic').notNull(),
    partition: integer('partition').notNull(),
    offset: text('offset').notNull(),
    /** From the envelope, when it could be read: which event of which order is held. */
    eventId: uuid('event_id'),
    eventType: text('event_type'),
    orderId: uuid('order_id'),
    version: integer('version'),
    /** The message key, headers (name -> value, both) and value, base64: the bytes as they came. */
    key: text('key'),
    headers: jsonb('headers').$type<Record<string, string>>().notNull(),
    value: text('value'),
    reason: text('reason').notNull(),
    attempts: integer('attempts').notNull(),
    parkedAt: timestamp('parked_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    releasedAt: timestamp('released_at', { withTimezone: true, mode: 'date' }),
    /** How it was released: handled again (`retried`) or given up on (`skipped`). */
    resolution: text('resolution', { enum: ['retried', 'skipped'] }),
  },
  (t) => [index('parked_messages_waiting_idx').on(t.parkedAt).where(sql`${t.releasedAt} is null`)],
)
