/**
 * The three things an operator may do to the outbox: list the dead-lettered events, requeue
 * them, or discard one (its status is status.ts). Each function runs its own short
 * statement(s) on the given client and returns data; formatting is src/ops/cli.ts's job.
 *
 * Dead-lettered = parked (outbox_parked) with `dead_at` set and `published_at` null: the relay
 * never claims it again, and it holds back every later event of its aggregate (ordering first,
 * src/outbox/queries.ts). What is not yet published is the view outbox_unpublished.
 * A discard ends that hold at once (the held events behind it are released, parked.ts); a
 * requeue makes the event claimable, and its hold ends when the relay has published it. Both
 * send a NOTIFY on the relays' channel in their transaction: an UPDATE does not fire the
 * outbox's insert trigger, and an asleep relay would otherwise only notice at its next poll.
 */
import type postgres from 'postgres'
import { DISCARD_MARKER_TYPE, type DiscardMarkerData } from './discard-marker'
import { lockAggregates, releaseHeld } from './held'
import { OUTBOX_CHANNEL } from './locks'

export type AdminErrorCode = 'EVENT_NOT_FOUND' | 'EVENT_NOT_DEAD' | 'EVENT_ALREADY_PUBLISHED'

export class OutboxAdminError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'OutboxAdminError'
  }
}

export {
  type OutboxStatus,
  type PartitionOwner,
  readStatus,
  type TopicStatus,
} from './status'

export type DeadEvent = {
  id: number
  eventId: string
  eventType: string
  aggregateType: string
  /** The aggregate's id (for the orders API's events, the order id). */
  aggregateId: string
  attempts: number
  occurredAt: Date
  deadAt: Date
  lastError: string | null
}

/** Dead-lettered events, newest first. */
export async function listDead(sql: postgres.Sql, limit: number): Promise<DeadEvent[]> {
  const rows = await sql<(Omit<DeadEvent, 'id'> & { id: string })[]>`
    select x.id, x.event_id as "eventId", o.event_type as "eventType",
           x.aggregate_type as "aggregateType", x.aggregate_id as "aggregateId",
           x.attempts, o.occurred_at as "occurredAt", x.dead_at as "deadAt",
           x.last_error as "lastError"
      from outbox_parked x join outbox o on o.id = x.id
     where x.published_at is null and x.dead_at is not null
     order by x.dead_at desc, x.id desc
     limit ${limit}`
  return rows.map((r) => ({ ...r, id: Number(r.id) }))
}

/**
 * Requeues dead-lettered events: claimable again at once, with a fresh attempt budget.
 * `last_error` is kept as history (why it died) until the relay overwrites it on a new failure.
 * Returns the event ids requeued; a single event that cannot be requeued is an error that
 * says why (unknown, already published or discarded, or not dead).
 */
export async function requeueDead(
  sql: postgres.Sql,
  target: { eventId: string } | 'all',
): Promise<string[]> {
  const requeued = await sql.begin(async (tx) => {
    const which = target === 'all' ? tx`` : tx`and event_id = ${target.eventId}::uuid`
    const rows = await tx<{ eventId: string }[]>`
      update outbox_parked set dead_at = null, attempts = 0, next_attempt_at = null
       where published_at is null and dead_at is not null ${which}
      returning event_id as "eventId"`
    if (rows.length > 0) await tx`select pg_notify(${OUTBOX_CHANNEL}, '')`
    return rows.map((r) => r.eventId)
  })
  if (target !== 'all' && requeued.length === 0) await explainNotDead(sql, target.eventId)
  return requeued
}

/**
 * Marks one dead-lettered event handled without publishing it. `dead_at` stays set and
 * `last_error` gains a note, so the row still reads as "never delivered"; retention deletes it
 * like any published row once it is older than OUTBOX_RETENTION.
 *
 * In the same transaction a discard marker (discard-marker.ts) is inserted for the same
 * aggregate, topic and `sequence`, carrying the discarded event's id: a plain insert, published
 * like any event, so consumers that wait for that sequence learn it will never come.
 */
export async function discardDead(
  sql: postgres.Sql,
  eventId: string,
): Promise<{ discardedAt: Date }> {
  const [row] = await sql.begin(async (tx) => {
    await lockAggregates(tx, tx`event_id = ${eventId}::uuid and published_at is null`)
    const rows = await tx<(DiscardedRow & { discardedAt: Date })[]>`
      update outbox_parked x
         set published_at = now(), next_attempt_at = null,
             last_error = 'discarded by operator at ' || now()::text
                          || coalesce('; was: ' || x.last_error, '')
        from outbox o
       where o.id = x.id and x.event_id = ${eventId}::uuid and x.published_at is null
         and x.dead_at is not null
      returning x.published_at as "discardedAt", x.id, x.event_id, x.aggregate_type,
                x.aggregate_id, o.event_type, o.sequence, o.topic`
    const [discarded] = rows
    if (discarded) {
      await releaseHeld(tx, [Number(discarded.id)])
      await insertDiscardMarker(tx, discarded)
      await tx`select pg_notify(${OUTBOX_CHANNEL}, '')`
    }
    return rows
  })
  if (!row) return explainNotDead(sql, eventId)
  return row
}

type DiscardedRow = Record<
  'id' | 'event_id' | 'aggregate_type' | 'aggregate_id' | 'event_type',
  string
> & {
  sequence: number | null
  topic: string | null
}

async function insertDiscardMarker(tx: postgres.TransactionSql, d: DiscardedRow) {
  const data: DiscardMarkerData = {
    discardedEventId: d.event_id,
    discardedEventType: d.event_type,
    sequence: d.sequence,
  }
  await tx`
    insert into outbox (event_type, aggregate_type, aggregate_id, payload, sequence, topic)
    values (${DISCARD_MARKER_TYPE}, ${d.aggregate_type}, ${d.aggregate_id}, ${JSON.stringify(data)}::jsonb,
            ${d.sequence}, ${d.topic})`
}

/** Throws the error that says why `eventId` is not a dead-lettered event. */
async function explainNotDead(sql: postgres.Sql, eventId: string): Promise<never> {
  // Parked (failed at least once): its state is there. Otherwise pending until the positions
  // pass it, published after (when exactly is not recorded).
  const [row] = await sql<
    { publishedAt: Date | null; deadAt: Date | null; attempts: number; pending: boolean }[]
  >`
    select x.published_at as "publishedAt", x.dead_at as "deadAt", coalesce(x.attempts, 0) as attempts,
           exists (select 1 from outbox_unpublished u where u.id = o.id) as pending
      from outbox o left join outbox_parked x on x.id = o.id
     where o.event_id = ${eventId}::uuid
     order by o.id desc limit 1`
  if (!row) {
    throw new OutboxAdminError(
      'EVENT_NOT_FOUND',
      `event ${eventId} not found (never written, or already deleted by retention)`,
    )
  }
  if (row.publishedAt) {
    const how = row.deadAt ? 'discarded' : 'published'
    throw new OutboxAdminError(
      'EVENT_ALREADY_PUBLISHED',
      `event ${eventId} is not dead: it was ${how} at ${row.publishedAt.toISOString()}`,
    )
  }
  if (!row.pending && row.deadAt === null) {
    throw new OutboxAdminError(
      'EVENT_ALREADY_PUBLISHED',
      `event ${eventId} is not dead: it was published`,
    )
  }
  throw new OutboxAdminError(
    'EVENT_NOT_DEAD',
    `event ${eventId} is not dead: it is pending (${row.attempts} failed attempt(s) so far) ` +
      'and the relay will publish it',
  )
}
