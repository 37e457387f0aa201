import { fileURLToPath } from 'node:url'
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import { createDb } from './client'
import type { WakeupMode } from './doorbell-trigger'
import { fitDoorbellTrigger } from './doorbell-trigger'
import { enableRoleLogins, type RoleName } from './roles'

/** The migrations folder, resolved from this file so it works from any working directory. */
export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url))

export type Migrated = {
  /** Roles given LOGIN and a password. */
  loginsEnabled: RoleName[]
  /** The doorbell trigger's new state, when it changed to fit the wake-up mode. */
  trigger?: 'enabled' | 'disabled'
}

/**
 * Applies every pending migration in drizzle/ (idempotent; safe to run on each start), and,
 * given the relays' wake-up mode, fits the doorbell trigger to it (doorbell-trigger.ts); not
 * given, the trigger is left as it is.
 */
export async function migrateDatabase(
  url: string,
  rolePasswords: Partial<Record<RoleName, string>> = {},
  wakeup?: WakeupMode,
): Promise<Migrated> {
  const { db, sql } = createDb(url, { max: 1, applicationName: 'outbox-migrate' })
  try {
    await migrate(db, { migrationsFolder })
    const loginsEnabled = await enableRoleLogins(sql, rolePasswords)
    const trigger = wakeup ? await fitDoorbellTrigger(sql, wakeup) : undefined
    return trigger ? { loginsEnabled, trigger } : { loginsEnabled }
  } finally {
    await sql.end()
  }
}
