/** Retention's SQL: what src/relay/retention.ts runs, one pass at a time. */
import type postgres from 'postgres'

/**
 * Where a pass stops: the first row (in id order) written after the cutoff, by the database's
 * clock (created_at, set by the trigger; rows from before drizzle/0018 have their occurred_at).
 * Not occurred_at alone: a writer may set it ahead (a business time, a clock that runs fast),
 * and one such row would keep every row after it until that time. Without this bound the batch
 * that comes back short (the last of every pass) would read the whole retention window, e.g.
 * 600M rows for 7 days at 1,000 events/s, every pass. Found once per pass by walking the primary
 * key from the front.
 */
export async function findHorizon(sql: postgres.Sql, maxAgeMs: number): Promise<number> {
  const [row] = await sql<{ id: string | null }[]>`
    select id from outbox
     where coalesce(created_at, occurred_at) >= now() - ${maxAgeMs} * interval '1 millisecond'
     order by id limit 1`
  return row?.id == null ? Number.MAX_SAFE_INTEGER : Number(row.id)
}

/**
 * One batch: the next published rows after `afterId` and before `horizon` (so they were
 * written before the cutoff), at most `limit`,
 * deleted in one statement with their parked records; returns how many and the last id
 * deleted, where the next batch continues (so a pass reads each row once). Published means
 * passed by its partition's stored position (drizzle/0016), or, if it was parked, published
 * from there (or discarded) before the cutoff: a requeued dead event stays its full retention
 * after it went out. Rows older than positions (xid NULL) are published unless parked. Nothing unpublished is ever deleted, dead ones included.
 *
 * The versions these deletes leave behind never lie in a claim's path: a claim reads the
 * outbox by transaction id and by id only within its window, the newest rows, and retention
 * deletes the oldest (test/relay/publish-leaves-nothing.test.ts measures it).
 */
export async function deleteBatch(
  sql: postgres.Sql,
  maxAgeMs: number,
  limit: number,
  range: { afterId: number; horizon: number } = { afterId: 0, horizon: Number.MAX_SAFE_INTEGER },
): Promise<{ count: number; lastId: number }> {
  const rows = await sql<{ id: string }[]>`
    with gone as (
      delete from outbox
       where id in (
         select o.id from outbox o
           cross join outbox_position p
           left join outbox_parked x on x.id = o.id
          where o.id > ${range.afterId} and o.id < ${range.horizon}
            and case when x.id is null
                     then o.xid is null or pg_visible_in_snapshot(o.xid, p.snapshots[o.partition + 1])
                     else x.published_at < now() - ${maxAgeMs} * interval '1 millisecond' end
          order by o.id
          limit ${limit}
            for update of o skip locked)
      returning id
    ), parked as (
      delete from outbox_parked x using gone where x.id = gone.id
    )
    select id from gone`
  let lastId = range.afterId
  for (const r of rows) lastId = Math.max(lastId, Number(r.id))
  return { count: rows.length, lastId }
}
