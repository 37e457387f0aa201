import type postgres from 'postgres'

/** What every query of the outbox runs on: a client, or a transaction of one. */
export type Q = postgres.TransactionSql | postgres.Sql

/** Runs `work` in a transaction: `q`'s own if it is one, else a new one of `q`'s. */
export async function inTransaction(q: Q, work: (tx: Q) => Promise<void>): Promise<void> {
  await ('begin' in q ? q.begin(work) : work(q))
}
