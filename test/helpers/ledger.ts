/**
 * The ledger check: what the outbox committed versus what reached the topics.
 * Events inserted by these helpers carry a per-aggregate `seq` in their payload, so
 * per-aggregate order can be checked on the consumer side. An aggregate is its type and id: the
 * same id under two types is two aggregates, on two topics.
 */
import { randomUUID } from 'node:crypto'
import type postgres from 'postgres'
import type { Collector } from './kafka'

const lastSeq = new Map<string, number>()

/**
 * Inserts `perOrder` events for each aggregate (by default of type `orders`), one transaction
 * per round; `seq` continues from the aggregate's previous events, so repeated calls keep
 * extending each one's sequence.
 */
export async function insertOrderEvents(
  sql: postgres.Sql,
  orderIds: string[],
  perOrder: number,
  options: { created?: boolean; aggregateType?: string } = {},
): Promise<void> {
  const type = options.aggregateType ?? 'orders'
  const key = (id: string) => `${type}/${id}`
  // Orders created through the API already have their OrderCreated as seq 1.
  if (options.created)
    for (const o of orderIds) lastSeq.set(key(o), Math.max(lastSeq.get(key(o)) ?? 0, 1))
  const eventType = type === 'orders' ? 'OrderUpdated' : 'Updated'
  for (let round = 0; round < perOrder; round++) {
    const seqs = orderIds.map((o) => {
      const next = (lastSeq.get(key(o)) ?? 0) + 1
      lastSeq.set(key(o), next)
      return next
    })
    await sql`
      insert into outbox (event_type, aggregate_type, aggregate_id, payload)
      select ${eventType}, ${type}, o, jsonb_build_object('seq', s)
        from unnest(${orderIds}::text[], ${seqs}::int[]) as t(o, s)`
  }
}

export const newOrderIds = (n: number) => Array.from({ length: n }, () => randomUUID())

export type LedgerReport = {
  committed: number
  delivered: number
  missing: string[]
  duplicates: number
  outOfOrder: string[]
}

/**
 * Compares committed outbox events with the messages the collectors received (one collector
 * per topic: an aggregate is checked within its topic, by its key).
 */
export async function ledger(
  sql: postgres.Sql,
  collectors: Collector | Collector[],
): Promise<LedgerReport> {
  const streams = Array.isArray(collectors) ? collectors : [collectors]
  const rows = await sql<{ event_id: string }[]>`select event_id from outbox`
  const seen = new Set(streams.flatMap((c) => [...c.byEventId().keys()]))
  const missing = rows.map((r) => r.event_id).filter((id) => !seen.has(id))
  const received = streams.flatMap((c, topic) => c.messages.map((m) => ({ ...m, topic })))
  const duplicates = received.length - seen.size
  // Per aggregate: the first delivery of each event, in arrival order, must have increasing seq.
  const firstSeqs = new Map<string, number[]>()
  const counted = new Set<string>()
  for (const m of received) {
    const id = m.headers.ce_id ?? ''
    if (counted.has(id)) continue
    counted.add(id)
    // An OrderCreated event (the API's) carries no seq: it is its order's first event.
    const seq =
      (m.value as { seq?: number }).seq ?? (m.headers.ce_type === 'OrderCreated' ? 1 : undefined)
    if (seq === undefined) continue
    const aggregate = `${m.topic}/${m.key}`
    firstSeqs.set(aggregate, [...(firstSeqs.get(aggregate) ?? []), seq])
  }
  const outOfOrder = [...firstSeqs.entries()]
    .filter(([, seqs]) => seqs.some((s, i) => i > 0 && s < (seqs[i - 1] ?? 0)))
    .map(([key, seqs]) => `${key}: ${seqs.join(',')}`)
  return { committed: rows.length, delivered: seen.size, missing, duplicates, outOfOrder }
}

export async function unpublishedCount(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from outbox_unpublished`
  return row?.n ?? -1
}

/**
 * Whether every partition's stored position has passed transaction `xid`, and when positions
 * were last stored. Two looks at one row: a count of what is unpublished would read the
 * backlog and steal the relay's CPU.
 */
export async function positionsPassed(
  sql: postgres.Sql,
  xid: string,
): Promise<{ done: boolean; at: number }> {
  const [row] = await sql<{ done: boolean; at: number }[]>`
    select (select bool_and(pg_visible_in_snapshot(${xid}::xid8, s)) from unnest(snapshots) s)
             as done,
           extract(epoch from updated_at) * 1000 as at
      from outbox_position`
  return row ?? { done: false, at: Number.NaN }
}
