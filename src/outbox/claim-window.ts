/**
 * The window part of the claim (queries.ts): which rows of the outbox are the window's, as
 * fragments of the claim's statement. `w` holds the window's snapshots, `bounds` its id range.
 */
import type { Q } from './client'
import { sessionIntact } from './locks'

type Range = { lo: number; hi: number }

/** What the window's part of a claim is asked (queries.ts, ClaimRequest). */
type WindowRequest = {
  from: Map<number, string>
  to?: string
  range?: Range
  after: number
  limit: number
}

/** The lower bounds of a window's transaction ids (xid8 as text): below them all is visible. */
export function windowXids(from: Map<number, string>): { xlo: string; xips: string[] } {
  let xlo: bigint | undefined
  const xips = new Set<string>()
  // Usually one snapshot for all 64 partitions: each parsed once.
  for (const snapshot of new Set(from.values())) {
    const [, xmax, xip] = snapshot.split(':')
    const max = BigInt(xmax ?? '0')
    if (xlo === undefined || max < xlo) xlo = max
    for (const x of (xip ?? '').split(',')) if (x !== '') xips.add(x)
  }
  return { xlo: String(xlo ?? 0n), xips: [...xips] }
}

/**
 * `w`: the window's upper snapshot (`s1`), its members' snapshots, each once (usually one for
 * all), which is whose (`slot`, by partition), and whether anything is parked at all.
 */
export function windowSnapshots(q: Q, from: Map<number, string>, to: string | undefined) {
  const snaps = [...new Set(from.values())]
  const slot = Array.from({ length: 64 }, (_, p) => {
    const s = from.get(p)
    return s === undefined ? null : snaps.indexOf(s) + 1
  })
  return q`
    select coalesce(${to ?? null}::pg_snapshot, pg_current_snapshot()) as s1,
           ${snaps}::text[]::pg_snapshot[] as snaps, ${slot}::int[] as slot,
           exists (select 1 from outbox_parked where published_at is null) as parked`
}

/** SQL: the row `alias` is a window member's, visible in `s1` and not in its position. */
export function inWindow(q: Q, alias: string) {
  const t = q(alias)
  return q`(select slot from w)[${t}.partition + 1] is not null
    and pg_visible_in_snapshot(${t}.xid, (select s1 from w))
    and not pg_visible_in_snapshot(${t}.xid, (select snaps from w)[(select slot from w)[${t}.partition + 1]])`
}

/**
 * `bounds`, once per window: the window's rows lie between these ids. Found by transaction id:
 * those running at the lower snapshot (its xip list, exact look-ups) and those after it.
 */
export function windowBounds(q: Q, from: Map<number, string>) {
  const { xlo, xips } = windowXids(from)
  return q`
    select min(c.id) as lo, max(c.id) as hi
      from (select o.id, o.partition, o.xid from outbox o
             where o.xid = any(${xips}::text[]::xid8[])
            union all
            select o.id, o.partition, o.xid from outbox o
             where o.xid >= ${xlo}::xid8
               and o.xid < (select pg_snapshot_xmax(s1) from w)) c
     where ${inWindow(q, 'c')}`
}

/** The window's id range: as the request knows it, else as `bounds` found it. */
export function rangeEnd(q: Q, range: Range | undefined, end: 'lo' | 'hi') {
  return end === 'lo'
    ? q`coalesce(${range?.lo ?? null}::int8, (select lo from bounds))`
    : q`coalesce(${range?.hi ?? null}::int8, (select hi from bounds))`
}

/** The message's columns of the row `alias` (of outbox), named as OutboxMessage names them. */
export function messageColumns(q: Q, alias: string) {
  const t = q(alias)
  return q`${t}.id, ${t}.partition, ${t}.event_id as "eventId", ${t}.event_type as "eventType",
    ${t}.aggregate_type as "aggregateType", ${t}.aggregate_id as "aggregateId", ${t}.payload,
    ${t}.occurred_at as "occurredAt", ${t}.sequence, ${t}.schema_version as "schemaVersion",
    ${t}.traceparent, ${t}.topic, ${t}.headers, ${t}.source`
}

/**
 * The claim while nothing is parked (the common case): the window's next rows and nothing else,
 * in the whole claim's columns (queries.ts) less those of parked events. Postgres sets a
 * statement's plan up anew for every run, and this plan leaves out the parked part. It returns
 * one row even when the window has none (`id` null), to say `anyParked`: then it returned
 * nothing, and the relay claims in full.
 */
export function windowOnlyClaim(q: Q, r: WindowRequest) {
  // Only the message's columns come with every row (each column is parsed per row).
  return q`
    with w as materialized (${windowSnapshots(q, r.from, r.to)}),
    bounds as materialized (${windowBounds(q, r.from)})
    select case when b.n is null or b.n = 1 then (select parked from w) end as "anyParked",
           case when b.n = 1 then ${sessionIntact(q)} end as intact,
           ${messageColumns(q, 'b')},
           case when b.n = 1 then (select s1 from w)::text end as "to",
           case when b.n = 1 then ${rangeEnd(q, r.range, 'lo')} end as lo,
           case when b.n = 1 then ${rangeEnd(q, r.range, 'hi')} end as hi
      from (select 1) one left join lateral (
        select row_number() over (order by o.id) as n, o.*
          from outbox o
         where not (select parked from w)
           and o.id >= ${rangeEnd(q, r.range, 'lo')} and o.id <= ${rangeEnd(q, r.range, 'hi')}
           and o.id > ${r.after}::int8
           and ${inWindow(q, 'o')}
         order by o.id
         limit ${r.limit}) b on true
     order by b.n`
}
