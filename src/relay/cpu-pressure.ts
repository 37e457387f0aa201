/**
 * CPU pressure: the share of time in which some task was ready to run but waited for a CPU.
 *
 * Linux's pressure stall information (PSI) counts it: `some ... total=<µs>` in
 * /sys/fs/cgroup/cpu.pressure (this process's own cgroup under cgroup v2: inside a container,
 * it includes waiting caused by the container's CPU limit) or /proc/pressure/cpu (the whole
 * machine). Busy CPUs alone are no cost to anyone; tasks queueing for them are. When writers
 * and the relay share cores, a saturated machine is one where every CPU-second the relay spends
 * is a CPU-second the writers wait for (pace.ts uses it to trade latency for their throughput).
 * The kernel averages the stall over the CPUs: on 2 cores, three spinning processes read about
 * 0.5 (one CPU has a task waiting, the other not), four about 0.9.
 *
 * Measured here (2 cores, 32 closed-loop HTTP writers, 200 ms samples): 66-78% from p10 to p90;
 * 1,000 orders/s open-loop on a machine too slow for it (1 writer: ~320 orders/s): 54-78%;
 * 300/s on the same: 27-56%; idle 1-6%.
 */
import { readFileSync } from 'node:fs'

/**
 * Returns the share of wall time (0..1) with some task waiting for a CPU since the previous
 * call, or undefined when it cannot tell (first call, no PSI on this system).
 */
export type CpuPressure = () => number | undefined

export const PRESSURE_FILES = ['/sys/fs/cgroup/cpu.pressure', '/proc/pressure/cpu'] as const

/** The first of `files` that reads as a PSI file, or undefined (not Linux, PSI off). */
export function findPressureFile(files: readonly string[] = PRESSURE_FILES): string | undefined {
  return files.find((f) => stallMicros(f) !== undefined)
}

/** A reader of `file`; `now` in ms (a test's clock). */
export function cpuPressureOf(
  file: string,
  now: () => number = () => performance.now(),
): CpuPressure {
  let previous: { at: number; stalled: number } | undefined
  return () => {
    const stalled = stallMicros(file)
    const at = now()
    if (stalled === undefined) {
      previous = undefined
      return undefined
    }
    const last = previous
    previous = { at, stalled }
    if (!last || at <= last.at) return undefined
    const share = (stalled - last.stalled) / 1000 / (at - last.at)
    return Math.min(1, Math.max(0, share))
  }
}

/** Cumulative µs of "some" stall in a PSI file; undefined if unreadable or not in that form. */
function stallMicros(file: string): number | undefined {
  let text: string
  try {
    // A procfs/cgroupfs file of two short lines, in memory: no disk behind the synchronous read.
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  const total = /^some .*\btotal=(\d+)/m.exec(text)?.[1]
  return total === undefined ? undefined : Number(total)
}
