import { describe, expect, it } from 'vitest'
import { PACE_DEFAULTS, Pacer } from '../../src/relay/pace'

const W = PACE_DEFAULTS.waitMs

/**
 * A relay draining a steady stream of `perMs` events per ms, on a simulated clock: each claim
 * brings what arrived since the previous claim and is acknowledged `roundTripMs` later; the next
 * claim follows after the pacer's wait. A claim that finds nothing is not a batch: the pacer
 * never hears of it. `batches` counts claims.
 */
function drainStream(
  pacer: Pacer,
  o: { perMs: number; roundTripMs: number; batches: number; clock?: { now: number } },
) {
  const clock = o.clock ?? { now: 0 }
  const waits: number[] = []
  const sizes: number[] = []
  let previousClaim = clock.now - o.roundTripMs
  let owed = 0 // fractions of an event carried to the next claim, so the rate is exact
  for (let i = 0; i < o.batches; i++) {
    owed += o.perMs * (clock.now - previousClaim)
    const events = Math.floor(owed)
    owed -= events
    if (events > 0) {
      pacer.record(events, clock.now)
      sizes.push(events)
    }
    waits.push(pacer.waitMs)
    previousClaim = clock.now
    clock.now += o.roundTripMs + pacer.waitMs
  }
  return { waits, sizes, clock }
}

describe('Pacer', () => {
  it('claims eagerly at 1,000 events/s, however long the round trip', () => {
    for (const roundTripMs of [0.5, 2, 5, 12]) {
      const pacer = new Pacer()
      const { waits } = drainStream(pacer, { perMs: 1, roundTripMs, batches: 2000 })
      expect(new Set(waits)).toEqual(new Set([0]))
      expect(pacer.eventsPerSecond).toBeGreaterThan(900)
      expect(pacer.eventsPerSecond).toBeLessThan(1100)
    }
  })

  it('paces a fast stream within a window, and stays paced although its own waits make the batches bigger', () => {
    const pacer = new Pacer()
    const { waits, sizes, clock } = drainStream(pacer, {
      perMs: 3,
      roundTripMs: 1.5,
      batches: 2000,
    })
    const firstPaced = waits.indexOf(W)
    expect(firstPaced).toBeGreaterThan(0)
    // Paced before half a second of the stream has passed (each eager batch takes 1.5 ms).
    expect(firstPaced * 1.5).toBeLessThan(500)
    expect(new Set(waits.slice(firstPaced))).toEqual(new Set([W]))
    expect(sizes.at(-1)).toBeGreaterThanOrEqual(Math.floor(3 * (1.5 + W)) - 1)
    expect(pacer.eventsPerSecond).toBeCloseTo(3000, -2)
    expect(clock.now).toBeGreaterThan(0)
  })

  it('claims eagerly again once the stream slows below the lower bound', () => {
    const pacer = new Pacer()
    const { clock } = drainStream(pacer, { perMs: 3, roundTripMs: 1.5, batches: 500 })
    expect(pacer.waitMs).toBe(W)
    // Paced batches at 1 event/ms hold 11-12 events each: bigger than eager ones, yet eager.
    const { waits, sizes } = drainStream(pacer, { perMs: 1, roundTripMs: 1.5, batches: 500, clock })
    expect(sizes[1]).toBeGreaterThan(10)
    const firstEager = waits.indexOf(0)
    expect(firstEager).toBeGreaterThan(0)
    expect(new Set(waits.slice(firstEager))).toEqual(new Set([0]))
  })

  it('holds its decision between the bounds (no flapping)', () => {
    const pacer = new Pacer()
    const clock = { now: 0 }
    drainStream(pacer, { perMs: 1.35, roundTripMs: 2, batches: 2000, clock })
    expect(pacer.waitMs).toBe(0) // never reached the upper bound
    drainStream(pacer, { perMs: 3, roundTripMs: 2, batches: 500, clock })
    expect(pacer.waitMs).toBe(W)
    const { waits } = drainStream(pacer, { perMs: 1.35, roundTripMs: 2, batches: 2000, clock })
    expect(new Set(waits)).toEqual(new Set([W])) // 1,350/s: still paced, it came from above
  })

  it('does not pace for a burst: 50 events in 10 ms of a 1,000/s stream', () => {
    const pacer = new Pacer()
    const clock = { now: 0 }
    drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 500, clock })
    drainStream(pacer, { perMs: 5, roundTripMs: 2, batches: 5, clock })
    expect(pacer.waitMs).toBe(0)
    drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 100, clock })
    expect(pacer.waitMs).toBe(0)
    // A fifth of a window at 5 times the rate: that is load, not a burst.
    drainStream(pacer, { perMs: 5, roundTripMs: 2, batches: 20, clock })
    expect(pacer.waitMs).toBe(W)
  })

  it('counts a stall that piles events up at the stream’s own rate, not as load', () => {
    const pacer = new Pacer()
    const clock = { now: 0 }
    drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 500, clock })
    for (let i = 0; i < 20; i++) {
      // Each claim comes 100 ms after the previous (a stalled process) and finds 100 events.
      clock.now += 100
      pacer.record(100, clock.now)
    }
    expect(pacer.waitMs).toBe(0)
  })

  it('starts eager after a long sleep, and a backlog of full batches paces until it drains into a trickle', () => {
    const pacer = new Pacer()
    const clock = { now: 0 }
    drainStream(pacer, { perMs: 0.1, roundTripMs: 2, batches: 50, clock })
    clock.now += 60_000
    pacer.record(1, clock.now)
    expect(pacer.waitMs).toBe(0)
    for (let i = 0; i < 200; i++) {
      // Full batches of 1,000, pipelined: each claim is sent while the previous is in flight.
      pacer.record(1000, clock.now)
      clock.now += 10
    }
    expect(pacer.waitMs).toBe(W)
    const { waits } = drainStream(pacer, { perMs: 0.5, roundTripMs: 2, batches: 500, clock })
    expect(waits.at(-1)).toBe(0)
  })

  it('never waits when its wait is set to 0', () => {
    const pacer = new Pacer({ waitMs: 0 })
    const { waits } = drainStream(pacer, { perMs: 10, roundTripMs: 3, batches: 500 })
    expect(new Set(waits)).toEqual(new Set([0]))
    expect(pacer.eventsPerSecond).toBeGreaterThan(5000)
  })
})

