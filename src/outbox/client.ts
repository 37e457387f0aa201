import type postgres from 'postgres'

/** What every query of the outbox runs on: a client, or a transaction of one. */
export type Q = postgres.TransactionSql | postgres.Sql
