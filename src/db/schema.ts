/**
 * The only table definitions. drizzle-kit generates the migrations in drizzle/ from this
 * file; the trigger and its function live in a hand-written custom migration beside them.
 */
import { sql } from 'drizzle-orm'
import {
  bigint,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgSchema,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core'

/**
 * Events are spread over this many relay partitions by aggregate (type and id). Each partition is
 * owned by one relay at a time (an advisory lock), so one aggregate's events are always published
 * by one relay, in order. Changing it needs a migration (the generated column below) and a relay
 * restart.
 */
export const RELAY_PARTITIONS = 64

/** A transaction id (64 bits, epoch included), as text. */
const xid8 = customType<{ data: string }>({ dataType: () => 'xid8' })
/** A snapshot, as text (`xmin:xmax:xip,...`). */
const pgSnapshot = customType<{ data: string }>({ dataType: () => 'pg_snapshot' })

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
    check('orders_quantity_range', sql`${t.quantity} between 1 and 10000`),
    // GET /orders pages newest first on (created_at, id), optionally filtered by status.
    index('orders_created_at_idx').on(t.createdAt.desc(), t.id.desc()),
    index('orders_status_created_at_idx').on(t.status, t.createdAt.desc(), t.id.desc()),
  ],
)

/**
 * One row per event, written in the same transaction as the change it describes: the outbox
 * contract (docs/outbox.md). A service in any language writes
 * `insert into outbox (aggregate_type, aggregate_id, event_type, payload) values (...)`; every
 * other column has a default or is optional. `id` gives the publication order within what
 * became visible together; it is allocated before commit, so a smaller id can commit later, and
 * the relay keeps a position made of a snapshot, not of an id (outboxPosition, below). Publishing
 * writes nothing here: the table is insert-only until retention deletes expired rows.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** CloudEvents `id`: what consumers dedupe on. */
    eventId: uuid('event_id').notNull().default(sql`gen_random_uuid()`),
    /** What happened (`OrderCreated`): CloudEvents `type` (header `ce_type`). */
    eventType: text('event_type').notNull(),
    /**
     * The kind of thing the event is about (`orders`, `shipment`): names its topic through
     * KAFKA_TOPIC_TEMPLATE. The default only keeps writers of the previous schema (which did
     * not know the column) working through an upgrade; every writer names it.
     */
    aggregateType: text('aggregate_type').notNull().default('orders'),
    /** Which one (any text key): the Kafka key and `ce_subject`. */
    aggregateId: text('aggregate_id').notNull(),
    payload: jsonb('payload').notNull(),
    /** Extra Kafka headers: a JSON object of string values. The `ce_` headers win over these. */
    headers: jsonb('headers').$type<Record<string, string>>(),
    /** Overrides routing for this row: published to this topic instead of the template's. */
    topic: text('topic'),
    /** The aggregate's version after the change: `ce_sequence`, only when set. */
    sequence: integer('sequence'),
    /**
     * CloudEvents `source` (header `ce_source`): the writing service, e.g. `/shipping`. Null:
     * the relay's EVENT_SOURCE, which names the orders API (docs/outbox.md).
     */
    source: text('source'),
    /** Version of the event type's data schema (src/events/contract.ts): `ce_dataschema`. */
    schemaVersion: smallint('schema_version').notNull().default(1),
    /** The HTTP request that caused the event (X-Request-Id), for following one request in logs. */
    requestId: text('request_id'),
    /** W3C trace context of that request: sent as the Kafka `traceparent` header. */
    traceparent: text('traceparent'),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' })
      .notNull()
      .defaultNow(),
    /**
     * Relay partition: a stable hash of the aggregate type and id (0..RELAY_PARTITIONS-1), set
     * at insert by the `outbox_partition` trigger (drizzle/0013), whatever the writer gives.
     * Not a generated column: the trigger sets `xid` too, and a stored generated column would be
     * recomputed by any UPDATE (an operator's, a migration's). The default
     * is never kept while the trigger exists; without it (a restore with triggers off), rows
     * land in partition 0: published in order all the same, by one relay.
     */
    partition: smallint('partition').notNull().default(0),
    /**
     * The inserting transaction (pg_current_xact_id()), set by the same trigger, whatever the
     * writer gives. Which snapshot a row first appears in is what the relay's positions record.
     * NULL for rows older than drizzle/0016: never claimed through positions.
     */
    xid: xid8('xid'),
    /** When the row was written, by the database's clock (the trigger sets it): retention's age. */
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    // An empty key would put every such event on one Kafka partition, ordered as one aggregate;
    // an empty type routes to a topic like `.events` that nobody creates.
    check('outbox_aggregate_type_not_empty', sql`${t.aggregateType} <> ''`),
    check('outbox_aggregate_id_not_empty', sql`${t.aggregateId} <> ''`),
    check('outbox_sequence_not_negative', sql`${t.sequence} >= 0`),
    check('outbox_source_not_empty', sql`${t.source} <> ''`),
    // Extra headers must be strings: refused at the insert, not discovered by the relay.
    check(
      'outbox_headers_strings',
      sql`${t.headers} is null or (jsonb_typeof(${t.headers}) = 'object' and not jsonb_path_exists(${t.headers}, '$.* ? (@.type() != "string")'))`,
    ),
    // The window of a claim is found by the transactions that wrote it (drizzle/0016).
    index('outbox_xid_idx').on(t.xid),
    // The operator's tools find an event by its id (src/ops).
    index('outbox_event_id_idx').on(t.eventId),
  ],
)

