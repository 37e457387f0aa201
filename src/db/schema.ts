/**
 * The only table definitions. drizzle-kit generates the migrations in drizzle/ from this
 * file; the trigger and its function live in a hand-written custom migration beside them.
 */
import { sql } from 'drizzle-orm'
import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  smallint,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core'

/**
 * Events are spread over this many relay partitions by order id. Each partition is owned by one
 * relay at a time (an advisory lock), so one order's events are always published by one relay,
 * in order. Changing it needs a migration (the generated column below) and a relay restart.
 */
export const RELAY_PARTITIONS = 64

export const orders = pgTable(
  'orders',
  {
    id: uuid('id').primaryKey(),
    item: text('item').notNull(),
    quantity: integer('quantity').notNull(),
    customerId: text('customer_id'),
    status: text('status', { enum: ['pending', 'confirmed', 'shipped', 'cancelled'] }).notNull(),
    /** Incremented by every change; each event carries it as its per-order sequence. */
    version: integer('version').notNull().default(1),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    check('orders_quantity_range', sql`${t.quantity} between 1 and 10000`),
    index('orders_created_at_idx').on(t.createdAt.desc(), t.id.desc()),
  ],
)

/**
 * One row per event, written in the same transaction as the change it describes.
 * `id` gives the publication order; it is allocated before commit, so the relay never keeps
 * a "last id seen" cursor (a smaller id can commit later) and always asks for unpublished rows.
 * Published rows stay (with `published_at`) until the retention job deletes them.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** CloudEvents `id`: what consumers dedupe on. */
    eventId: uuid('event_id').notNull().unique(),
    eventType: text('event_type').notNull(),
    /** The Kafka key: every event of one order lands on one partition, in order. */
    aggregateId: uuid('aggregate_id').notNull(),
    payload: jsonb('payload').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull(),
    publishedAt: timestamp('published_at', { withTimezone: true, mode: 'date' }),
    /** Relay partition: a stable hash of the order id (0..RELAY_PARTITIONS-1). */
    partition: smallint('partition')
      .notNull()
      .generatedAlwaysAs(sql`(hashtextextended(aggregate_id::text, 0) & 63)::smallint`),
    /** Failed publication attempts that count against RELAY_MAX_ATTEMPTS. */
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** Not claimed again before this time (set after a retriable failure). */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }),
    /** Dead-lettered: never claimed again until an operator retries it; `last_error` says why. */
    deadAt: timestamp('dead_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    // The relay's claim query walks this index: unpublished rows in id order, nothing else.
    index('outbox_unpublished_idx').on(t.id).where(sql`${t.publishedAt} is null`),
    // "Does this order have an earlier event that is dead or waiting to be retried?"
    index('outbox_unpublished_by_order_idx')
      .on(t.aggregateId, t.id)
      .where(sql`${t.publishedAt} is null`),
  ],
)

export type OrderRow = typeof orders.$inferSelect
export type OutboxRow = typeof outbox.$inferSelect
export type NewOutboxRow = typeof outbox.$inferInsert