describe('Pacer, CPU pressure', () => {
  const B = PACE_DEFAULTS.busyWaitMs
  /** A pressure reader whose value the test sets; counts its readings. */
  const pressure = (value: number | undefined) => {
    const reader = Object.assign(() => reader.value, { value, readings: 0 })
    return Object.assign(
      () => {
        reader.readings++
        return reader.value
      },
      { reader },
    )
  }

  it('paces 1,000 events/s while tasks wait for a CPU, and is eager again once they do not', () => {
    const cpu = pressure(0.9)
    const pacer = new Pacer({}, cpu)
    const clock = { now: 0 }
    const saturated = drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 400, clock })
    const firstPaced = saturated.waits.indexOf(B)
    expect(firstPaced).toBeGreaterThan(0)
    expect(new Set(saturated.waits.slice(firstPaced))).toEqual(new Set([B]))
    // The wait gathers: about 50 events a batch at 1 event/ms.
    expect(saturated.sizes.at(-1)).toBeGreaterThanOrEqual(45)
    cpu.reader.value = 0.1
    const freed = drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 600, clock })
    expect(freed.waits.at(-1)).toBe(0)
    expect(pacer.cpuPressureAverage).toBeLessThan(PACE_DEFAULTS.busyBelow)
  })

  it('stays eager at 1,000 events/s with CPU to spare, as without a reader', () => {
    const { waits } = drainStream(new Pacer({}, pressure(0.3)), {
      perMs: 1,
      roundTripMs: 2,
      batches: 2000,
    })
    expect(new Set(waits)).toEqual(new Set([0]))
  })

  it('averages the pressure over about a second: a moment of it is not saturation', () => {
    const cpu = pressure(0.3)
    const pacer = new Pacer({}, cpu)
    const clock = { now: 0 }
    drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 1000, clock })
    cpu.reader.value = 1
    drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 50, clock }) // 100 ms of it
    expect(pacer.waitMs).toBe(0)
    const { waits } = drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 1000, clock })
    expect(waits.at(-1)).toBe(B) // sustained, it is
  })

  it('holds its decision between the bounds of the pressure', () => {
    const cpu = pressure(0.5) // between busyBelow (0.45) and busyAbove (0.6)
    const pacer = new Pacer({}, cpu)
    const clock = { now: 0 }
    drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 1000, clock })
    expect(pacer.waitMs).toBe(0) // never reached the upper bound
    cpu.reader.value = 0.9
    drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 1000, clock })
    expect(pacer.waitMs).toBe(B)
    cpu.reader.value = 0.5
    drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 200, clock })
    expect(pacer.waitMs).toBe(B) // came from above: still saturated
  })

  it('does not pace a trickle for the CPU: below 100 events/s a wait gathers next to nothing', () => {
    const { waits } = drainStream(new Pacer({}, pressure(1)), {
      perMs: 0.05,
      roundTripMs: 2,
      batches: 2000,
    })
    expect(new Set(waits)).toEqual(new Set([0]))
  })

  it('reads the pressure at most every 100 ms, and never when told not to pace for it', () => {
    const cpu = pressure(0.9)
    const clock = { now: 0 }
    drainStream(new Pacer({}, cpu), { perMs: 1, roundTripMs: 2, batches: 500, clock })
    // 500 batches of 2 ms or more each: a second and more, so about 10 readings, never 500.
    expect(cpu.reader.readings).toBeGreaterThanOrEqual(5)
    expect(cpu.reader.readings).toBeLessThanOrEqual(clock.now / 100 + 1)
    const off = pressure(0.9)
    const { waits } = drainStream(new Pacer({ busyWaitMs: 0 }, off), {
      perMs: 1,
      roundTripMs: 2,
      batches: 500,
    })
    expect(off.reader.readings).toBe(0)
    expect(new Set(waits)).toEqual(new Set([0]))
  })

  it('never paces for the CPU when the reader cannot tell (no PSI on this system)', () => {
    const { waits } = drainStream(new Pacer({}, pressure(undefined)), {
      perMs: 1,
      roundTripMs: 2,
      batches: 1000,
    })
    expect(new Set(waits)).toEqual(new Set([0]))
  })

  it('takes the longer of its two waits when both apply', () => {
    const pacer = new Pacer({}, pressure(0.9))
    const { waits } = drainStream(pacer, { perMs: 3, roundTripMs: 1.5, batches: 1000 })
    expect(waits.at(-1)).toBe(Math.max(W, B))
  })
})
