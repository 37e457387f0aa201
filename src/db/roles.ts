/**
 * The least-privilege roles the migrations create (drizzle/0006): NOLOGIN until a password is
 * given. `npm run db:migrate` calls this with DB_API_PASSWORD, DB_RELAY_PASSWORD and
 * DB_CONSUMER_PASSWORD so compose (or a deploy job) can hand each process its own login.
 */
import type postgres from 'postgres'

export const roles = {
  api: 'outbox_api',
  relay: 'outbox_relay',
  consumer: 'outbox_consumer',
} as const
export type RoleName = keyof typeof roles

export async function enableRoleLogins(
  sql: postgres.Sql,
  passwords: Partial<Record<RoleName, string>>,
): Promise<RoleName[]> {
  const enabled: RoleName[] = []
  for (const [name, password] of Object.entries(passwords) as [RoleName, string | undefined][]) {
    if (!password) continue
    // ALTER ROLE takes no bind parameters: let Postgres quote the identifier and the literal.
    const [row] = await sql<{ stmt: string }[]>`
      select format('ALTER ROLE %I WITH LOGIN PASSWORD %L', ${roles[name]}::text, ${password}::text) as stmt`
    if (!row) throw new Error('format() returned no row')
    await sql.unsafe(row.stmt)
    enabled.push(name)
  }
  return enabled
}
