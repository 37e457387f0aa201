import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import * as schema from './schema'

export type Db = ReturnType<typeof createDb>['db']
export type Sql = postgres.Sql
/** A transaction handle, as passed to `db.transaction(async (tx) => ...)`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]

export type DbOptions = {
  max?: number
  /** Tag connections in pg_stat_activity. */
  applicationName?: string
  /** Seconds to wait for a connection before failing (so requests fail fast while it is down). */
  connectTimeout?: number
}

export function createDb(url: string, options: DbOptions = {}) {
  const sql = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeout ?? 5,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'outbox' },
  })
  const db = drizzle(sql, { schema })
  return { sql, db }
}
