/**
 * The window part of the claim (queries.ts): which rows of the outbox are the window's, as
 * parts of the claim's text (statement.ts: fixed once, the values sent with each run). `w`
 * holds the window's snapshots, `bounds` its id range.
 */
import type { Row } from './claim-result'
import { SESSION_INTACT } from './locks'
import { type Statement, statement } from './statement'

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
function windowXids(from: Map<number, string>): { xlo: string; xips: string[] } {
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

/** The window's parameters, named as the parts below use them. */
export const WINDOW_PARAMETERS = [
  'to',
  'snaps',
  'slot',
  'xips',
  'xlo',
  'lo',
  'hi',
  'after',
  'limit',
] as const

export type WindowParameter = (typeof WINDOW_PARAMETERS)[number]

/** What the values below take from a window's members: the same while its members stand still. */
const ofMembers = new WeakMap<Map<number, string>, ReturnType<typeof members>>()

/** The members' snapshots, each once, and which is whose (`slot`, by partition). */
function members(from: Map<number, string>) {
  const snaps = [...new Set(from.values())]
  const slot = Array.from({ length: 64 }, (_, p) => {
    const s = from.get(p)
    return s === undefined ? null : snaps.indexOf(s) + 1
  })
  return { snaps, slot, ...windowXids(from) }
}

/**
 * Their values for one claim. The members' part is worked out once per `from` map: the relay
 * keeps its plan while nothing moves (src/relay/positions.ts), and claims with it again and again.
 */
export function windowValues(r: WindowRequest) {
  let m = ofMembers.get(r.from)
  if (m === undefined) {
    m = members(r.from)
    ofMembers.set(r.from, m)
  }
  return {
    to: r.to ?? null,
    ...m,
    lo: r.range?.lo ?? null,
    hi: r.range?.hi ?? null,
    after: r.after,
    limit: r.limit,
  }
}

/**
 * `w`: the window's upper snapshot (`s1`), its members' snapshots, each once (usually one for
 * all), which is whose (`slot`, by partition), and whether anything is parked at all.
 */
const WINDOW_SNAPSHOTS = `
    select coalesce(@to::pg_snapshot, pg_current_snapshot()) as s1,
           @snaps::text[]::pg_snapshot[] as snaps, @slot::int[] as slot,
           exists (select 1 from outbox_parked where published_at is null) as parked`

/**
 * SQL: the row `t` is a window member's, visible in `s1` and not in its position. `w` is joined
 * where this is used, not read by a subquery per reference: each such subquery is a step of its
 * own that Postgres sets up on every run, and they were most of an idle claim's plan.
 */
export function inWindow(t: string) {
  return `w.slot[${t}.partition + 1] is not null
    and pg_visible_in_snapshot(${t}.xid, w.s1)
    and not pg_visible_in_snapshot(${t}.xid, w.snaps[w.slot[${t}.partition + 1]])`
}

/**
 * `bounds`, once per window: the window's rows lie between these ids. Found by transaction id:
 * those running at the lower snapshot (its xip list, exact look-ups) and those after it.
 */
const WINDOW_BOUNDS = `
    select min(c.id) as lo, max(c.id) as hi
      from w, (select o.id, o.partition, o.xid from outbox o
                where o.xid = any(@xips::text[]::xid8[])
               union all
               select o.id, o.partition, o.xid from outbox o, w
                where o.xid >= @xlo::xid8 and o.xid < pg_snapshot_xmax(w.s1)) c
     where ${inWindow('c')}`

/** Both claims' first common table expressions: `w`, then `bounds`. */
export const WINDOW_CTES = `w as materialized (${WINDOW_SNAPSHOTS}),
    bounds as materialized (${WINDOW_BOUNDS})`

/** The window's id range: as the request knows it, else as `bounds` (joined) found it. */
export function rangeEnd(end: 'lo' | 'hi') {
  return `coalesce(@${end}::int8, bounds.${end})`
}

/** The message's columns of the row `t` (of outbox), named as OutboxMessage names them. */
export function messageColumns(t: string) {
  return `${t}.id, ${t}.partition, ${t}.event_id as "eventId", ${t}.event_type as "eventType",
    ${t}.aggregate_type as "aggregateType", ${t}.aggregate_id as "aggregateId", ${t}.payload,
    ${t}.occurred_at as "occurredAt", ${t}.sequence, ${t}.schema_version as "schemaVersion",
    ${t}.traceparent, ${t}.topic, ${t}.headers, ${t}.source`
}

/**
 * The claim while nothing is parked (the common case): the window's next rows and nothing else,
 * in the whole claim's columns (queries.ts) less those of parked events. Its plan leaves out the
 * parked part. It returns one row even when the window has none (`id` null), to say
 * `anyParked`: then it returned nothing, and the relay claims in full.
 */
export const WINDOW_ONLY_CLAIM: Statement<WindowParameter, Row> = statement(
  WINDOW_PARAMETERS,
  // Only the message's columns come with every row (each column is parsed per row).
  `
    with ${WINDOW_CTES}
    select case when b.n is null or b.n = 1 then w.parked end as "anyParked",
           case when b.n = 1 then ${SESSION_INTACT} end as intact,
           ${messageColumns('b')},
           case when b.n = 1 then w.s1::text end as "to",
           case when b.n = 1 then ${rangeEnd('lo')} end as lo,
           case when b.n = 1 then ${rangeEnd('hi')} end as hi
      from w cross join bounds left join lateral (
        select row_number() over (order by o.id) as n, o.*
          from outbox o
         where not w.parked
           and o.id >= ${rangeEnd('lo')} and o.id <= ${rangeEnd('hi')}
           and o.id > @after::int8
           and ${inWindow('o')}
         order by o.id
         limit @limit) b on true
     order by b.n`,
)