/**
 * Events taken out of the stream of positions: failed and waiting for a retry, dead, waiting for
 * their topic, or held behind one of those of their aggregate. Written only when something goes
 * wrong; `published_at` (or a discard) ends its hold on the aggregate.
 */
export const outboxParked = pgTable(
  'outbox_parked',
  {
    id: bigint('id', { mode: 'number' }).primaryKey(),
    partition: smallint('partition').notNull(),
    aggregateType: text('aggregate_type').notNull(),
    aggregateId: text('aggregate_id').notNull(),
    eventId: uuid('event_id').notNull(),
    /** Failed publication attempts that count against RELAY_MAX_ATTEMPTS. */
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** The failure class of its last attempt (src/relay/classify-error.ts); null: held back. */
    failure: text('failure'),
    /** Not claimed again before this time; null: claimable now (its aggregate permitting). */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }),
    /** Dead-lettered: never claimed again until an operator retries it; `last_error` says why. */
    deadAt: timestamp('dead_at', { withTimezone: true, mode: 'date' }),
    /** Published from here, or discarded by an operator (then `dead_at` stays set). */
    publishedAt: timestamp('published_at', { withTimezone: true, mode: 'date' }),
    parkedAt: timestamp('parked_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    // The hold-back: does this aggregate have an event parked and not yet out?
    index('outbox_parked_open_idx')
      .on(t.aggregateType, t.aggregateId, t.id)
      .where(sql`${t.publishedAt} is null`),
    index('outbox_parked_ready_idx')
      .on(t.id)
      .where(sql`${t.publishedAt} is null and ${t.deadAt} is null`),
    index('outbox_parked_event_id_idx').on(t.eventId),
  ],
)

/**
 * One row; element p + 1 of each array is relay partition p's position: every event of p whose
 * `xid` is visible in `snapshots` is published or parked, and so is every one visible in `uptos`
 * with an id up to `afters` (a window the relay was part way through). Written by the owners
 * after the broker acknowledged, at most about once a second each (src/relay/positions.ts).
 */
export const outboxPosition = pgTable('outbox_position', {
  id: smallint('id').primaryKey().default(0),
  snapshots: pgSnapshot('snapshots').array().notNull(),
  uptos: pgSnapshot('uptos').array().notNull(),
  afters: bigint('afters', { mode: 'number' }).array().notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
})

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

/**
 * The example consumer's own tables (`npm run consume`, src/consumer). In production the
 * consumer is another service with its own database; here it gets its own schema in the same
 * one so the local stack stays small.
 */
export const inventory = pgSchema('inventory')

/**
 * The largest stock count: what a JavaScript number holds exactly (the counters are read as
 * numbers). A move past it, or below 0, is refused by the consumer (src/consumer/queries.ts)
 * before the check constraint would refuse it as an SQL error.
 */
export const STOCK_MAX = Number.MAX_SAFE_INTEGER

/** Stock per item, moved by order events: reserved on create, shipped or released after. */
export const stock = inventory.table(
  'stock',
  {
    item: text('item').primaryKey(),
    reserved: bigint('reserved', { mode: 'number' }).notNull().default(0),
    shipped: bigint('shipped', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    check(
      'stock_counts_range',
      sql`${t.reserved} between 0 and 9007199254740991 and ${t.shipped} between 0 and 9007199254740991`,
    ),
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
 * than an outage, `CONSUMER_MAX_ATTEMPTS` times, or was refused by a domain rule. The message
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

export type OrderRow = typeof orders.$inferSelect
export type OutboxRow = typeof outbox.$inferSelect
export type NewOutboxRow = typeof outbox.$inferInsert
