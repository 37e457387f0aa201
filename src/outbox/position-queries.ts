/**
 * Reading and writing outbox_position (drizzle/0016): one row, an array element per relay
 * partition, so that storing a relay's positions is one row version however many partitions
 * it owns. Relays owning different partitions update the same row: each rewrites only its own
 * elements, from the row's latest version (an UPDATE that waited re-reads it).
 */
import type { Q } from './client'
import { heldOwnerLocks } from './locks'

/** Where a partition's publishing stands: see outboxPosition in src/db/schema.ts. */
export type Position = {
  /** Every event of the partition visible in this snapshot is published or parked. */
  snapshot: string
  /** Part way through a window: its events up to id `after` are too. */
  window?: { to: string; after: number }
}

export async function loadPositions(q: Q, partitions: number[]): Promise<Map<number, Position>> {
  const rows = await q<
    { partition: number; snapshot: string; upto: string | null; after: string }[]
  >`
    select p as partition, snapshots[p + 1]::text as snapshot, uptos[p + 1]::text as upto,
           afters[p + 1]::text as after
      from outbox_position, unnest(${partitions}::int[]) p`
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
 * Writes positions, only while this is still the session `pid` that owns them (one replaced
 * under the relay, as postgres.js reconnects silently, has lost its partitions), and only of the
 * partitions whose owner lock that session holds as the statement runs: locks released on the
 * same backend (DISCARD ALL) must not let a store overwrite the new owner's newer positions.
 * Every position written is true when written, so a late write can only make a new owner
 * publish some events again, never skip one.
 */
export async function storePositions(
  q: Q,
  pid: number,
  positions: Map<number, Position>,
): Promise<void> {
  if (positions.size === 0) return
  const parts = [...positions.keys()]
  const all = [...positions.values()]
  // One pass over the 64 elements: this relay's partitions get their new values, the others
  // keep theirs, read from the row's latest version.
  await q`
    update outbox_position o
       set (snapshots, uptos, afters) = (
             select array_agg(coalesce(v.snapshot::pg_snapshot, o.snapshots[i]) order by i),
                    array_agg(case when v.p is null then o.uptos[i] else v.upto::pg_snapshot end
                              order by i),
                    array_agg(coalesce(v.after_id, o.afters[i]) order by i)
               from generate_series(1, 64) i
               left join unnest(${parts}::int[], ${all.map((x) => x.snapshot)}::text[],
                                ${all.map((x) => x.window?.to ?? null)}::text[],
                                ${all.map((x) => x.window?.after ?? 0)}::int8[])
                      as v(p, snapshot, upto, after_id)
                   on v.p + 1 = i and v.p = any(coalesce(${heldOwnerLocks(q)}, '{}'))),
           updated_at = now()
     where pg_backend_pid() = ${pid}`
}
