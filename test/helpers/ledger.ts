/**
 * The ledger check: what the outbox committed versus what reached the topic.
 * Events inserted by these helpers carry a per-order `seq` in their payload, so per-order
 * order can be checked on the consumer side.
 */
import { randomUUID } from 'node:crypto'
import type postgres from 'postgres'
import type { Collector } from './kafka'

const lastSeq = new Map<string, number>()

/**
 * Inserts `perOrder` events for each order, one transaction per round; `seq` continues from
 * the order's previous events, so repeated calls keep extending each order's sequence.
 */
export async function insertOrderEvents(
  sql: postgres.Sql,
  orderIds: string[],
  perOrder: number,
  options: { created?: boolean } = {},
): Promise<void> {
  // Orders created through the API already have their OrderCreated as seq 1.
  if (options.created) for (const o of orderIds) lastSeq.set(o, Math.max(lastSeq.get(o) ?? 0, 1))
  for (let round = 0; round < perOrder; round++) {
    const seqs = orderIds.map((o) => {
      const next = (lastSeq.get(o) ?? 0) + 1
      lastSeq.set(o, next)
      return next
    })
    await sql`
      insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
      select gen_random_uuid(), 'OrderUpdated', o, jsonb_build_object('seq', s), now()
        from unnest(${orderIds}::uuid[], ${seqs}::int[]) as t(o, s)`
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

/** Compares committed outbox events with the messages the collector received. */
export async function ledger(sql: postgres.Sql, collector: Collector): Promise<LedgerReport> {
  const rows = await sql<{ event_id: string }[]>`select event_id from outbox`
  const seen = collector.byEventId()
  const missing = rows.map((r) => r.event_id).filter((id) => !seen.has(id))
  const duplicates = collector.messages.length - seen.size
  // Per order: the first delivery of each event, in arrival order, must have increasing seq.
  const firstSeqs = new Map<string, number[]>()
  const counted = new Set<string>()
  for (const m of collector.messages) {
    const id = m.headers.ce_id ?? ''
    if (counted.has(id)) continue
    counted.add(id)
    // An OrderCreated event (the API's) carries no seq: it is its order's first event.
    const seq =
      (m.value as { seq?: number }).seq ?? (m.headers.ce_type === 'OrderCreated' ? 1 : undefined)
    if (seq === undefined) continue
    firstSeqs.set(m.key, [...(firstSeqs.get(m.key) ?? []), seq])
  }
  const outOfOrder = [...firstSeqs.entries()]
    .filter(([, seqs]) => seqs.some((s, i) => i > 0 && s < (seqs[i - 1] ?? 0)))
    .map(([key, seqs]) => `${key}: ${seqs.join(',')}`)
  return { committed: rows.length, delivered: seen.size, missing, duplicates, outOfOrder }
}

export async function unpublishedCount(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<
    { n: number }[]
  >`select count(*)::int as n from outbox where published_at is null`
  return row?.n ?? -1
}
