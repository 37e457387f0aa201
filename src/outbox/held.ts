/**
 * Held events (outbox_parked.held, drizzle/0022): parked only because an earlier parked event of
 * their aggregate is not out yet, and kept out of the claim's index until it is. What ends a
 * hold (a publish, parked.ts: markPublished; an operator's discard, admin.ts, admin-event.ts)
 * takes the aggregate's lock, ends it, and releases, in one transaction.
 */
import type { Q } from './client'
import { LOCK } from './locks'

/**
 * Takes the aggregate lock (locks.ts) of the parked events `where` picks, before their hold is
 * ended: one that ends another hold of the same aggregate waits, and its release then sees this.
 */
export async function lockAggregates(q: Q, where: ReturnType<Q>): Promise<void> {
  await q`
    select pg_advisory_xact_lock(${LOCK.aggregate}, hashtext(aggregate_type || '/' || aggregate_id))
      from (select distinct aggregate_type, aggregate_id from outbox_parked where ${where}
             order by 1, 2) a`
}

/** Held events released at once per aggregate; the next are when these are published. */
export const RELEASE_AT_MOST = 10_000

/**
 * After the parked events `ids` were published or discarded, under their aggregate lock: the
 * held events of their aggregates that no failed event precedes any more become claimable, the
 * first RELEASE_AT_MOST of each. Its own statement, after the change: its snapshot must see the
 * held rows a claim parked while the change waited for that claim's lock on the event it found
 * open (queries.ts: `win`).
 */
export async function releaseHeld(q: Q, ids: number[]): Promise<void> {
  await q`
    update outbox_parked h set held = false
      from (select distinct aggregate_type, aggregate_id from outbox_parked
             where id = any(${ids}::int8[])) a,
           lateral (
             select x.id from outbox_parked x
              where x.held and x.published_at is null
                and x.aggregate_type = a.aggregate_type and x.aggregate_id = a.aggregate_id
                and not exists (
                  select 1 from outbox_parked e
                   where e.aggregate_type = x.aggregate_type and e.aggregate_id = x.aggregate_id
                     and e.id < x.id and e.published_at is null
                     and (e.dead_at is not null or e.next_attempt_at is not null))
              order by x.id
              limit ${RELEASE_AT_MOST}) r
     where h.id = r.id`
}
