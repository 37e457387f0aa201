/** The API's tables: the orders and the Idempotency-Key records that guard their changes. */
import { sql } from 'drizzle-orm'
import {
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core'

/** The most one order may ask for: the table checks it, and so does the API (orders/order.ts). */
export const QUANTITY_MAX = 10_000

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
    /** Set when the order is cancelled with a reason. */
    cancellationReason: text('cancellation_reason'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    check(
      'orders_quantity_range',
      sql`${t.quantity} between 1 and ${sql.raw(String(QUANTITY_MAX))}`,
    ),
    // GET /orders pages newest first on (created_at, id), optionally filtered by status.
    index('orders_created_at_idx').on(t.createdAt.desc(), t.id.desc()),
    index('orders_status_created_at_idx').on(t.status, t.createdAt.desc(), t.id.desc()),
  ],
)

/**
 * Idempotency-Key records. A key is stored in the same transaction as the change it
 * guarded, with the response it produced: a retry after a timeout or a crash gets that
 * response back instead of a second order. A key is one request: reused with a different
 * request (fingerprint) it is refused. Expired rows are ignored and purged.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    /**
     * Who sent the key: `key:<API key id>`, or `addr:<client address>` without API keys. Keys
     * are scoped to it, so one client can neither block nor replay another's keys.
     */
    client: text('client').notNull().default(''),
    key: text('key').notNull(),
    /** sha256 of method, path and the validated body. */
    fingerprint: text('fingerprint').notNull(),
    status: smallint('status').notNull(),
    /** The stored response body; null until the guarded transaction stores it. */
    body: jsonb('body'),
    location: text('location'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.client, t.key] }),
    index('idempotency_keys_expires_at_idx').on(t.expiresAt),
  ],
)
