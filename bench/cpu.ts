import { readFileSync } from 'node:fs'
import type postgres from 'postgres'

/** USER_HZ, the unit of /proc: 100 on every Linux this runs on (`getconf CLK_TCK`). */
const CLOCK_TICKS = 100

/** CPU time (user + system) a process has used so far, in seconds; 0 once it is gone. */
export function processCpuSeconds(pid: number | undefined): number {
  return readCpuSeconds(pid) ?? 0
}

/** The same, undefined when it cannot be read (gone, or not on this machine). */
function readCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // Fields after the command name (which may hold spaces), counted from 3: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/**
 * A reading of the CPU a relay has used so far, in seconds: its process, and each of its
 * database backends (every connection it names `outbox-relay...`) by pid; `backends` undefined
 * when none can be read (the database is not on this machine).
 */
export type RelayCpu = { process: number; backends: Map<number, number> | undefined }

export async function readRelayCpu(
  sql: postgres.Sql,
  relayPid: number | undefined,
): Promise<RelayCpu> {
  const rows = await sql<{ pid: number }[]>`
    select pid from pg_stat_activity
     where datname = current_database() and application_name like 'outbox-relay%'`
  const backends = new Map<number, number>()
  for (const { pid } of rows) {
    const seconds = readCpuSeconds(pid)
    if (seconds !== undefined) backends.set(pid, seconds) // a backend gone since: left out
  }
  return {
    process: processCpuSeconds(relayPid),
    backends: rows.length > 0 && backends.size === 0 ? undefined : backends,
  }
}

/**
 * CPU seconds used between two readings. A backend opened in between counts in full (its work
 * is of the interval); one closed in between is lost with its last interval (its CPU can no
 * longer be read), never counted negative. Backends NaN when the database is elsewhere.
 */
export function cpuBetween(a: RelayCpu, b: RelayCpu): { process: number; backends: number } {
  let backends = Number.NaN
  if (a.backends && b.backends) {
    backends = 0
    for (const [pid, seconds] of b.backends) backends += seconds - (a.backends.get(pid) ?? 0)
  }
  return { process: b.process - a.process, backends }
}

/** CPU seconds so far of every backend connected to this database, by pid. */
export async function readDatabaseCpu(sql: postgres.Sql): Promise<Map<number, number>> {
  const rows = await sql<{ pid: number }[]>`
    select pid from pg_stat_activity where datname = current_database() and backend_type = 'client backend'`
  const out = new Map<number, number>()
  for (const { pid } of rows) {
    const seconds = readCpuSeconds(pid)
    if (seconds !== undefined) out.set(pid, seconds)
  }
  return out
}

/**
 * The database's backends' CPU seconds between two readings; NaN when none could be read (the
 * database is not on this machine). Opened in between: counted in full; closed: lost.
 */
export function databaseCpuBetween(a: Map<number, number>, b: Map<number, number>): number {
  if (b.size === 0) return Number.NaN
  let seconds = 0
  for (const [pid, s] of b) seconds += s - (a.get(pid) ?? 0)
  return seconds
}
