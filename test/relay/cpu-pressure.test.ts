/** Reading the machine's CPU load (Linux PSI and /proc/stat): from files of the kernel's format, and for real. */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cpuPressureOf, machineCpuPressure } from '../../src/relay/cpu-pressure'

let dir: string
let files: { pressure: string; stat: string }
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'psi-'))
  files = { pressure: join(dir, 'pressure'), stat: join(dir, 'stat') }
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const psi = (someTotal: number) =>
  `some avg10=1.00 avg60=2.00 avg300=3.00 total=${someTotal}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=42\n`
// user nice system idle iowait irq softirq steal guest guest_nice; then a CPU's line and others.
const stat = (busy: number, idle: number, iowait = 0) =>
  `cpu  ${busy} 0 0 ${idle} ${iowait} 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 12345 1 2 3\nctxt 999\n`

async function write(stalledMicros: number, busyTicks: number, idleTicks: number, iowait = 0) {
  await writeFile(files.pressure, psi(stalledMicros))
  await writeFile(files.stat, stat(busyTicks, idleTicks, iowait))
}

describe('CPU load', () => {
  it('is the stalled share of wall time and the busy share of CPU time between two readings', async () => {
    const clock = { now: 1000 }
    const read = cpuPressureOf(files, () => clock.now)
    await write(5_000_000, 1000, 1000)
    expect(read()).toBeUndefined() // nothing to compare with yet
    await write(5_250_000, 1150, 1050) // 250 ms stalled, 150 of 200 ticks busy...
    clock.now += 500 // ...in 500 ms
    const load = read()
    expect(load?.pressure).toBeCloseTo(0.5)
    expect(load?.busy).toBeCloseTo(0.75)
    await write(5_250_000, 1150, 1100, 50) // nothing stalled; idle and I/O wait only
    clock.now += 1000
    expect(read()).toEqual({ pressure: 0, busy: 0 })
  })

  it('cannot tell from a missing or malformed file, and starts over after one', async () => {
    const clock = { now: 0 }
    const read = cpuPressureOf({ ...files, pressure: join(dir, 'absent') }, () => clock.now)
    await write(100, 10, 10)
    expect(read()).toBeUndefined()
    const flaky = cpuPressureOf(files, () => clock.now)
    await writeFile(files.pressure, 'not a pressure file\n')
    expect(flaky()).toBeUndefined()
    await write(100, 10, 10)
    clock.now += 100
    expect(flaky()).toBeUndefined() // first good reading: nothing before it to compare with
    await write(100_100, 20, 10)
    clock.now += 100
    expect(flaky()).toEqual({ pressure: 1, busy: 1 })
    expect(machineCpuPressure({ pressure: join(dir, 'absent'), stat: files.stat })).toBeUndefined()
  })

  // Where the kernel has PSI (CI's and this project's machines do), the relay reads it for real.
  it.skipIf(machineCpuPressure() === undefined)(
    'reads this machine: twice as many spinning processes as cores read as saturation',
    async () => {
      const read = machineCpuPressure() as NonNullable<ReturnType<typeof machineCpuPressure>>
      // Two per core: on every CPU a task waits. (The kernel averages the stall over the CPUs:
      // one spinner more than cores reads about a half on 2 cores.)
      const spinners = Array.from({ length: 2 * availableParallelism() }, () =>
        spawn(process.execPath, ['-e', 'const end = Date.now() + 1500; while (Date.now() < end);']),
      )
      const exited = Promise.all(spinners.map((c) => new Promise((r) => c.once('exit', r))))
      await new Promise((r) => setTimeout(r, 500)) // they have started spinning
      read()
      await new Promise((r) => setTimeout(r, 500))
      const load = read()
      await exited
      expect(load?.pressure).toBeGreaterThan(0.6)
      expect(load?.busy).toBeGreaterThan(0.9)
    },
  )
})
