/**
 * Held events (outbox_parked.held, drizzle/0022): parked only because an earlier parked event of
 * their aggregate is not out yet, and kept out of the claim's index until it is. What ends a
 * hold (a publish, parked.ts: markPublished; an operator's discard, admin.ts, admin-event.ts)
 * takes the aggregate's lock, ends it, and releases, in one transaction; a failure holds what
 * it holds back again (`holdBehind`), under the same lock.
 */
import { inTransaction, type Q } from './client'
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

/**
 * After `events` failed (deferred, dead, or waiting): the claimable parked events of their
 * aggregates behind a failed one are held again, so the claim does not walk them while it waits
 * (a broker that fails once in a drain of 10,000 released ones). Under the aggregate lock, in
 * one transaction, and only behind an event still failed: one an operator discarded meanwhile
 * has released them already.
 */
export async function holdBehind(
  q: Q,
  events: ReadonlyArray<{ id: number; aggregateType: string; aggregateId: string }>,
): Promise<void> {
  if (events.length === 0) return
  const ids = events.map((e) => e.id)
  await inTransaction(q, async (tx) => {
    await lockAggregates(tx, tx`id = any(${ids}::int8[])`)
    await tx`
      update outbox_parked h set held = true
        from (select aggregate_type, aggregate_id, min(id) as first from outbox_parked
               where id = any(${ids}::int8[]) and published_at is null
                 and (dead_at is not null or next_attempt_at is not null)
               group by 1, 2) f
       where h.aggregate_type = f.aggregate_type and h.aggregate_id = f.aggregate_id
         and h.id > f.first and h.published_at is null and not h.held
         and h.dead_at is null and h.next_attempt_at is null`
  })
}
