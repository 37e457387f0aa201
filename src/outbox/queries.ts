/**
 * The relay's claim: one statement that returns what to publish next. Publishing writes nothing
 * into the outbox: the relay keeps a position per partition (a snapshot: src/relay/positions.ts
 * owns them, position-queries.ts stores them) and claims the rows of a window, those whose
 * writing transaction is visible in the window's snapshot `to` and not in the partition's
 * position, in id order. Failed, dead and held-back events live in outbox_parked (parked.ts).
 */
import type postgres from 'postgres'
import { LOCK } from './locks'
import type { OutboxMessage } from './message'

export type Q = postgres.TransactionSql | postgres.Sql

export type ClaimedMessage = OutboxMessage & {
  attempts: number
  /** Came from outbox_parked (a retry, or held back before): its state there is updated. */
  parked: boolean
  partition: number
}

/** Which rows a claim asks for: a window of the owned partitions, and parked events. */
export type ClaimRequest = {
  /** Partitions whose parked events may be claimed (all those owned). */
  owned: number[]
  /** The window's members: partition -> its position's snapshot (the window's lower end). */
  from: Map<number, string>
  /** The window's upper snapshot; undefined: a new window, up to the statement's snapshot. */
  to?: string
  /** Ids of the window's rows lie in [lo, hi]; undefined: computed (once per window). */
  range?: { lo: number; hi: number }
  /** Window rows up to this id were claimed already. */
  after: number
  /** Parked events being published right now: left out. */
  inFlight: number[]
  limit: number
}

export type ClaimResult = {
  /**
   * The partitions whose owner lock the claiming backend holds, read in the claim itself, so
   * the relay proves it still owns what it claimed (session.ts); undefined when no row came.
   */
  held?: number[] | null
  /** To publish, in order: parked events first, then the window's rows not held back. */
  messages: ClaimedMessage[]
  /** The window's snapshot (undefined when a new window found nothing at all). */
  to?: string
  range?: { lo: number; hi: number }
  /** Rows of the window claimed (held back ones included), and the last one's id. */
  windowRows: number
  lastWindowId?: number
  /** Fewer window rows than there was room for: the window is done. */
  exhausted: boolean
}

type Row = Omit<ClaimedMessage, 'id'> & {
  id: string
  held: boolean
  ownerLocks: number[] | null
  src: number
  to: string
  lo: string | null
  hi: string | null
}

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

/** The lower bounds of a window's transaction ids (xid8 as text): below them all is visible. */
export function windowXids(from: Map<number, string>): { xlo: string; xips: string[] } {
  let xlo: bigint | undefined
  const xips = new Set<string>()
  for (const snapshot of from.values()) {
    const [, xmax, xip] = snapshot.split(':')
    const max = BigInt(xmax ?? '0')
    if (xlo === undefined || max < xlo) xlo = max
    for (const x of (xip ?? '').split(',')) if (x !== '') xips.add(x)
  }
  return { xlo: String(xlo ?? 0n), xips: [...xips] }
}

