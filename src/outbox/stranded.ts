/**
 * What no relay can fix on its own (docs/outbox.md, "What the relay does not support"): rows it
 * will never claim, and prepared transactions that keep partitions from going to sleep. Read by
 * `npm run outbox -- status` and the relay's gauges; the operator acts on both.
 */
import type postgres from 'postgres'
import { LOCK } from './locks'

export type Stranded = {
  /**
   * Rows without an `xid`, written with the trigger off after the oldest row the relay reads:
   * never claimed. Rows kept from before drizzle/0016 have no xid either, and are not counted.
   */
  unclaimable: number
  /** Partitions whose trace lock a prepared transaction holds: they cannot go to sleep. */
  preparedPartitions: number[]
  /** Prepared transactions of this database, oldest first (pg_locks cannot tell which holds what). */
  prepared: { gid: string; prepared: Date }[]
}

/**
 * A prepared transaction's locks stay in pg_locks with no pid: no backend holds them any more.
 * Two small index reads and two catalog views; cheap enough for a scrape.
 */
export async function readStranded(sql: postgres.Sql): Promise<Stranded> {
  const [row] = await sql<{ unclaimable: number; partitions: number[] }[]>`
    select (select count(*)::int from outbox
             where xid is null
               and id > (select id from outbox where xid is not null order by xid limit 1))
             as unclaimable,
           (select coalesce(array_agg(distinct objid::int order by objid::int), '{}')
              from pg_locks
             where locktype = 'advisory' and pid is null and classid = ${LOCK.trace}
               and objsubid = 2
               and database = (select oid from pg_database where datname = current_database()))
             as partitions`
  const prepared = await sql<{ gid: string; prepared: Date }[]>`
    select gid, prepared from pg_prepared_xacts
     where database = current_database() order by prepared`
  return {
    unclaimable: row?.unclaimable ?? 0,
    preparedPartitions: row?.partitions ?? [],
    prepared: [...prepared],
  }
}
