import { existsSync, readFileSync } from 'node:fs'
import type postgres from 'postgres'

/**
 * CPU time this machine has spent busy so far, in core-seconds, from /proc/stat (user, nice,
 * system, irq and softirq of all cores; idle, iowait and steal, which is another tenant's, left
 * out). Measures this machine only: a database or broker elsewhere is not in it.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
  const [, user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).map(Number)
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) / CLOCK_TICKS
}

/** USER_HZ, the unit of /proc/stat: 100 on every Linux this runs on (`getconf CLK_TCK`). */
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
 * The CPU a relay's work costs on this machine so far, in seconds: its process, its database
 * backends (every connection it names `outbox-relay...`), and this process, where the
 * benchmark's broker runs. NaN when the database is not on this machine (its backends' CPU
 * cannot be read here), so that every figure made from it reads NaN too. `withBroker` false
 * leaves this process out: while writers run, it is also their load generator.
 */
export async function relaySideCpuSeconds(
  sql: postgres.Sql,
  relayPid: number | undefined,
  withBroker = true,
): Promise<number> {
  const rows = await sql<{ pid: number }[]>`
    select pid from pg_stat_activity
     where datname = current_database() and application_name like 'outbox-relay%'`
  if (rows.some((r) => !existsSync(`/proc/${r.pid}`))) return Number.NaN
  const own = withBroker ? process.cpuUsage() : { user: 0, system: 0 }
  return (
    processCpuSeconds(relayPid) +
    rows.reduce((sum, r) => sum + processCpuSeconds(r.pid), 0) +
    (own.user + own.system) / 1e6
  )
}
