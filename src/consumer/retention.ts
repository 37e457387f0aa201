/**
 * The consumer's retention: settled inbox rows (applied, stale) and the versions of orders idle
 * longer than CONSUMER_RETENTION are deleted, in batches, each pass until nothing older is left,
 * so it keeps up with any event rate.
 *
 * What that costs: an event redelivered after its inbox row is gone is applied again, and an
 * order whose version row is gone starts again at 0. So the retention must be longer than any
 * redelivery can be late: longer than the topic's retention (Kafka's default is 7 days; a
 * consumer group reset to an older offset replays what it finds). Parked rows, and orders with
 * parked rows or parked messages, are kept whatever their age: they wait for an operator.
 */
import { sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import { inbox, orderVersions, parkedMessages } from '../db/schema'

const BATCH = 10_000
/** One pass stops after this many batches, however much is left: the next goes on. */
const MAX_BATCHES = 100

export async function pruneConsumerTables(
  db: Db,
  cutoff: Date,
): Promise<{ inbox: number; orders: number }> {
  const at = cutoff.toISOString()
  const inboxDeleted = await inBatches(() =>
    db.execute(sql`
      delete from ${inbox} where ctid = any(array(
        select ctid from ${inbox}
         where ${inbox.outcome} <> 'parked' and ${inbox.receivedAt} < ${at}
         limit ${BATCH}))`),
  )
  const ordersDeleted = await inBatches(() =>
    db.execute(sql`
      delete from ${orderVersions} where ctid = any(array(
        select v.ctid from ${orderVersions} v
         where v.applied_at < ${at}
           and not exists (select 1 from ${inbox} i
                            where i.order_id = v.order_id and i.outcome = 'parked')
           and not exists (select 1 from ${parkedMessages} p
                            where p.order_id = v.order_id and p.released_at is null)
         limit ${BATCH}))`),
  )
  return { inbox: inboxDeleted, orders: ordersDeleted }
}

async function inBatches(batch: () => Promise<{ count?: number }>): Promise<number> {
  let total = 0
  for (let i = 0; i < MAX_BATCHES; i++) {
    const n = (await batch()).count ?? 0
    total += n
    if (n < BATCH) break
  }
  return total
}
