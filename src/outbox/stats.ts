/** What the relay's metrics and /readyz read from the outbox, on their own connection. */
import type postgres from 'postgres'
import { heldBack } from './parked'
import { readStranded } from './stranded'

export type OutboxStats = {
  pending: number
  dead: number
  /** Age of the oldest unpublished, not dead event, in seconds (0 when none). */
  oldestPendingAgeSeconds: number
  /** Rows written with the trigger off: no relay will claim them (stranded.ts). */
  unclaimable: number
  /** Partitions a prepared transaction keeps from going to sleep (stranded.ts). */
  heldByPrepared: number
}

/**
 * Counts read the view outbox_unpublished (drizzle/0016): the rows the stored positions have not
 * passed, through the xid index from the oldest position on, and the parked events not yet out.
 * Proportional to the backlog (and to the last second of events, not yet stored), fine for a
 * scrape every few seconds, not for a readiness probe.
 */
export async function readOutboxStats(sql: postgres.Sql): Promise<OutboxStats> {
  const [row] = await sql<{ pending: number; dead: number; age: number | null }[]>`
    select (count(*) filter (where dead_at is null))::int as pending,
           (count(*) filter (where dead_at is not null))::int as dead,
           extract(epoch from now() - min(occurred_at) filter (where dead_at is null))::float8
             as age
      from outbox_unpublished`
  const stranded = await readStranded(sql)
  return {
    unclaimable: stranded.unclaimable,
    heldByPrepared: stranded.preparedPartitions.length,
    pending: row?.pending ?? 0,
    dead: row?.dead ?? 0,
    oldestPendingAgeSeconds: Math.max(0, row?.age ?? 0),
  }
}

/**
 * Age in seconds of the oldest event this relay should be publishing now (its partitions, not
 * dead, not waiting for a retry, not held back); 0 when there is none.
 */
export async function oldestPublishableAge(
  sql: postgres.Sql,
  owned: readonly number[],
): Promise<number> {
  if (owned.length === 0) return 0
  // Held-back events (behind a dead or waiting event of their aggregate) are not publishable:
  // a dead letter is an operator's matter (outbox_dead_events), not a relay falling behind.
  // Those marked held are left out by index, however many piled up; the probe is for the rest.
  const [row] = await sql<{ age: number | null }[]>`
    select extract(epoch from now() - min(o.occurred_at))::float8 as age
      from outbox_unpublished o
     where o.dead_at is null and not o.held
       and (o.next_attempt_at is null or o.next_attempt_at <= now())
       and o.partition = any(${owned as number[]}::int[])
       and not ${sql.unsafe(heldBack('o'))}`
  return Math.max(0, row?.age ?? 0)
}
