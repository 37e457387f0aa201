/** The relay's SQL, one named function per statement, all on the relay's own session. */
import type postgres from 'postgres'
import { LOCK } from './locks'
import type { OutboxMessage } from './message'

export type Q = postgres.TransactionSql | postgres.Sql

/**
 * `held`: the partitions whose owner lock the claiming backend holds, read in the claim itself,
 * so the relay proves it still owns what it claimed (src/relay/session.ts).
 */
export type ClaimedMessage = OutboxMessage & { attempts: number; held: number[] | null }

/**
 * The partitions whose owner lock this backend holds, from pg_locks, as a scalar subquery for a
 * select list: it runs once per statement, and only if a row is returned.
 */
export function heldOwnerLocks(q: Q) {
  return q`(select array_agg(objid::int order by objid) from pg_locks
             where locktype = 'advisory' and classid = ${LOCK.owner} and objsubid = 2 and granted
               and pid = pg_backend_pid()
               and database = (select oid from pg_database where datname = current_database()))`
}

/**
 * The oldest publishable events of the partitions this relay owns, leaving out `inFlight` (the
 * batch being published while this one is claimed; drain.ts). Skipped: dead events, events
 * waiting for their retry time, and any event of an aggregate (type and id) that has an earlier
 * event dead or waiting (ordering first: a later event never overtakes an earlier one). No row locks: only the
 * partition's owner claims its rows (session.ts).
 */
/**
 * The hold-back, for a query over `outbox o`: no earlier event of o's aggregate (type and id) is
 * dead or waiting for its retry time.
 */
function notHeldBack(q: Q) {
  return q`not exists (
             select 1 from outbox e
              where e.aggregate_type = o.aggregate_type and e.aggregate_id = o.aggregate_id
                and e.id < o.id and e.published_at is null
                -- the predicate of outbox_blocked_by_aggregate_idx, so the probe uses that tiny index
                and (e.dead_at is not null or e.next_attempt_at is not null)
                and (e.dead_at is not null or e.next_attempt_at > now()))`
}

export async function claimBatch(
  q: Q,
  owned: number[],
  limit: number,
  inFlight: number[] = [],
): Promise<ClaimedMessage[]> {
  // In-flight ids are the lowest claimable ids of the previous claim: a row above the highest
  // needs no look-up in the list.
  const above = inFlight.length > 0 ? Math.max(...inFlight) : 0
  const rows = await q<(Omit<ClaimedMessage, 'id'> & { id: string })[]>`
    select ${heldOwnerLocks(q)} as held, o.id, o.event_id as "eventId", o.event_type as "eventType",
           o.aggregate_type as "aggregateType", o.aggregate_id as "aggregateId", o.payload,
           o.occurred_at as "occurredAt", o.attempts, o.sequence, o.schema_version as "schemaVersion",
           o.traceparent, o.topic, o.headers, o.source
      from outbox o
     where o.published_at is null
       and o.dead_at is null
       and o.partition = any(${owned}::int[])
       and (o.next_attempt_at is null or o.next_attempt_at <= now())
       and (o.id > ${above} or o.id <> all(${inFlight}::bigint[]))
       and ${notHeldBack(q)}
     order by o.id
     limit ${limit}`
  return rows.map((r) => ({ ...r, id: Number(r.id) }))
}

export async function markPublished(q: Q, ids: number[]): Promise<void> {
  if (ids.length === 0) return
  await q`update outbox set published_at = now(), next_attempt_at = null
            where id = any(${ids}::bigint[])`
}

/**
 * Records a failed attempt: not claimed again for `delayMs`. When `countsTowardLimit`, an event
 * reaching `maxAttempts` failed attempts is dead-lettered instead. Published rows are never
 * touched: a relay that lost its partition mid-publish may report a failure for rows that the
 * new owner has published since.
 */
export async function deferEvents(
  q: Q,
  ids: number[],
  error: string,
  delayMs: number,
  limit: { maxAttempts: number; countsTowardLimit: boolean },
): Promise<void> {
  if (ids.length === 0) return
  await q`
    update outbox
       set attempts = attempts + 1,
           last_error = ${error},
           next_attempt_at = now() + ${delayMs} * interval '1 millisecond',
           dead_at = case when ${limit.countsTowardLimit} and attempts + 1 >= ${limit.maxAttempts}
                          then now() end
     where id = any(${ids}::bigint[]) and published_at is null`
}

/**
 * Holds events back for `delayMs` without counting an attempt: their topic does not exist yet,
 * which says nothing about the events (classify-error.ts). Their aggregates' later events wait
 * behind them (the claim's hold-back), and they can never be dead-lettered for it.
 */
export async function holdEvents(
  q: Q,
  ids: number[],
  reason: string,
  delayMs: number,
): Promise<void> {
  if (ids.length === 0) return
  await q`
    update outbox
       set last_error = ${reason},
           next_attempt_at = now() + ${delayMs} * interval '1 millisecond'
     where id = any(${ids}::bigint[]) and published_at is null`
}

export async function markDead(q: Q, id: number, reason: string): Promise<void> {
  await q`update outbox set attempts = attempts + 1, last_error = ${reason}, dead_at = now()
            where id = ${id} and published_at is null`
}

/**
 * When the next deferred event of these partitions becomes claimable; undefined if none. An
 * event held back behind an earlier dead or waiting event of its aggregate is left out: its own
 * retry time may have passed, but it becomes claimable only when the earlier one does (whose
 * time is counted) or never (dead). Counted, a past time would wake the relay at once to claim
 * nothing, over and over.
 */
export async function earliestRetry(q: Q, owned: number[]): Promise<Date | undefined> {
  const [row] = await q<{ at: Date | null }[]>`
    select min(o.next_attempt_at) as at from outbox o
     where o.published_at is null and o.dead_at is null and o.next_attempt_at is not null
       and o.partition = any(${owned}::int[])
       and ${notHeldBack(q)}`
  return row?.at ?? undefined
}
