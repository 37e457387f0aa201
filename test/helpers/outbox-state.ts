/**
 * Outbox rows in a given state, for tests. Since drizzle/0016 a row's state lives outside it:
 * published = passed by its partition's position (outbox_position) or, once parked, published
 * from outbox_parked; dead, deferred or waiting = parked with that state.
 */
import type postgres from 'postgres'
import type { FailureClass } from '../../src/outbox/parked'

export type ParkedState = {
  attempts?: number
  lastError?: string | null
  /** The failure class column (drizzle/0019); 'missing-topic': waiting for its topic. */
  failure?: FailureClass | null
  /** Intervals before now, e.g. '30 days'; a negative one lies ahead ('-1 hour'). */
  nextAttemptAgo?: string
  deadAgo?: string
  publishedAgo?: string
}

/** Parks the rows `where` (a fragment of a WHERE clause on outbox) in that state. */
export async function park(
  sql: postgres.Sql | postgres.TransactionSql,
  where: postgres.PendingQuery<postgres.Row[]>,
  state: ParkedState,
): Promise<void> {
  const at = (ago: string | undefined) => (ago === undefined ? null : ago)
  await sql`
    insert into outbox_parked (id, partition, aggregate_type, aggregate_id, event_id, attempts,
                               last_error, failure, next_attempt_at, dead_at, published_at)
    select id, partition, aggregate_type, aggregate_id, event_id, ${state.attempts ?? 0},
           ${state.lastError ?? null}, ${state.failure ?? null}, now() - ${at(state.nextAttemptAgo)}::interval,
           now() - ${at(state.deadAgo)}::interval, now() - ${at(state.publishedAgo)}::interval
      from outbox where ${where}
    on conflict (id) do update
       set attempts = excluded.attempts, last_error = excluded.last_error, failure = excluded.failure,
           next_attempt_at = excluded.next_attempt_at, dead_at = excluded.dead_at,
           published_at = excluded.published_at`
}

/** Every row committed so far reads as published (positions moved to now), except parked ones. */
export async function passAll(sql: postgres.Sql): Promise<void> {
  await sql`
    update outbox_position
       set snapshots = array_fill(pg_current_snapshot(), array[64]),
           uptos = array_fill(null::pg_snapshot, array[64]), afters = array_fill(0::bigint, array[64])`
}
