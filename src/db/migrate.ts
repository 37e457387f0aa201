import { fileURLToPath } from 'node:url'
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import { createDb } from './client'
import { enableRoleLogins, type RoleName } from './roles'

/** The migrations folder, resolved from this file so it works from any working directory. */
export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url))

/** Applies every pending migration in drizzle/ (idempotent; safe to run on each start). */
export async function migrateDatabase(
  url: string,
  rolePasswords: Partial<Record<RoleName, string>> = {},
): Promise<RoleName[]> {
  const { db, sql } = createDb(url, { max: 1, applicationName: 'outbox-migrate' })
  try {
    await migrate(db, { migrationsFolder })
    return await enableRoleLogins(sql, rolePasswords)
  } finally {
    await sql.end()
  }
}
