/**
 * The operator's commands on one event that are not about dead letters: show it whole, and
 * give up on or re-route an event that waits for a topic the cluster lacks. Such an event is
 * parked (outbox_parked) without an attempt counted and is never dead-lettered
 * (src/relay/publish-failure.ts), so `discardDead` refuses it; without these only a
 * hand-written UPDATE would get it out.
 *
 * Both changes NOTIFY the relays in their transaction, as src/outbox/admin.ts explains.
 */
import type postgres from 'postgres'
import { OutboxAdminError } from './admin'
import { lockAggregates, releaseHeld } from './held'
import { OUTBOX_CHANNEL } from './locks'
import { WAITING_FOR_TOPIC } from './parked'
import { isValidTopicName } from './routing'

export type EventState = 'pending' | 'waiting-for-topic' | 'dead' | 'published' | 'discarded'

/** One outbox row, every column an operator may need, with its state in words. */
export type EventDetail = {
  id: number
  eventId: string
  state: EventState
  eventType: string
  aggregateType: string
  aggregateId: string
  /** The row's own topic (null: the topic template's for its aggregate type). */
  topic: string | null
  sequence: number | null
  /** The writer's ce_source; null: the relay's default source (src/config/fixed.ts). */
  source: string | null
  schemaVersion: number
  headers: Record<string, string> | null
  payload: unknown
  requestId: string | null
  traceparent: string | null
  occurredAt: Date
  publishedAt: Date | null
  deadAt: Date | null
  attempts: number
  nextAttemptAt: Date | null
  lastError: string | null
}

/**
 * The event with this id, its state read from outbox_parked (failed, dead, waiting, or published
 * from there) or, if it was never parked, from whether the positions have passed it
 * (outbox_unpublished). The id is unique among unpublished rows only, so that row wins, then
 * the newest.
 */
export async function readEvent(sql: postgres.Sql, eventId: string): Promise<EventDetail> {
  const [row] = await sql<
    (Omit<EventDetail, 'id' | 'state'> & { id: string; unpublished: boolean; waiting: boolean })[]
  >`
    select o.id, o.event_id as "eventId", o.event_type as "eventType",
           o.aggregate_type as "aggregateType", o.aggregate_id as "aggregateId", o.topic,
           o.sequence, o.source, o.schema_version as "schemaVersion", o.headers, o.payload,
           o.request_id as "requestId", o.traceparent, o.occurred_at as "occurredAt",
           x.published_at as "publishedAt", x.dead_at as "deadAt",
           coalesce(x.attempts, 0) as attempts, x.next_attempt_at as "nextAttemptAt",
           x.last_error as "lastError", coalesce(x.failure = ${WAITING_FOR_TOPIC}, false) as waiting,
           exists (select 1 from outbox_unpublished u where u.id = o.id) as unpublished
      from outbox o left join outbox_parked x on x.id = o.id
     where o.event_id = ${eventId}::uuid
     order by exists (select 1 from outbox_unpublished u where u.id = o.id) desc, o.id desc
     limit 1`
  if (!row) throw notFound(eventId)
  const { unpublished, waiting, ...event } = row
  return { ...event, id: Number(row.id), state: stateOf(event, { unpublished, waiting }) }
}

function stateOf(
  row: Omit<EventDetail, 'id' | 'state'>,
  is: { unpublished: boolean; waiting: boolean },
): EventState {
  if (row.publishedAt) return row.deadAt ? 'discarded' : 'published'
  if (row.deadAt) return 'dead'
  if (is.waiting) return 'waiting-for-topic'
  return is.unpublished ? 'pending' : 'published'
}

/**
 * Marks a pending event that waits for a missing topic handled without publishing it, as
 * `discardDead` does for a dead one: `dead_at` and `published_at` set, `last_error` notes it.
 */
export async function discardWaiting(
  sql: postgres.Sql,
  eventId: string,
): Promise<{ discardedAt: Date }> {
  const [row] = await sql.begin(async (tx) => {
    await lockAggregates(tx, tx`event_id = ${eventId}::uuid and published_at is null`)
    const rows = await tx<{ discardedAt: Date; id: string }[]>`
      update outbox_parked
         set published_at = now(), dead_at = now(), next_attempt_at = null,
             last_error = 'discarded by operator at ' || now()::text || '; was: ' || last_error
       where event_id = ${eventId}::uuid and published_at is null and dead_at is null
         and failure = ${WAITING_FOR_TOPIC}
      returning published_at as "discardedAt", id`
    if (rows.length === 0) return []
    await releaseHeld(tx, [Number(rows[0]?.id)])
    await tx`select pg_notify(${OUTBOX_CHANNEL}, '')`
    return rows.map(({ discardedAt }) => ({ discardedAt }))
  })
  if (!row) return refuse(sql, eventId, 'discarded')
  return row
}

/**
 * Sends a pending event that waits for a missing topic, or a dead event, to `topic` instead,
 * publishable at once (a dead one also gets a fresh attempt budget, as a retry does).
 * Only this event: later events of its aggregate keep their own routing.
 */
export async function rerouteEvent(
  sql: postgres.Sql,
  eventId: string,
  topic: string,
): Promise<{ from: string | null }> {
  if (!isValidTopicName(topic)) {
    throw new Error(`'${topic}' is not a valid topic name (1-249 letters, digits, '.', '_', '-')`)
  }
  const [row] = await sql.begin(async (tx) => {
    // The parked record is released first; the row's topic (the one operator's UPDATE of an
    // outbox row) is changed only if that succeeded.
    const released = await tx<{ id: string }[]>`
      update outbox_parked
         set next_attempt_at = null, dead_at = null,
             attempts = case when dead_at is null then attempts else 0 end
       where event_id = ${eventId}::uuid and published_at is null
         and (dead_at is not null or failure = ${WAITING_FOR_TOPIC})
      returning id`
    const id = released[0]?.id
    if (id === undefined) return []
    const rows = await tx<{ from: string | null }[]>`
      update outbox o set topic = ${topic}
        from (select id, topic from outbox where id = ${id} for update) old
       where o.id = old.id
      returning old.topic as "from"`
    if (rows.length > 0) await tx`select pg_notify(${OUTBOX_CHANNEL}, '')`
    return rows
  })
  if (!row) return refuse(sql, eventId, 'rerouted')
  return row
}

/** Throws the error that says why `eventId` is neither dead nor waiting for a topic. */
async function refuse(sql: postgres.Sql, eventId: string, done: string): Promise<never> {
  const event = await readEvent(sql, eventId)
  const at = event.publishedAt?.toISOString()
  if (event.state === 'published' || event.state === 'discarded') {
    throw new OutboxAdminError(
      'EVENT_ALREADY_PUBLISHED',
      `event ${eventId} cannot be ${done}: it was ${event.state} at ${at}`,
    )
  }
  throw new OutboxAdminError(
    'EVENT_NOT_DEAD',
    `event ${eventId} cannot be ${done}: it is ${event.state}, not waiting for a missing ` +
      `topic (${event.attempts} failed attempt(s) so far), and the relay will publish it`,
  )
}

const notFound = (eventId: string) =>
  new OutboxAdminError(
    'EVENT_NOT_FOUND',
    `event ${eventId} not found (never written, or already deleted by retention)`,
  )
