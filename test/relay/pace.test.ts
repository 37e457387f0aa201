import { describe, expect, it } from 'vitest'
import type { CpuLoad } from '../../src/relay/cpu-pressure'
import { PACE_DEFAULTS, Pacer, type PaceState } from '../../src/relay/pace'

const W = PACE_DEFAULTS.waitMs

/**
 * A relay draining a steady stream of `perMs` events per ms, on a simulated clock: each claim
 * brings what arrived since the previous claim and is acknowledged `roundTripMs` later; the next
 * claim follows after the pacer's wait. A claim that finds nothing is not a batch: the pacer
 * never hears of it. `batches` counts claims. A clock passed from one call to the next carries
 * the previous claim's time, so the stream goes on without a gap or a lost event.
 */
function drainStream(
  pacer: Pacer,
  o: {
    perMs: number
    roundTripMs: number
    batches: number
    clock?: { now: number; lastClaim?: number }
  },
) {
  const clock = o.clock ?? { now: 0 }
  const waits: number[] = []
  const sizes: number[] = []
  let previousClaim = clock.lastClaim ?? clock.now - o.roundTripMs
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
  clock.lastClaim = previousClaim
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

describe('Pacer, a saturated CPU', () => {
  // The saturated wait (RELAY_PACE_SATURATED_MS): while paced and saturated. Off by default;
  // these pacers have it on, at 50 ms, the measured choice.
  const S = 50
  const on = { saturatedWaitMs: S }
  const fast = 3 // events per ms: 3,000/s, over RELAY_PACE_ABOVE, so the rate rule paces
  /** A CPU load reader whose readings the test sets; counts them. */
  const cpu = (pressure: number, busy: number) => {
    const state = { load: { pressure, busy } as CpuLoad | undefined, readings: 0 }
    const read = () => {
      state.readings++
      return state.load
    }
    return Object.assign(read, { state })
  }
  const saturated = () => cpu(0.9, 0.95)
  /** A fast stream, paced by the rate: it ends at the rate rule's wait, never the longer one. */
  const expectRateWaitOnly = (pacer: Pacer, batches: number) => {
    const { waits } = drainStream(pacer, { perMs: fast, roundTripMs: 2, batches })
    expect(waits).not.toContain(S)
    expect(waits.at(-1)).toBe(W)
  }

  it('is off by default: saturated CPUs do not lengthen the rate rule’s wait', () => {
    expect(PACE_DEFAULTS.saturatedWaitMs).toBe(0)
    expectRateWaitOnly(new Pacer({}, saturated()), 1000)
  })

  it('waits longer while the CPUs are saturated, and the rate rule’s wait again once they are not', () => {
    const load = saturated()
    const pacer = new Pacer(on, load)
    const clock = { now: 0 }
    const busy = drainStream(pacer, { perMs: fast, roundTripMs: 2, batches: 400, clock })
    const firstLong = busy.waits.indexOf(S)
    expect(firstLong).toBeGreaterThan(0)
    expect(new Set(busy.waits.slice(firstLong))).toEqual(new Set([S]))
    // The wait gathers: about 3 * (2 + 50) events a batch.
    expect(busy.sizes.at(-1)).toBeGreaterThanOrEqual(150)
    load.state.load = { pressure: 0.1, busy: 0.5 }
    const freed = drainStream(pacer, { perMs: fast, roundTripMs: 2, batches: 600, clock })
    expect(freed.waits.at(-1)).toBe(W)
    expect(pacer.cpuLoadAverage?.pressure).toBeLessThan(PACE_DEFAULTS.pressureBelow)
  })

  it('never waits for the CPU where the rate keeps the relay eager: 1,000 events/s, saturated', () => {
    const load = saturated()
    for (const roundTripMs of [0.5, 2, 12]) {
      const { waits } = drainStream(new Pacer(on, load), { perMs: 1, roundTripMs, batches: 3000 })
      expect(new Set(waits)).toEqual(new Set([0]))
    }
    expect(load.state.readings).toBeGreaterThan(0) // read, and saturated: still eager
  })

  it('needs both readings: tasks queueing on CPUs not all busy, or busy CPUs without a queue, are not saturation', () => {
    for (const [pressure, busy] of [
      [0.9, 0.7], // queueing in bursts on a machine with room
      [0.3, 0.99], // busy, nobody waiting
      [0.3, 0.5],
    ] as const) {
      expectRateWaitOnly(new Pacer(on, cpu(pressure, busy)), 2000)
    }
  })

  it('averages over about a second: a moment of saturation is not saturation', () => {
    const load = cpu(0.3, 0.6)
    const pacer = new Pacer(on, load)
    const clock = { now: 0 }
    drainStream(pacer, { perMs: fast, roundTripMs: 2, batches: 200, clock })
    expect(pacer.waitMs).toBe(W)
    load.state.load = { pressure: 1, busy: 1 }
    drainStream(pacer, { perMs: fast, roundTripMs: 2, batches: 8, clock }) // ~100 ms of it
    expect(pacer.waitMs).toBe(W)
    const { waits } = drainStream(pacer, { perMs: fast, roundTripMs: 2, batches: 100, clock })
    expect(waits.at(-1)).toBe(S) // sustained, it is
  })

  it('holds its decision between the bounds', () => {
    const load = cpu(0.5, 0.8) // both between their bounds (0.45-0.6, 0.75-0.85)
    const pacer = new Pacer(on, load)
    const clock = { now: 0 }
    drainStream(pacer, { perMs: fast, roundTripMs: 2, batches: 200, clock })
    expect(pacer.waitMs).toBe(W) // never reached the upper bounds
    load.state.load = { pressure: 0.9, busy: 0.95 }
    drainStream(pacer, { perMs: fast, roundTripMs: 2, batches: 100, clock })
    expect(pacer.waitMs).toBe(S)
    load.state.load = { pressure: 0.5, busy: 0.8 }
    drainStream(pacer, { perMs: fast, roundTripMs: 2, batches: 100, clock })
    expect(pacer.waitMs).toBe(S) // came from above: still saturated
    load.state.load = { pressure: 0.5, busy: 0.7 } // one below its lower bound ends it
    drainStream(pacer, { perMs: fast, roundTripMs: 2, batches: 100, clock })
    expect(pacer.waitMs).toBe(W)
  })

  it('reads the CPU at most every 100 ms, and never when it never paces', () => {
    const load = saturated()
    const clock = { now: 0 }
    drainStream(new Pacer(on, load), { perMs: 1, roundTripMs: 2, batches: 500, clock })
    // 500 batches of 2 ms or more each: a second and more, so about 10 readings, never 500.
    expect(load.state.readings).toBeGreaterThanOrEqual(5)
    expect(load.state.readings).toBeLessThanOrEqual(clock.now / 100 + 1)
    const off = saturated()
    const { waits } = drainStream(new Pacer({ waitMs: 0 }, off), {
      perMs: fast,
      roundTripMs: 2,
      batches: 500,
    })
    expect(off.state.readings).toBe(0)
    expect(new Set(waits)).toEqual(new Set([0]))
  })

  it('never waits for the CPU when the reader cannot tell (no PSI on this system)', () => {
    const load = saturated()
    load.state.load = undefined
    expectRateWaitOnly(new Pacer(on, load), 1000)
  })

  it('takes the longer of its two waits, and none of its own when set to 0', () => {
    const shorter = new Pacer({ saturatedWaitMs: 5 }, saturated())
    expect(
      drainStream(shorter, { perMs: fast, roundTripMs: 1.5, batches: 1000 }).waits.at(-1),
    ).toBe(W)
    const none = new Pacer({ saturatedWaitMs: 0 }, saturated())
    const { waits } = drainStream(none, { perMs: fast, roundTripMs: 1.5, batches: 1000 })
    expect(new Set(waits.slice(waits.indexOf(W)))).toEqual(new Set([W]))
  })
})

describe('Pacer, between the rate bounds on a saturated CPU', () => {
  // Saturation decides, between the bounds (1,200-1,500 events/s), whether an eager relay paces.
  // The defaults: no saturated wait, so the band paces at RELAY_PACE_MS; `withWait` adds it.
  const bandOnly = {}
  const withWait = { saturatedWaitMs: 50 }
  const load = (pressure: number, busy: number) => {
    const state = { load: { pressure, busy } }
    return Object.assign(() => state.load, { state })
  }
  const lo = PACE_DEFAULTS.eagerBelow / 1000
  const hi = PACE_DEFAULTS.paceAbove / 1000
  const between = (lo + hi) / 2 // 1,350 events/s

  it('paces a stream between the bounds while the CPUs are saturated, not while they have room', () => {
    const idle = new Pacer({}, load(0.1, 0.4))
    const calm = drainStream(idle, { perMs: between, roundTripMs: 2, batches: 2000 })
    expect(new Set(calm.waits)).toEqual(new Set([0]))
    // With the saturated wait: paced by the band, on CPUs still saturated, it waits that.
    const waiting = drainStream(new Pacer(withWait, load(0.9, 0.95)), {
      perMs: between,
      roundTripMs: 2,
      batches: 2000,
    })
    expect(waiting.waits.at(-1)).toBe(50)
    const busy = new Pacer(bandOnly, load(0.9, 0.95))
    const { waits, sizes } = drainStream(busy, { perMs: between, roundTripMs: 2, batches: 2000 })
    const firstPaced = waits.indexOf(W)
    expect(firstPaced).toBeGreaterThan(0)
    expect(new Set(waits.slice(firstPaced))).toEqual(new Set([W]))
    // The rate rule's wait: about 1.35 * (2 + 10) events a batch.
    expect(sizes.at(-1)).toBeGreaterThanOrEqual(Math.floor(between * (2 + W)) - 1)
    expect(sizes.at(-1)).toBeLessThanOrEqual(Math.ceil(between * (2 + W)) + 1)
  })

  it('keeps a stream below the lower bound eager however saturated: 1,000 and 1,150 events/s', () => {
    for (const perMs of [1, 1.15]) {
      for (const roundTripMs of [0.5, 2, 12]) {
        const { waits } = drainStream(new Pacer({}, load(1, 1)), {
          perMs,
          roundTripMs,
          batches: 3000,
        })
        expect(new Set(waits)).toEqual(new Set([0]))
      }
    }
  })

  it('does not pace a saturated 1,000 events/s for a burst of 50 events in 10 ms', () => {
    const pacer = new Pacer({}, load(0.9, 0.95))
    const clock = { now: 0 }
    drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 1000, clock })
    const { waits } = drainStream(pacer, { perMs: 5, roundTripMs: 2, batches: 5, clock })
    expect(new Set(waits)).toEqual(new Set([0]))
    const after = drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 500, clock })
    expect(new Set(after.waits)).toEqual(new Set([0]))
  })

  it('holds the decision when the saturation ends, until the rate falls below the lower bound', () => {
    const cpu = load(0.9, 0.95)
    const pacer = new Pacer({}, cpu)
    const clock = { now: 0 }
    drainStream(pacer, { perMs: between, roundTripMs: 2, batches: 1000, clock })
    expect(pacer.waitMs).toBe(W)
    cpu.state.load = { pressure: 0.1, busy: 0.4 }
    const held = drainStream(pacer, { perMs: between, roundTripMs: 2, batches: 1000, clock })
    expect(new Set(held.waits)).toEqual(new Set([W]))
    expect(pacer.cpuLoadAverage?.pressure).toBeLessThan(PACE_DEFAULTS.pressureBelow)
    const slower = drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 1000, clock })
    expect(slower.waits.at(-1)).toBe(0)
  })

  it('tells its observer the decision after each batch, and why it waits', () => {
    const cpu = load(0.1, 0.4)
    const states: PaceState[] = []
    const pacer = new Pacer(bandOnly, cpu, (s) => states.push(s))
    const clock = { now: 0 }
    const run = (perMs: number, batches: number) => {
      states.length = 0
      drainStream(pacer, { perMs, roundTripMs: 2, batches, clock })
      return { last: states.at(-1), seen: new Set(states) }
    }
    expect(run(between, 1000)).toEqual({ last: 'eager', seen: new Set(['eager']) })
    cpu.state.load = { pressure: 0.9, busy: 0.95 }
    expect(run(between, 1000).last).toBe('band')
    expect(pacer.state).toBe('band')
    expect(run(3, 500).last).toBe('rate') // over the upper bound: the rate's own
    expect(run(between, 500)).toEqual({ last: 'rate', seen: new Set(['rate']) }) // held
    expect(run(1, 500).last).toBe('eager')
    expect(states.length).toBeGreaterThan(0)
    const waiting = new Pacer(withWait, load(0.9, 0.95))
    drainStream(waiting, { perMs: 3, roundTripMs: 2, batches: 500 })
    expect(waiting.state).toBe('cpu')
  })

  it('never paces with RELAY_PACE_MS=0, saturated wait or not', () => {
    const never = new Pacer({ waitMs: 0 }, load(0.9, 0.95))
    const { waits } = drainStream(never, { perMs: between, roundTripMs: 2, batches: 1000 })
    expect(new Set(waits)).toEqual(new Set([0]))
  })
})
