import { describe, expect, it } from 'vitest'
import { WakeTimers } from '../../src/relay/wake-timers'

describe('WakeTimers', () => {
  it('uses a retry time up once it wakes the relay, so a past one never wakes it again', () => {
    const timers = new WakeTimers(60_000, 1000)
    timers.rebalanced(0)
    timers.sleeping(0, true)
    timers.retriesAt(new Date(500))
    expect(timers.wakeAt(false)).toBe(500)
    expect(timers.due(600, false)).toBe('retry')
    // Next it looks the retry time up again, and until then waits for the other timers.
    expect(timers.checkRetries).toBe(true)
    expect(timers.wakeAt(false)).toBe(1000)
    expect(timers.due(700, false)).toBe('tick')
  })

  it('backs a settling partition off from 1 ms to 50 ms, and a fresh settle starts over', () => {
    const timers = new WakeTimers(60_000, 1_000_000)
    timers.rebalanced(0)
    timers.sleeping(0, true)
    expect(timers.wakeAt(true)).toBe(1)
    let now = 0
    for (let i = 0; i < 10; i++) timers.rechecked(now)
    expect(timers.wakeAt(true)).toBe(50)
    timers.sleeping(100, true)
    expect(timers.wakeAt(true)).toBe(101)
    expect(timers.wakeAt(false)).toBe(60_100) // nothing settling: the poll
    now = 101
    expect(timers.due(now, true)).toBe('recheck')
  })
})
