/** What a relay's backend has counted (pg_stat_*), read as of now. */
import type postgres from 'postgres'

type Sql = postgres.Sql | postgres.ReservedSql

/** Makes the backend of `backend` report its counts, and `reader` read them afresh. */
export async function flushStats(backend: Sql, reader: Sql): Promise<void> {
  await backend`select pg_stat_force_next_flush()`
  await backend`select 1` // the flush happens when the backend goes idle after a statement
  await reader`select pg_stat_clear_snapshot()`
}

/** Index entries read on `table` so far, all its indexes. */
export async function indexReads(backend: Sql, reader: Sql, table: string): Promise<number> {
  await flushStats(backend, reader)
  const [row] = await reader<{ n: number }[]>`
    select sum(idx_tup_read)::float8 as n from pg_stat_user_indexes where relname = ${table}`
  return row?.n ?? 0
}
