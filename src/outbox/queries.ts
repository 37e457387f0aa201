/**
 * The relay's claim: one statement that returns what to publish next. Publishing writes nothing
 * into the outbox: the relay keeps a position per partition (a snapshot: src/relay/positions.ts
 * owns them, position-queries.ts stores them) and claims the rows of a window, those whose
 * writing transaction is visible in the window's snapshot `to` and not in the partition's
 * position, in id order. Failed, dead and held-back events live in outbox_parked (parked.ts).
 * The statement is built from the named parts below, in the order they run.
 */

import { type ClaimResult, type Row, toResult } from './claim-result'
import {
  inWindow,
  messageColumns,
  rangeEnd,
  WINDOW_CTES,
  WINDOW_ONLY_CLAIM,
  WINDOW_PARAMETERS,
  windowValues,
} from './claim-window'
import type { Q } from './client'
import { SESSION_INTACT } from './locks'
import { heldBack } from './parked'
import { run, type Statement, statement } from './statement'

export type { ClaimedMessage, ClaimResult } from './claim-result'

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
  /** KAFKA_TOPIC_TEMPLATE: each message is routed here, once (routing.ts). */
  topicTemplate: string
  /** Claim the window only, if nothing is parked (claim-window.ts: WINDOW_ONLY_CLAIM). */
  windowOnly?: boolean
}

export async function claim(q: Q, r: ClaimRequest): Promise<ClaimResult> {
  const values = windowValues(r)
  if (r.windowOnly) {
    const rows = await run(q, WINDOW_ONLY_CLAIM, values)
    if (rows[0]?.anyParked) return { ...toResult([], r), parkedFound: true }
    return toResult(rows[0]?.id == null ? [] : rows, r)
  }
  const rows = await run(q, FULL_CLAIM, {
    ...values,
    owned: r.owned,
    in_flight: r.inFlight,
  })
  return toResult(rows, r)
}

/**
 * `win`: the window's next rows after `after`, each with the id of a parked event of its
 * aggregate not yet out (`held`; null if none): the first, as outbox_parked_open_idx returns
 * them in id order. An ORDER BY here made the planner walk the primary key instead, reading
 * every parked row per window row when one aggregate's held rows are most of the table.
 */
const WINDOW_ROWS = `
    select h.first as held, ${messageColumns('o')}, 0 as attempts
      from w cross join bounds cross join outbox o
      -- A probe of outbox_parked_open_idx per row, and none while nothing is parked: an IN list
      -- here is read whole by every claim (a hashed subplan), a poison storm's every dead letter.
      -- The event found is locked (shared) to the claim's end: an operator's discard of it
      -- waits, and then releases what this claim held behind it (held.ts); one already
      -- discarded is passed over for the next.
      left join lateral (
        select x.id as first from outbox_parked x
         where w.parked
           and x.aggregate_type = o.aggregate_type and x.aggregate_id = o.aggregate_id
           and x.published_at is null
         limit 1
           for share) h on true
     where o.id >= ${rangeEnd('lo')} and o.id <= ${rangeEnd('hi')}
       and o.id > @after::int8
       and ${inWindow('o')}
     order by o.id
     limit @limit`

/**
 * `park`: window rows of an aggregate with a parked event are parked too; `held` (out of the
 * claim's way until released) if the event found precedes them. Otherwise the next claim takes
 * the row from outbox_parked, and the hold-back check there keeps it behind any earlier event
 * that is dead or waiting.
 */
const PARK_HELD_BACK = `
    insert into outbox_parked (id, partition, aggregate_type, aggregate_id, event_id, held)
    select id, partition, "aggregateType", "aggregateId", "eventId", held < id
      from win where held is not null
    on conflict (id) do nothing`

/** `ready`: parked events whose time has come, with nothing earlier of their aggregate in the way. */
const READY_PARKED = `
    select null::int8 as held, ${messageColumns('o')}, x.attempts
      from outbox_parked x join outbox o on o.id = x.id
     where x.published_at is null and x.dead_at is null and not x.held
       and x.partition = any(@owned::int[])
       and (x.next_attempt_at is null or x.next_attempt_at <= now())
       and x.id <> all(@in_flight::int8[])
       and not ${heldBack('x')}
     order by x.id
     limit @limit`

const FULL_PARAMETERS = [...WINDOW_PARAMETERS, 'owned', 'in_flight'] as const

/** The whole claim: parked events whose time has come, then the window's rows. */
const FULL_CLAIM: Statement<(typeof FULL_PARAMETERS)[number], Row> = statement(
  FULL_PARAMETERS,
  `
    with ${WINDOW_CTES},
    win as materialized (${WINDOW_ROWS}),
    park as (${PARK_HELD_BACK}),
    ready as (${READY_PARKED})
    -- Parked events first, then the window's rows; the columns read once, no second look-up.
    -- What is the claim's, not a row's, comes with the first row only: sent and parsed once.
    select case when row_number() over byId = 1 then ${SESSION_INTACT} end as intact,
           b.*,
           case when row_number() over byId = 1 then w.s1::text end as "to",
           case when row_number() over byId = 1 then ${rangeEnd('lo')} end as lo,
           case when row_number() over byId = 1 then ${rangeEnd('hi')} end as hi
      from w cross join bounds cross join (
            select 0 as src, * from ready
            union all
            select 1, * from win
            order by 1, 3
            limit @limit) b
    window byId as (order by b.src, b.id)
     order by b.src, b.id`,
)
