/** Reading and writing outbox_position: one row per relay partition (drizzle/0016). */
import type { Q } from './queries'

/** Where a partition's publishing stands: see outboxPosition in src/db/schema.ts. */
export type Position = {
  /** Every event of the partition visible in this snapshot is published or parked. */
  snapshot: string
  /** Part way through a window: its events up to id `after` are too. */
  window?: { to: string; after: number }
}

export async function loadPositions(q: Q, partitions: number[]): Promise<Map<number, Position>> {
  const rows = await q<{ partition: number; snapshot: string; upto: string | null; after: string }[]>`
    select partition, snapshot::text, upto::text, after_id::text as after from outbox_position
     where partition = any(${partitions}::int[])`
  return new Map(
    rows.map((r) => [
      r.partition,
      {
        snapshot: r.snapshot,
        window: r.upto === null ? undefined : { to: r.upto, after: Number(r.after) },
      },
    ]),
  )
}

/**
 * Writes positions, only while this is still the session `pid` that owns them: one that was
 * replaced under the relay (postgres.js reconnects silently) has lost its partitions. Every
 * position written is true when written and stays true, so a late write can only make a new
 * owner publish some events again, never skip one.
 */
export async function storePositions(
  q: Q,
  pid: number,
  positions: Map<number, Position>,
): Promise<void> {
  if (positions.size === 0) return
  const parts = [...positions.keys()]
  const all = [...positions.values()]
  await q`
    update outbox_position p
       set snapshot = v.snapshot::pg_snapshot, upto = v.upto::pg_snapshot,
           after_id = v.after_id, updated_at = now()
      from unnest(${parts}::int[], ${all.map((x) => x.snapshot)}::text[],
                  ${all.map((x) => x.window?.to ?? null)}::text[],
                  ${all.map((x) => x.window?.after ?? 0)}::int8[]) as v(partition, snapshot, upto, after_id)
     where p.partition = v.partition and pg_backend_pid() = ${pid}`
}
