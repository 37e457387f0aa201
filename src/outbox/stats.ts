/** What the relay's metrics and /readyz read from the outbox, on their own connection. */
import type postgres from 'postgres'

export type OutboxStats = {
  pending: number
  dead: number
  /** Age of the oldest unpublished, not dead event, in seconds (0 when none). */
  oldestPendingAgeSeconds: number
}

/**
 * Counts walk partial indexes (pending rows: outbox_ready_idx; dead ones:
 * outbox_blocked_by_aggregate_idx): proportional to the backlog, fine for a scrape every few
 * seconds, not for a readiness probe. The oldest is the lowest pending id (ids follow commit
 * order closely), found at the front of the first index.
 */
export async function readOutboxStats(sql: postgres.Sql): Promise<OutboxStats> {
  const [row] = await sql<{ pending: number; dead: number; age: number | null }[]>`
    select (select count(*) from outbox
             where published_at is null and dead_at is null)::int as pending,
           (select count(*) from outbox
             where published_at is null and dead_at is not null)::int as dead,
           (select extract(epoch from now() - occurred_at)::float8 from outbox
             where published_at is null and dead_at is null order by id limit 1) as age`
  return {
    pending: row?.pending ?? 0,
    dead: row?.dead ?? 0,
    oldestPendingAgeSeconds: Math.max(0, row?.age ?? 0),
  }
}

/**
 * Age in seconds of the oldest event this relay should be publishing now (its partitions, not
 * dead, not waiting for a retry, not held back); 0 when there is none. One row from the front of the index.
 */
export async function oldestPublishableAge(
  sql: postgres.Sql,
  owned: readonly number[],
): Promise<number> {
  if (owned.length === 0) return 0
  // Held-back events (behind a dead or waiting event of their aggregate) are not publishable:
  // a dead letter is an operator's matter (outbox_dead_events), not a relay falling behind.
  const [row] = await sql<{ age: number }[]>`
    select extract(epoch from now() - o.occurred_at)::float8 as age from outbox o
     where o.published_at is null and o.dead_at is null
       and (o.next_attempt_at is null or o.next_attempt_at <= now())
       and o.partition = any(${owned as number[]}::int[])
       and not exists (
             select 1 from outbox e
              where e.aggregate_type = o.aggregate_type and e.aggregate_id = o.aggregate_id
                and e.id < o.id and e.published_at is null
                and (e.dead_at is not null or e.next_attempt_at is not null)
                and (e.dead_at is not null or e.next_attempt_at > now()))
     order by o.id limit 1`
  return Math.max(0, row?.age ?? 0)
}
