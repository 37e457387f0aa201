/**
 * Exact counters for the `cost` scenario (cost.ts): WAL from pg_current_wal_lsn() deltas and
 * pg_stat_wal, row versions from pg_stat_user_tables, buffers from pg_statio_user_tables and
 * pg_statio_user_indexes. Counters of other backends reach the shared statistics only when those
 * backends flush them (at the latest when they close), so a phase closes its clients before
 * reading, and a single statement's buffers are flushed on purpose (pg_stat_force_next_flush).
 */
import type postgres from 'postgres'

export type Wal = { lsn: string; bytes: number; records: number; fpi: number }
export type TableCounts = Record<
  string,
  { ins: number; upd: number; hot: number; del: number; dead: number }
>

export async function readWal(sql: postgres.Sql): Promise<Wal> {
  const [row] = await sql<{ lsn: string; records: string; fpi: string }[]>`
    select pg_current_wal_lsn()::text as lsn, wal_records::text as records, wal_fpi::text as fpi
      from pg_stat_wal`
  if (!row) throw new Error('pg_stat_wal returned no row')
  return { lsn: row.lsn, bytes: 0, records: Number(row.records), fpi: Number(row.fpi) }
}

/** WAL written between two readings, by the whole server (nothing else runs meanwhile). */
export async function walBetween(sql: postgres.Sql, a: Wal, b: Wal): Promise<Wal> {
  const [row] = await sql<{ bytes: string }[]>`
    select pg_wal_lsn_diff(${b.lsn}::pg_lsn, ${a.lsn}::pg_lsn)::text as bytes`
  return {
    lsn: b.lsn,
    bytes: Number(row?.bytes),
    records: b.records - a.records,
    fpi: b.fpi - a.fpi,
  }
}

/** Row counters of every user table of this database, read fresh (not a cached snapshot). */
export async function readTables(sql: postgres.Sql): Promise<TableCounts> {
  const rows = await sql.begin(async (tx) => {
    await tx`select pg_stat_clear_snapshot()`
    return tx<{ name: string; ins: string; upd: string; hot: string; del: string; dead: string }[]>`
      select relname as name, n_tup_ins::text as ins, n_tup_upd::text as upd,
             n_tup_hot_upd::text as hot, n_tup_del::text as del, n_dead_tup::text as dead
        from pg_stat_user_tables where schemaname = 'public'`
  })
  return Object.fromEntries(
    rows.map((r) => [
      r.name,
      { ins: +r.ins, upd: +r.upd, hot: +r.hot, del: +r.del, dead: +r.dead },
    ]),
  )
}

export function tablesBetween(a: TableCounts, b: TableCounts): TableCounts {
  const out: TableCounts = {}
  for (const [name, after] of Object.entries(b)) {
    const before = a[name] ?? { ins: 0, upd: 0, hot: 0, del: 0, dead: 0 }
    const d = {
      ins: after.ins - before.ins,
      upd: after.upd - before.upd,
      hot: after.hot - before.hot,
      del: after.del - before.del,
      dead: after.dead - before.dead,
    }
    if (d.ins || d.upd || d.del || d.dead) out[name] = d
  }
  return out
}

/** Heap and index blocks (hit + read) of every user table and index of this database. */
export async function readBlocks(sql: postgres.Sql): Promise<number> {
  const [row] = await sql.begin(async (tx) => {
    await tx`select pg_stat_clear_snapshot()`
    return tx<{ n: string }[]>`
      select (select coalesce(sum(coalesce(heap_blks_hit, 0) + coalesce(heap_blks_read, 0)
                                  + coalesce(toast_blks_hit, 0) + coalesce(toast_blks_read, 0)), 0)
                from pg_statio_user_tables)
           + (select coalesce(sum(idx_blks_hit + idx_blks_read), 0) from pg_statio_user_indexes)
             as n`
  })
  return Number(row?.n ?? 0)
}

/**
 * Buffers that `statement` (run on `session`, one statement) touches in user tables and
 * indexes: its backend's counters are flushed before and after, and read from `reader`.
 */
export async function buffersOf(
  session: postgres.Sql,
  reader: postgres.Sql,
  statement: () => Promise<unknown>,
): Promise<number> {
  const flush = async () => {
    await session`select pg_stat_force_next_flush()`
    await session`select 1` // the flush happens when the backend goes idle after the previous
    await new Promise((r) => setTimeout(r, 50))
  }
  await flush()
  const before = await readBlocks(reader)
  await statement()
  await flush()
  return (await readBlocks(reader)) - before
}