export async function claim(q: Q, r: ClaimRequest): Promise<ClaimResult> {
  // The members' snapshots, each once (usually one for all), and which is whose.
  const snaps = [...new Set(r.from.values())]
  const slot = Array.from({ length: 64 }, (_, p) => {
    const s = r.from.get(p)
    return s === undefined ? null : snaps.indexOf(s) + 1
  })
  const { xlo, xips } = windowXids(r.from)
  const rows = await q<Row[]>`
    with w as materialized (
      select coalesce(${r.to ?? null}::pg_snapshot, pg_current_snapshot()) as s1,
             ${snaps}::text[]::pg_snapshot[] as snaps, ${slot}::int[] as slot
    ), bounds as materialized (
      -- Once per window: the window's rows lie between these ids. Found by transaction id: those
      -- running at the lower snapshot (its xip list, exact look-ups) and those after it.
      select min(c.id) as lo, max(c.id) as hi
        from (select o.id, o.partition, o.xid from outbox o
               where o.xid = any(${xips}::text[]::xid8[])
              union all
              select o.id, o.partition, o.xid from outbox o
               where o.xid >= ${xlo}::xid8
                 and o.xid < (select pg_snapshot_xmax(s1) from w)) c
       where (select slot from w)[c.partition + 1] is not null
         and pg_visible_in_snapshot(c.xid, (select s1 from w))
         and not pg_visible_in_snapshot(c.xid, (select snaps from w)[(select slot from w)[c.partition + 1]])
    ), win as materialized (
      select o.id, o.partition, o.aggregate_type, o.aggregate_id, o.event_id, o.event_type,
             o.payload, o.occurred_at, o.sequence, o.schema_version, o.traceparent, o.topic,
             o.headers, o.source,
             (o.aggregate_type, o.aggregate_id) in (
               select aggregate_type, aggregate_id from outbox_parked where published_at is null
             ) as held
        from outbox o
       where o.id >= coalesce(${r.range?.lo ?? null}::int8, (select lo from bounds))
         and o.id <= coalesce(${r.range?.hi ?? null}::int8, (select hi from bounds))
         and o.id > ${r.after}::int8
         and (select slot from w)[o.partition + 1] is not null
         and pg_visible_in_snapshot(o.xid, (select s1 from w))
         and not pg_visible_in_snapshot(o.xid, (select snaps from w)[(select slot from w)[o.partition + 1]])
       order by o.id
       limit ${r.limit}
    ), park as (
      -- Held back behind a parked event of their aggregate: parked too, behind it.
      insert into outbox_parked (id, partition, aggregate_type, aggregate_id, event_id)
      select id, partition, aggregate_type, aggregate_id, event_id from win where held
      on conflict (id) do nothing
    ), ready as (
      select o.id, o.partition, o.aggregate_type, o.aggregate_id, o.event_id, o.event_type,
             o.payload, o.occurred_at, o.sequence, o.schema_version, o.traceparent, o.topic,
             o.headers, o.source, x.attempts
        from outbox_parked x join outbox o on o.id = x.id
       where x.published_at is null and x.dead_at is null
         and x.partition = any(${r.owned}::int[])
         and (x.next_attempt_at is null or x.next_attempt_at <= now())
         and x.id <> all(${r.inFlight}::int8[])
         and not exists (
               select 1 from outbox_parked e
                where e.aggregate_type = x.aggregate_type and e.aggregate_id = x.aggregate_id
                  and e.id < x.id and e.published_at is null
                  and (e.dead_at is not null or e.next_attempt_at > now()))
       order by x.id
       limit ${r.limit}
    )
    -- Parked events first, then the window's rows; the columns read once, no second look-up.
    select ${heldOwnerLocks(q)} as "ownerLocks", b.*, (select s1 from w)::text as "to",
           coalesce(${r.range?.lo ?? null}::int8, (select lo from bounds)) as lo,
           coalesce(${r.range?.hi ?? null}::int8, (select hi from bounds)) as hi
      from (select 0 as src, false as held, ready.id, ready.partition, ready.event_id as "eventId", ready.event_type as "eventType",
                   ready.aggregate_type as "aggregateType", ready.aggregate_id as "aggregateId",
                   ready.payload, ready.occurred_at as "occurredAt", ready.sequence,
                   ready.schema_version as "schemaVersion", ready.traceparent, ready.topic, ready.headers, ready.source, ready.attempts
              from ready
            union all
            select 1, win.held, win.id, win.partition, win.event_id as "eventId", win.event_type as "eventType",
                   win.aggregate_type as "aggregateType", win.aggregate_id as "aggregateId",
                   win.payload, win.occurred_at as "occurredAt", win.sequence,
                   win.schema_version as "schemaVersion", win.traceparent, win.topic, win.headers, win.source, 0
              from win
            order by 1, 3
            limit ${r.limit}) b
     order by b.src, b.id`
  return toResult(rows, r.limit)
}

function toResult(rows: Row[], limit: number): ClaimResult {
  // One pass, and the row objects reused as messages: a batch is up to RELAY_BATCH_SIZE rows.
  const first = rows[0] && {
    ownerLocks: rows[0].ownerLocks,
    to: rows[0].to,
    lo: rows[0].lo,
    hi: rows[0].hi,
  }
  const messages: ClaimedMessage[] = []
  let parked = 0
  let windowRows = 0
  let lastWindowId: number | undefined
  for (const row of rows) {
    const message = row as unknown as Record<string, unknown>
    message.id = Number(row.id)
    message.parked = row.src === 0
    if (row.src === 0) parked++
    else {
      windowRows++
      lastWindowId = Number(row.id)
    }
    const held = row.held
    delete message.held
    delete message.ownerLocks
    delete message.src
    delete message.to
    delete message.lo
    delete message.hi
    if (!held) messages.push(message as unknown as ClaimedMessage)
  }
  return {
    held: first === undefined ? undefined : first.ownerLocks,
    messages,
    to: first?.to,
    range:
      first?.lo != null && first.hi != null
        ? { lo: Number(first.lo), hi: Number(first.hi) }
        : undefined,
    windowRows,
    lastWindowId,
    exhausted: windowRows < limit - parked,
  }
}

export { earliestRetry } from './parked'
