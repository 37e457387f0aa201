import { existsSync, readFileSync } from 'node:fs'
import type postgres from 'postgres'

/** USER_HZ, the unit of /proc: 100 on every Linux this runs on (`getconf CLK_TCK`). */
const CLOCK_TICKS = 100

/** CPU time (user + system) a process has used so far, in seconds; 0 once it is gone. */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return 0
  }
  // Fields after the command name (which may hold spaces), counted from 3: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/**
 * The CPU a relay has used so far, in seconds: its process, and its database backends (every
 * connection it names `outbox-relay...`). NaN when the database is not on this machine (its
 * backends' CPU cannot be read here), so that every figure made from it reads NaN too.
 */
export async function relayCpuSeconds(
  sql: postgres.Sql,
  relayPid: number | undefined,
): Promise<{ process: number; backends: number }> {
  const rows = await sql<{ pid: number }[]>`
    select pid from pg_stat_activity
     where datname = current_database() and application_name like 'outbox-relay%'`
  const backends = rows.some((r) => !existsSync(`/proc/${r.pid}`))
    ? Number.NaN
    : rows.reduce((sum, r) => sum + processCpuSeconds(r.pid), 0)
  return { process: processCpuSeconds(relayPid), backends }
}
