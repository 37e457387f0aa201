/** Reading CPU pressure (Linux PSI): from a file of the kernel's format, and from this machine. */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cpuPressureOf, findPressureFile, PRESSURE_FILES } from '../../src/relay/cpu-pressure'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'psi-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const psi = (someTotal: number) =>
  `some avg10=1.00 avg60=2.00 avg300=3.00 total=${someTotal}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=42\n`

describe('cpu pressure', () => {
  it('is the share of wall time stalled between two readings, from the "some" line', async () => {
    const file = join(dir, 'cpu.pressure')
    const clock = { now: 1000 }
    const read = cpuPressureOf(file, () => clock.now)
    await writeFile(file, psi(5_000_000))
    expect(read()).toBeUndefined() // nothing to compare with yet
    await writeFile(file, psi(5_250_000)) // 250 ms stalled...
    clock.now += 500 // ...in 500 ms
    expect(read()).toBeCloseTo(0.5)
    await writeFile(file, psi(5_250_000))
    clock.now += 1000
    expect(read()).toBe(0)
  })

  it('cannot tell from a missing or malformed file, and starts over after one', async () => {
    const file = join(dir, 'flaky')
    const clock = { now: 0 }
    const read = cpuPressureOf(file, () => clock.now)
    expect(read()).toBeUndefined()
    await writeFile(file, 'not a pressure file\n')
    expect(read()).toBeUndefined()
    await writeFile(file, psi(100))
    clock.now += 100
    expect(read()).toBeUndefined() // first good reading: nothing before it to compare with
    await writeFile(file, psi(100_100))
    clock.now += 100
    expect(read()).toBeCloseTo(1)
  })

  it('finds the first readable pressure file', async () => {
    const good = join(dir, 'good')
    await writeFile(good, psi(1))
    expect(findPressureFile([join(dir, 'absent'), good])).toBe(good)
    expect(findPressureFile([join(dir, 'absent')])).toBeUndefined()
  })

  // Where the kernel has PSI (CI's and this project's machines do), the relay reads it for real.
  it.skipIf(findPressureFile() === undefined)(
    'reads this machine: twice as many busy processes as cores read as pressure',
    async () => {
      const file = findPressureFile() as string
      expect(PRESSURE_FILES).toContain(file)
      const read = cpuPressureOf(file)
      // Two spinning processes per core: on every CPU a task waits. (The kernel averages the
      // stall over the CPUs: one spinner more than cores reads about a half on 2 cores.)
      const spinners = Array.from({ length: 2 * availableParallelism() }, () =>
        spawn(process.execPath, ['-e', 'const end = Date.now() + 1500; while (Date.now() < end);']),
      )
      const exited = Promise.all(spinners.map((c) => new Promise((r) => c.once('exit', r))))
      await new Promise((r) => setTimeout(r, 500)) // they have started spinning
      read()
      await new Promise((r) => setTimeout(r, 500))
      const share = read()
      await exited
      expect(share).toBeGreaterThan(0.5)
      expect(share).toBeLessThanOrEqual(1)
    },
  )
})
