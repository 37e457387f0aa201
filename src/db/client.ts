import type { SQL } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
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
 * database is back (measured: a relay stuck for 12 s). Our callers back off themselves, so the
 * driver's own wait is capped at one second.
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

/**
 * A hot statement written once with drizzle's `sql` template and `sql.placeholder`s, run as a
 * prepared statement on `Db` or inside a transaction. `db.execute` rebuilds the statement's
 * text from the template on every call and has Postgres parse and plan it every time; prepared,
 * each connection parses it once and then only binds values. Measured on `POST /orders` at
 * 1,000/s: 0.10 ms less CPU per request in the API and 0.14 ms less in Postgres. Needs
 * session-level connections (as the relay's LISTEN does): not PgBouncer in transaction mode
 * before 1.21.
 */
export function preparedStatement(statement: SQL) {
  const query = new PgDialect().sqlToQuery(statement)
  // Any name asks drizzle for `prepare: true`; postgres.js then names the statement and keeps
  // it per connection, keyed by its text.
  return (executor: Executor, values: Record<string, unknown>) =>
    executor._.session.prepareQuery(query, undefined, 'prepared', false).execute(values)
}
