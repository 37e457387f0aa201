/**
 * The operator's view of the outbox and the three things an operator may do to it: list the
 * dead-lettered events, requeue them, or discard one. Each function runs its own short
 * statement(s) on the given client and returns data; formatting is src/ops/cli.ts's job.
 *
 * Dead-lettered = parked (outbox_parked) with `dead_at` set and `published_at` null: the relay
 * never claims it again, and it holds back every later event of its aggregate (ordering first,
 * src/outbox/queries.ts). What is not yet published is the view outbox_unpublished.
 * A requeue and a discard both release that hold, so both send a NOTIFY on the relays' channel
 * in their transaction: an UPDATE does not fire the outbox's insert trigger, and an asleep
 * relay would otherwise only notice at its next poll.
 */
import type postgres from 'postgres'
import { RELAY_PARTITIONS } from '../db/schema'
import { LOCK, OUTBOX_CHANNEL } from './locks'
import { AGGREGATE_TYPE_PLACEHOLDER, DEFAULT_TOPIC_TEMPLATE } from './routing'

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

/** A backend holding relay locks in this database: a live relay (and what it owns). */
export type PartitionOwner = {
  pid: number
  applicationName: string | null
  /** null for a Unix-socket connection, or when this role may not see other roles' addresses. */
  clientAddress: string | null
  backendStart: Date | null
  /** The partitions it owns (owner lock (780001, p)), ascending. */
  partitions: number[]
  /** How many of them it is draining right now (adaptive mode's awake lock (780003, p)). */
  awake: number
  /** Holds a membership lock (780002, slot): counted by the other relays when they share. */
  member: boolean
}

/** The events of one topic (its row's `topic`, else the template's topic for its type). */
export type TopicStatus = {
  topic: string
  pending: number
  dead: number
  published: number
  /** Pending events held because the cluster lacked the topic at their last attempt. */
  waitingForTopic: number
}

export type OutboxStatus = {
  /** Unpublished and not dead: waiting for the relay (or for a retry time). */
  pending: number
  dead: number
  /** Age of the oldest pending event, in seconds; 0 when none. */
  oldestPendingAgeSeconds: number
  published: number
  /** When the oldest event still kept occurred (retention deletes published ones older than OUTBOX_RETENTION). */
  oldestPublishedAt: Date | null
  partitions: number
  ownedPartitions: number
  liveRelays: number
  owners: PartitionOwner[]
  topics: TopicStatus[]
}

/**
 * Counts, and who owns the partitions. Owners are read from pg_locks (session advisory locks
 * with two int4 keys appear as classid = key 1, objid = key 2, objsubid = 2), restricted to this
 * database: advisory locks are per database. `published` counts every kept row: a full scan,
 * fine for an operator's command, not for a scrape.
 */
export async function readStatus(
  sql: postgres.Sql,
  topicTemplate = DEFAULT_TOPIC_TEMPLATE,
): Promise<OutboxStatus> {
  const [counts] = await sql<
    { pending: string; dead: string; age: number | null; published: string; oldest: Date | null }[]
  >`
    with u as (
      select count(*) filter (where dead_at is null) as pending,
             count(*) filter (where dead_at is not null) as dead,
             extract(epoch from now() - min(occurred_at) filter (where dead_at is null))::float8
               as age
        from outbox_unpublished)
    select u.pending, u.dead, u.age, k.kept - u.pending - u.dead as published, k.oldest
      from u, (select count(*) as kept, min(occurred_at) as oldest from outbox) k`
  const owners = await sql<PartitionOwner[]>`
    select l.pid, a.application_name as "applicationName",
           host(a.client_addr) as "clientAddress", a.backend_start as "backendStart",
           coalesce(array_agg(l.objid::int order by l.objid)
                      filter (where l.classid = ${LOCK.owner}), '{}') as partitions,
           (count(*) filter (where l.classid = ${LOCK.awake} and l.mode = 'ExclusiveLock'))::int
             as awake,
           bool_or(l.classid = ${LOCK.member}) as member
      from pg_locks l
      left join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and l.objsubid = 2 and l.granted
       and l.database = (select oid from pg_database where datname = current_database())
       and l.classid in (${LOCK.owner}, ${LOCK.member}, ${LOCK.awake})
     group by l.pid, a.application_name, a.client_addr, a.backend_start
    having bool_or(l.classid in (${LOCK.owner}, ${LOCK.member}))
     order by count(*) filter (where l.classid = ${LOCK.owner}) desc, l.pid`
  return {
    topics: await readTopicStatus(sql, topicTemplate),
    pending: Number(counts?.pending ?? 0),
    dead: Number(counts?.dead ?? 0),
    oldestPendingAgeSeconds: Math.max(0, counts?.age ?? 0),
    published: Number(counts?.published ?? 0),
    oldestPublishedAt: counts?.oldest ?? null,
    partitions: RELAY_PARTITIONS,
    ownedPartitions: owners.reduce((n, o) => n + o.partitions.length, 0),
    liveRelays: owners.filter((o) => o.member).length,
    owners: [...owners],
  }
}

