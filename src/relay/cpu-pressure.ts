/**
 * Is the machine's CPU saturated? Two readings of Linux, both machine-wide:
 *
 *  - pressure: the share of time in which tasks were ready to run but waited for a CPU (pressure
 *    stall information, the `some ... total=<µs>` line of /proc/pressure/cpu). The kernel
 *    averages it over the CPUs: on 2 cores, three spinning processes read about 0.5 (one CPU has
 *    a task waiting, the other not), four about 0.9;
 *  - busy: the share of CPU time not idle (the `cpu` line of /proc/stat; I/O wait counts as idle).
 *
 * Busy CPUs alone cost nobody anything, and a moment of queueing is normal on a loaded machine;
 * both together, sustained, mean that every CPU-second the relay spends is one that the writers
 * sharing the machine wait for (pace.ts trades latency for their throughput then). Measured here
 * (2 cores, 200 ms samples, p10-p90; one writer places ~320 orders/s on this machine):
 *
 *   load                                    pressure   busy
 *   idle                                    1-6%       0-15%
 *   300 orders/s, open loop                 27-64%     56-89%
 *   600 orders/s                            39-54%     74-84%
 *   1,000 orders/s (more than it can take)  54-78%     83-97%
 *   32 closed-loop HTTP writers             66-81%     86-97%
 *
 * Inside a container both files show the host (unless virtualized, e.g. by lxcfs): a relay
 * throttled by its own CPU limit on an idle host is not seen as saturated.
 */
import { readFileSync } from 'node:fs'

export type CpuLoad = {
  /** Share of wall time with tasks waiting for a CPU, 0..1. */
  pressure: number
  /** Share of CPU time not idle, 0..1. */
  busy: number
}

/**
 * The machine's CPU load since the previous call; undefined when it cannot tell (the first
 * call, or files unreadable: not Linux, or a kernel without PSI).
 */
export type CpuPressure = () => CpuLoad | undefined

export const CPU_FILES = { pressure: '/proc/pressure/cpu', stat: '/proc/stat' } as const

type Files = { pressure: string; stat: string }

/** A reader of the machine's CPU load, or undefined where these files cannot be read. */
export function machineCpuPressure(
  files: Files = CPU_FILES,
  now: () => number = () => performance.now(),
): CpuPressure | undefined {
  if (readCounters(files) === undefined) return undefined
  return cpuPressureOf(files, now)
}

/** A reader of `files` (a test's, or the machine's); `now` in ms. */
export function cpuPressureOf(
  files: Files,
  now: () => number = () => performance.now(),
): CpuPressure {
  let previous: (Counters & { at: number }) | undefined
  return () => {
    const counters = readCounters(files)
    const at = now()
    const last = previous
    previous = counters && { ...counters, at }
    if (!counters || !last || at <= last.at) return undefined
    const ticks = counters.ticks - last.ticks
    return {
      pressure: clamp01((counters.stalledMicros - last.stalledMicros) / 1000 / (at - last.at)),
      busy: ticks > 0 ? clamp01(1 - (counters.idleTicks - last.idleTicks) / ticks) : 0,
    }
  }
}

type Counters = { stalledMicros: number; idleTicks: number; ticks: number }

function readCounters(files: Files): Counters | undefined {
  const pressure = readSmall(files.pressure)
  const stat = readSmall(files.stat)
  const stalled = pressure && /^some .*\btotal=(\d+)/m.exec(pressure)?.[1]
  const cpu = stat && /^cpu\s+(\d+(?:\s+\d+)*)/m.exec(stat)?.[1]
  if (!stalled || !cpu) return undefined
  // user nice system idle iowait irq softirq steal (guest time is inside user already).
  const fields = cpu.split(/\s+/).map(Number).slice(0, 8)
  if (fields.length < 5) return undefined
  const idleTicks = (fields[3] ?? 0) + (fields[4] ?? 0)
  return { stalledMicros: Number(stalled), idleTicks, ticks: fields.reduce((a, b) => a + b, 0) }
}

/** A procfs file of a few lines, in memory: no disk behind the synchronous read. */
function readSmall(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x))
