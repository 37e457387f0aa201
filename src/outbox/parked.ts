/**
 * outbox_parked: the events taken out of the stream of positions, with their state. An event is
 * parked when its publication failed (deferred: a retry time and an attempt counted; dead; or
 * waiting for its topic) or when an earlier event of its aggregate is parked (`held`, claim in
 * queries.ts). The claim takes parked events again once their time has come, they are not held,
 * and nothing earlier of their aggregate is dead or waiting; publishing or discarding one sets
 * its `published_at`, which ends its hold on the aggregate, and releases the held ones behind it
 * (held.ts): until then they are outside the index the claim reads, however many pile up
 * behind a dead letter. A requeued one releases them when it is published.
 * Only failures write here: the path every event takes does not.
 */
import { inTransaction, type Q } from './client'
import { holdBehind, lockAggregates, releaseHeld } from './held'

/**
 * Why an event's last attempt failed, as the relay classified it (src/relay/classify-error.ts)
 * and stored it in the `failure` column (drizzle/0019). Everything that asks "why is it parked"
 * reads the column, never the text of `last_error`.
 */
export const FAILURE_CLASSES = ['unavailable', 'retriable', 'permanent', 'missing-topic'] as const
export type FailureClass = (typeof FAILURE_CLASSES)[number]

/** The class of events that wait for their topic to be created. */
export const WAITING_FOR_TOPIC: FailureClass = 'missing-topic'

type Parked = {
  id: number
  partition: number
  aggregateType: string
  aggregateId: string
  eventId: string
}

/** Why: the class (null: not failed itself, held behind its aggregate) and a reason for people. */
export type ParkReason = { failure: FailureClass | null; reason: string }

/** An event this statement dead-lettered, for the relay's log line and counter. */
export type DeadLetter = {
  eventId: string
  aggregateType: string
  aggregateId: string
  reason: string
}

/**
 * SQL: an earlier event of the aggregate of the row `t` is parked, not yet out, and dead or
 * waiting for its time. Such a row is held back: it must not overtake that event.
 */
export function heldBack(t: string) {
  return `exists (
    select 1 from outbox_parked e
     where e.aggregate_type = ${t}.aggregate_type and e.aggregate_id = ${t}.aggregate_id
       and e.id < ${t}.id and e.published_at is null
       and (e.dead_at is not null or e.next_attempt_at > now()))`
}

/**
 * Upserts the events' rows: one statement for a batch, whatever mix of new and parked; then
 * holds what they hold back (held.ts).
 */
async function upsert(
  q: Q,
  events: readonly Parked[],
  set: ParkReason & { delayMs?: number; attempt: boolean; deadAt?: number },
) {
  // Dead once its attempts reach `deadAt` (0: at once; undefined: never).
  const deadAt = set.deadAt ?? null
  const col = <K extends keyof Parked>(k: K) => events.map((e) => e[k])
  const rows = await q`
    insert into outbox_parked as x (id, partition, aggregate_type, aggregate_id, event_id,
                                    attempts, last_error, failure, next_attempt_at, dead_at)
    select id, partition, aggregate_type, aggregate_id, event_id,
           ${set.attempt ? 1 : 0}, ${set.reason}, ${set.failure},
           now() + ${set.delayMs ?? 0} * interval '1 millisecond',
           case when ${set.attempt ? 1 : 0} >= ${deadAt}::int then now() end
      from unnest(${col('id')}::int8[], ${col('partition')}::int2[], ${col('aggregateType')}::text[],
                  ${col('aggregateId')}::text[], ${col('eventId')}::uuid[])
             as e(id, partition, aggregate_type, aggregate_id, event_id)
    on conflict (id) do update
       set attempts = x.attempts + excluded.attempts,
           last_error = excluded.last_error,
           failure = excluded.failure,
           next_attempt_at = excluded.next_attempt_at,
           dead_at = case when x.attempts + excluded.attempts >= ${deadAt}::int then now() end
     where x.published_at is null
    returning x.event_id as "eventId", x.aggregate_type as "aggregateType",
              x.aggregate_id as "aggregateId", x.last_error as reason, x.dead_at is not null as dead`
  await holdBehind(q, events)
  return rows.filter((r) => r.dead).map(({ dead: _d, ...r }) => r as DeadLetter)
}

/**
 * Records a failed attempt: not claimed again for `delayMs`. When `countsTowardLimit`, an event
 * reaching `maxAttempts` failed attempts is dead-lettered instead. Published events are never
 * touched: a relay that lost its partition mid-publish may report a failure for events that
 * the new owner has published since.
 */
export async function deferEvents(
  q: Q,
  events: readonly Parked[],
  why: ParkReason,
  delayMs: number,
  limit: { maxAttempts: number; countsTowardLimit: boolean },
): Promise<DeadLetter[]> {
  if (events.length === 0) return []
  const deadAt = limit.countsTowardLimit ? limit.maxAttempts : undefined
  return upsert(q, events, { ...why, delayMs, attempt: true, deadAt })
}

/**
 * Holds events back for `delayMs` without counting an attempt: their topic does not exist yet,
 * which says nothing about the events (classify-error.ts), or they wait behind an earlier event
 * of their aggregate. They can never be dead-lettered for it.
 */
export async function holdEvents(
  q: Q,
  events: readonly Parked[],
  why: ParkReason,
  delayMs: number,
): Promise<void> {
  if (events.length === 0) return
  await upsert(q, events, { ...why, delayMs, attempt: false })
}

export async function markDead(q: Q, event: Parked, why: ParkReason): Promise<DeadLetter[]> {
  return upsert(q, [event], { ...why, attempt: true, deadAt: 0 })
}

/**
 * After the broker's acknowledgement: the parked events among `batch` are out, and the held ones
 * behind them released, in one transaction: a release lost to a crash in between would leave
 * them held with nothing left to release them. The others need nothing written: the
 * partition's position passes them (src/relay/positions.ts).
 */
export async function markPublished(
  q: Q,
  batch: ReadonlyArray<{ id: number; parked: boolean }>,
): Promise<void> {
  const ids = batch.filter((m) => m.parked).map((m) => m.id)
  if (ids.length === 0) return
  await inTransaction(q, async (tx) => {
    await lockAggregates(tx, tx`id = any(${ids}::int8[])`)
    await tx`update outbox_parked set published_at = now(), next_attempt_at = null
              where id = any(${ids}::int8[]) and published_at is null`
    await releaseHeld(tx, ids)
  })
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
    select min(x.next_attempt_at) as at from outbox_parked x
     where x.published_at is null and x.dead_at is null and x.next_attempt_at is not null
       and x.partition = any(${owned}::int[])
       and not ${q.unsafe(heldBack('x'))}`
  return row?.at ?? undefined
}