/** The counts by topic, routed as the relay routes them (src/outbox/routing.ts). */
async function readTopicStatus(sql: postgres.Sql, template: string): Promise<TopicStatus[]> {
  const rows = await sql<(Omit<TopicStatus, 'topic'> & { topic: string })[]>`
    select coalesce(o.topic, replace(${template}::text, ${AGGREGATE_TYPE_PLACEHOLDER}::text,
                                     o.aggregate_type)) as topic,
           (count(*) filter (where u.id is not null and u.dead_at is null))::int as pending,
           (count(*) filter (where u.dead_at is not null))::int as dead,
           (count(*) filter (where u.id is null))::int as published,
           (count(*) filter (where u.dead_at is null
                               and u.last_error like 'MissingTopicError%'))::int as "waitingForTopic"
      from outbox o
      left join outbox_unpublished u on u.id = o.id
     group by 1
     order by 1`
  return [...rows]
}

export type DeadEvent = {
  id: number
  eventId: string
  eventType: string
  aggregateType: string
  /** The aggregate's id (for the orders API's events, the order id). */
  orderId: string
  attempts: number
  occurredAt: Date
  deadAt: Date
  lastError: string | null
}

/** Dead-lettered events, newest first. */
export async function listDead(sql: postgres.Sql, limit: number): Promise<DeadEvent[]> {
  const rows = await sql<(Omit<DeadEvent, 'id'> & { id: string })[]>`
    select x.id, x.event_id as "eventId", o.event_type as "eventType",
           x.aggregate_type as "aggregateType", x.aggregate_id as "orderId",
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
 * Marks one dead-lettered event handled without publishing it: consumers never receive it and
 * will see a gap in that order's versions (`ce_sequence`). `dead_at` stays set and `last_error`
 * gains a note, so the row still reads as "never delivered"; retention deletes it like any
 * published event once it is older than OUTBOX_RETENTION.
 */
export async function discardDead(
  sql: postgres.Sql,
  eventId: string,
): Promise<{ discardedAt: Date }> {
  const [row] = await sql.begin(async (tx) => {
    const rows = await tx<{ discardedAt: Date }[]>`
      update outbox_parked
         set published_at = now(), next_attempt_at = null,
             last_error = 'discarded by operator at ' || now()::text
                          || coalesce('; was: ' || last_error, '')
       where event_id = ${eventId}::uuid and published_at is null and dead_at is not null
      returning published_at as "discardedAt"`
    if (rows.length > 0) await tx`select pg_notify(${OUTBOX_CHANNEL}, '')`
    return rows
  })
  if (!row) return explainNotDead(sql, eventId)
  return row
}

/** Throws the error that says why `eventId` is not a dead-lettered event. */
async function explainNotDead(sql: postgres.Sql, eventId: string): Promise<never> {
  // Parked (failed at least once): its state is there. Otherwise pending until the positions
  // pass it, published after (when exactly is not recorded).
  const [row] = await sql<
    { publishedAt: Date | null; deadAt: Date | null; attempts: number; pending: boolean }[]
  >`
    select x.published_at as "publishedAt", x.dead_at as "deadAt", coalesce(x.attempts, 0) as attempts,
           x.id is null and exists (select 1 from outbox_unpublished u where u.id = o.id) as pending
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
