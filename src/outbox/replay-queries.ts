/**
 * Replay's SQL (docs/operations.md, "Replay"). A run is a row of outbox_replay: its filters, its
 * target, the outbox's highest id when it was made (`upto_id`: it never grows with live traffic)
 * and its position (`after_id`). Events are read in id order, so each aggregate's replayed events
 * go out in their original order. Only published events are replayed: a pending or dead one
 * belongs to the relay, and a replay must not overtake it.
 */
import type postgres from 'postgres'
import type { Q } from './client'
import { LOCK } from './locks'
import type { OutboxMessage } from './message'
import { routedTopicSql, routeOf } from './routing'

/** What a run replays; every filter optional, all of them must hold. Times are ISO strings. */
export type ReplayFilters = {
  since?: string
  until?: string
  aggregateType?: string
  aggregateId?: string
  eventType?: string
  /** The topic the events went to (their own, or the template's for their type). */
  topic?: string
}

export type ReplayRun = {
  id: number
  createdAt: Date
  updatedAt: Date
  filters: ReplayFilters
  toTopic: string | null
  uptoId: number
  afterId: number
  total: number
  done: number
  doneByTopic: Record<string, number>
  status: 'running' | 'done' | 'cancelled'
}

/** An event as a replay reads it (routed): every column of the message, none left out. */
export type ReplayEvent = Required<OutboxMessage>

/**
 * Published, for `outbox o`: passed by its partition's stored position (drizzle/0016), or, if it
 * was ever parked, published from there (a discarded one never was). Rows from before positions
 * (xid NULL) that were not parked had been published already.
 */
const published = (q: Q) => q`
  case when not exists (select 1 from outbox_parked x where x.id = o.id)
       then o.xid is null
            or pg_visible_in_snapshot(o.xid, (select snapshots[o.partition + 1] from outbox_position))
       else exists (select 1 from outbox_parked x
                     where x.id = o.id and x.published_at is not null and x.dead_at is null) end`

/** The filters over `outbox o`, read from a jsonb of ReplayFilters (`f`). */
const matches = (q: Q, f: postgres.Fragment, template: string) => q`
  ${published(q)}
  and (${f}->>'since' is null or o.occurred_at >= (${f}->>'since')::timestamptz)
  and (${f}->>'until' is null or o.occurred_at < (${f}->>'until')::timestamptz)
  and (${f}->>'aggregateType' is null or o.aggregate_type = ${f}->>'aggregateType')
  and (${f}->>'aggregateId' is null or o.aggregate_id = ${f}->>'aggregateId')
  and (${f}->>'eventType' is null or o.event_type = ${f}->>'eventType')
  and (${f}->>'topic' is null or ${routedTopicSql(q, template, 'o')} = ${f}->>'topic')`

/** Events a run with these filters would replay, by the topic they went to and their type. */
export async function countReplayable(
  q: Q,
  filters: ReplayFilters,
  template: string,
): Promise<{ uptoId: number; counts: { topic: string; eventType: string; n: number }[] }> {
  const f = q`${q.json(filters)}::jsonb`
  const [top] = await q<{ id: string | null }[]>`select max(id) as id from outbox`
  const uptoId = Number(top?.id ?? 0)
  const counts = await q<{ topic: string; eventType: string; n: number }[]>`
    select ${routedTopicSql(q, template, 'o')} as topic, o.event_type as "eventType", count(*)::int as n
      from outbox o
     where o.id <= ${uptoId} and ${matches(q, f, template)}
     group by 1, 2 order by 1, 2`
  return { uptoId, counts }
}

/** The oldest event still kept, published or not (retention deletes the oldest published). */
export async function oldestKept(q: Q): Promise<Date | undefined> {
  const [row] = await q<{ at: Date | null }[]>`select min(occurred_at) as at from outbox`
  return row?.at ?? undefined
}

export async function createRun(
  q: Q,
  run: { filters: ReplayFilters; toTopic: string | null; uptoId: number; total: number },
): Promise<number> {
  const [row] = await q<{ id: number }[]>`
    insert into outbox_replay (filters, to_topic, upto_id, total)
    values (${q.json(run.filters)}, ${run.toTopic}, ${run.uptoId}, ${run.total})
    returning id`
  if (!row) throw new Error('insert returned no row')
  return row.id
}

const runColumns = (q: Q) => q`
  id, created_at as "createdAt", updated_at as "updatedAt", filters, to_topic as "toTopic",
  upto_id::float8 as "uptoId", after_id::float8 as "afterId", total, done,
  done_by_topic as "doneByTopic", status`

export async function readRun(q: Q, id: number): Promise<ReplayRun | undefined> {
  const [row] = await q<ReplayRun[]>`select ${runColumns(q)} from outbox_replay where id = ${id}`
  return row
}

/** The runs, newest first. */
export async function listRuns(q: Q, limit = 50): Promise<ReplayRun[]> {
  return q<ReplayRun[]>`
    select ${runColumns(q)} from outbox_replay order by id desc limit ${limit}`
}

/** The run's next events after its position, in id order. */
export async function nextReplayBatch(
  q: Q,
  id: number,
  limit: number,
  template: string,
): Promise<ReplayEvent[]> {
  const rows = await q<
    (Omit<ReplayEvent, 'id' | 'topic'> & { id: string; topic: string | null })[]
  >`
    select o.id, o.event_id as "eventId", o.event_type as "eventType",
           o.aggregate_type as "aggregateType", o.aggregate_id as "aggregateId", o.payload,
           o.occurred_at as "occurredAt", o.sequence, o.schema_version as "schemaVersion",
           o.traceparent, o.topic, o.headers, o.source
      from outbox_replay r
      join outbox o on o.id > r.after_id and o.id <= r.upto_id
     where r.id = ${id} and ${matches(q, q`r.filters`, template)}
     order by o.id
     limit ${limit}`
  return rows.map((r) => ({ ...r, id: Number(r.id), topic: routeOf(r, template) }))
}

/**
 * Moves the position past an acknowledged batch, with the run's new counts; returns the run's
 * status after it (an operator may have cancelled it meanwhile: a cancelled run does not move).
 * One process drives a run at a time (its replay lock), so the counts are its to write.
 */
export async function advanceRun(
  q: Q,
  id: number,
  to: { afterId: number; done: number; doneByTopic: Record<string, number> },
): Promise<ReplayRun['status'] | undefined> {
  const [row] = await q<{ status: ReplayRun['status'] }[]>`
    update outbox_replay
       set after_id = ${to.afterId}, done = ${to.done}, done_by_topic = ${q.json(to.doneByTopic)},
           updated_at = now()
     where id = ${id} and status = 'running'
     returning status`
  return row?.status ?? (await readRun(q, id))?.status
}

/** Takes the run for this session (session-level lock), or says another process has it. */
export async function lockRun(q: Q, id: number): Promise<boolean> {
  const [row] = await q<{ ok: boolean }[]>`select pg_try_advisory_lock(${LOCK.replay}, ${id}) as ok`
  return row?.ok ?? false
}

/** Ends a run: `done` when it ran out of events, `cancelled` by an operator. */
export async function endRun(
  q: Q,
  id: number,
  status: 'done' | 'cancelled',
): Promise<ReplayRun['status'] | undefined> {
  const [row] = await q<{ status: ReplayRun['status'] }[]>`
    update outbox_replay set status = ${status}, updated_at = now()
     where id = ${id} and status = 'running'
     returning status`
  return row?.status
}
