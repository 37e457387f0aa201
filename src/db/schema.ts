/**
 * The only table definitions, one file per group of tables. drizzle-kit generates the
 * migrations in drizzle/ from this module (drizzle.config.ts); triggers, functions and roles
 * live in hand-written custom migrations beside them.
 */
export * from './schema-api'
export * from './schema-inventory'
export * from './schema-outbox'
