import { describe, expect, it } from 'vitest'
import { PACE_DEFAULTS, Pacer } from '../../src/relay/pace'

const W = PACE_DEFAULTS.waitMs

/**
 * A relay draining a steady stream, on a simulated clock: each claim brings what arrived since
 * the previous claim (at least one event: the pacer only hears of non-empty batches), is
 * acknowledged `roundTripMs` later, and the next claim follows after the pacer's wait.
 */
function drainStream(
  pacer: Pacer,
  o: { perMs: number; roundTripMs: number; batches: number; clock?: { now: number } },
) {
  const clock = o.clock ?? { now: 0 }
  const waits: number[] = []
  const sizes: number[] = []
  let previousClaim = clock.now - o.roundTripMs
  for (let i = 0; i < o.batches; i++) {
    const events = Math.max(1, Math.round(o.perMs * (clock.now - previousClaim)))
    pacer.record(events, clock.now, clock.now + o.roundTripMs)
    sizes.push(events)
    waits.push(pacer.waitMs)
    previousClaim = clock.now
    clock.now += o.roundTripMs + pacer.waitMs
  }
  return { waits, sizes, clock }
}

describe('Pacer', () => {
  it('claims eagerly at a trickle: 1-2 events per round trip never pace', () => {
    const pacer = new Pacer()
    const { waits } = drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 2000 })
    expect(new Set(waits)).toEqual(new Set([0]))
    expect(pacer.eventsPerRoundTrip).toBeCloseTo(2, 0)
  })

  it('paces a stream that brings many events per round trip, and stays paced although its own waits change the batches', () => {
    const pacer = new Pacer()
    const { waits, sizes } = drainStream(pacer, { perMs: 4, roundTripMs: 2.5, batches: 2000 })
    const firstPaced = waits.indexOf(W)
    expect(firstPaced).toBeGreaterThan(0)
    expect(firstPaced).toBeLessThan(50)
    // From then on every claim waits, and gathers what arrives during the wait too.
    expect(new Set(waits.slice(firstPaced))).toEqual(new Set([W]))
    expect(sizes[0]).toBe(10)
    expect(sizes.at(-1)).toBe(Math.round(4 * (2.5 + W)))
  })

  it('claims eagerly again once the stream slows, although paced batches are bigger than eager ones', () => {
    const pacer = new Pacer()
    const { clock } = drainStream(pacer, { perMs: 4, roundTripMs: 2.5, batches: 500 })
    expect(pacer.waitMs).toBe(W)
    // 1 event/ms, paced: 2.5 + W events per batch (more than the 6 that start pacing), but
    // only 2.5 arrive per round trip.
    const { waits, sizes } = drainStream(pacer, { perMs: 1, roundTripMs: 2.5, batches: 500, clock })
    expect(sizes[1]).toBeGreaterThan(6)
    const firstEager = waits.indexOf(0)
    expect(firstEager).toBeGreaterThan(0)
    expect(firstEager).toBeLessThan(60)
    expect(new Set(waits.slice(firstEager))).toEqual(new Set([0]))
  })

  it('does not pace for a burst: five batches at the cap move the average only part of the way', () => {
    const pacer = new Pacer()
    const clock = { now: 0 }
    drainStream(pacer, { perMs: 0.75, roundTripMs: 2, batches: 500, clock })
    drainStream(pacer, { perMs: 20, roundTripMs: 2, batches: 5, clock })
    expect(pacer.waitMs).toBe(0)
    drainStream(pacer, { perMs: 20, roundTripMs: 2, batches: 5, clock })
    expect(pacer.waitMs).toBe(W) // ten in a row do: that is a stream, not a burst
  })

  it('counts events per round trip, not per wall-clock gap: a stall that piles up events is not load', () => {
    const pacer = new Pacer()
    const clock = { now: 0 }
    drainStream(pacer, { perMs: 1, roundTripMs: 2, batches: 500, clock })
    for (let i = 0; i < 20; i++) {
      // Each claim comes 100 ms after the previous (a stalled process) and finds 100 events.
      clock.now += 100
      pacer.record(100, clock.now, clock.now + 2)
    }
    expect(pacer.waitMs).toBe(0)
  })

  it('goes back to eager claims after a backlog of full batches drains into a trickle', () => {
    const pacer = new Pacer()
    const clock = { now: 0 }
    for (let i = 0; i < 200; i++) {
      // Full batches of 1,000, pipelined: each claim is sent while the previous is in flight.
      pacer.record(1000, clock.now, clock.now + 20)
      clock.now += 10
    }
    expect(pacer.waitMs).toBe(W)
    const { waits } = drainStream(pacer, { perMs: 0.5, roundTripMs: 2, batches: 200, clock })
    expect(waits.indexOf(0)).toBeLessThan(60)
    expect(waits.at(-1)).toBe(0)
  })

  it('never waits when its wait is set to 0', () => {
    const pacer = new Pacer({ waitMs: 0 })
    const { waits } = drainStream(pacer, { perMs: 10, roundTripMs: 3, batches: 500 })
    expect(new Set(waits)).toEqual(new Set([0]))
    expect(pacer.eventsPerRoundTrip).toBeGreaterThan(6)
  })
})
