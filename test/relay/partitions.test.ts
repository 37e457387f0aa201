/** The relay's partition state and its rebalance decisions, as pure functions (partitions.ts). */
import { describe, expect, it } from 'vitest'
import { Partitions, rebalancePlan, shareOf } from '../../src/relay/partitions'

describe('rebalance decisions', () => {
  it('share the partitions fairly, rounding up, a lone relay taking all', () => {
    expect(shareOf(64, 0)).toBe(64)
    expect(shareOf(64, 1)).toBe(64)
    expect(shareOf(64, 3)).toBe(22)
    expect(shareOf(64, 100)).toBe(1)
  })

  it('give back the highest partitions over the share, else take what is missing', () => {
    expect(rebalancePlan([1, 2, 3, 4], 2)).toEqual({ release: [3, 4] })
    expect(rebalancePlan([1, 2], 2)).toEqual({ acquire: 0 })
    expect(rebalancePlan([1], 3)).toEqual({ acquire: 2 })
  })
})

describe('Partitions', () => {
  it('newly owned partitions settle first; owned stays sorted', () => {
    const s = new Partitions()
    s.acquired([5, 1])
    expect(s.owned).toEqual([1, 5])
    expect(s.settling).toEqual([5, 1])
    expect(s.asleep()).toEqual([1, 5])
    expect(s.allAwake).toBe(false)
  })

  it('falling asleep checks the released and the still settling, once each', () => {
    const s = new Partitions()
    s.acquired([1, 2, 3])
    s.settled([3])
    s.woke([1, 3])
    expect(s.asleep()).toEqual([2])
    const { released, check } = s.fellAsleep()
    expect(released).toEqual([1, 3])
    expect(check.sort()).toEqual([1, 3])
    expect(s.awake).toEqual([])
  })

  it('keeps awake and settling within owned when partitions are given back', () => {
    const s = new Partitions()
    s.acquired([1, 2, 3, 4])
    s.woke([1, 2, 3, 4])
    s.released([3, 4])
    expect(s.owned).toEqual([1, 2])
    expect(s.awake).toEqual([1, 2])
    expect(s.settling).toEqual([1, 2])
    expect(s.allAwake).toBe(true)
    s.reset()
    expect([s.owned, s.awake, s.settling]).toEqual([[], [], []])
  })
})
