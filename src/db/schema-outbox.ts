/**
 * The outbox's tables: the events (the contract other services write to, docs/outbox.md), the
 * relay's positions, and the events parked out of their stream.
 */
import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  check,
  customType,
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
     * the relay's default source, which names the orders API (docs/outbox.md).
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
    // Rows without an xid, which no relay claims (src/outbox/stranded.ts, drizzle/0021).
    index('outbox_no_xid_idx').on(t.id).where(sql`${t.xid} is null`),
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
    /** Failed publication attempts that count against the relay's limit (src/config/fixed.ts). */
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
    /** Held back behind an earlier parked event of its aggregate, until that one is out. */
    held: boolean('held').notNull().default(false),
  },
  (t) => [
    // The hold-back: does this aggregate have an event parked and not yet out?
    index('outbox_parked_open_idx')
      .on(t.aggregateType, t.aggregateId, t.id)
      .where(sql`${t.publishedAt} is null`),
    index('outbox_parked_ready_idx')
      .on(t.id)
      .where(sql`${t.publishedAt} is null and ${t.deadAt} is null and not ${t.held}`),
    // What holds an aggregate back: its failed events not yet out.
    index('outbox_parked_blocking_idx')
      .on(t.aggregateType, t.aggregateId, t.id)
      .where(
        sql`${t.publishedAt} is null and (${t.deadAt} is not null or ${t.nextAttemptAt} is not null)`,
      ),
    index('outbox_parked_held_idx')
      .on(t.aggregateType, t.aggregateId, t.id)
      .where(sql`${t.held} and ${t.publishedAt} is null`),
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

export type OutboxRow = typeof outbox.$inferSelect
export type NewOutboxRow = typeof outbox.$inferInsert
