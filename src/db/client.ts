import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import * as schema from './schema'

export type Db = ReturnType<typeof createDb>['db']
export type Sql = postgres.Sql
/** A transaction handle, as passed to `db.transaction(async (tx) => ...)`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]
/** Either: a statement on `Db` commits on its own; on `Tx`, with the caller's transaction. */
export type Executor = Db | Tx

export type DbOptions = {
  max?: number
  /** Tag connections in pg_stat_activity. */
  applicationName?: string
  /** Seconds to wait for a connection before failing (so requests fail fast while it is down). */
  connectTimeout?: number
}

/**
 * postgres.js waits before reconnecting after failures, by default up to 20 s (3^n / 100 s).
 * Queries queue behind that wait, so after an outage the service would sit idle long after the
 * database is back. Our callers back off themselves, so the driver's own wait is capped at one
 * second.
 */
export const reconnectBackoff = (retries: number) => Math.min(0.05 * 2 ** retries, 1)

export function createDb(url: string, options: DbOptions = {}) {
  const sql = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeout ?? 3,
    backoff: reconnectBackoff,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'outbox' },
  })
  const db = drizzle(sql, { schema })
  return { sql, db }
}
