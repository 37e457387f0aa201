import { describe, expect, it } from 'vitest'
import { LockWaits, WAIT_REPORT_MS } from '../../src/relay/lock-waits'

describe('LockWaits', () => {
  it('reports a partition once per wait, when the wait passes a second', () => {
    const waits = new LockWaits()
    expect(waits.attempt('awake', [1, 2], [2], 0)).toEqual([])
    expect(waits.attempt('awake', [1, 2], [2], WAIT_REPORT_MS - 1)).toEqual([])
    expect(waits.attempt('awake', [2], [2], WAIT_REPORT_MS + 5)).toEqual([
      { partition: 2, waitedMs: WAIT_REPORT_MS + 5 },
    ])
    expect(waits.attempt('awake', [2], [2], 5000)).toEqual([]) // already reported
    expect(waits.longestMs(5000)).toBe(5000)
  })

  it('starts a new wait after the partition was had, and keeps locks apart', () => {
    const waits = new LockWaits()
    waits.attempt('trace', [3], [3], 0)
    waits.attempt('trace', [3], [], 500) // had: the wait is over
    expect(waits.attempt('trace', [3], [3], 1200)).toEqual([])
    expect(waits.attempt('awake', [3], [3], 1300)).toEqual([])
    expect(waits.attempt('trace', [3], [3], 2200)).toEqual([{ partition: 3, waitedMs: 1000 }])
    expect(waits.longestMs(2200)).toBe(1000)
  })

  it('forgets partitions no longer owned', () => {
    const waits = new LockWaits()
    waits.attempt('awake', [4, 5], [4, 5], 0)
    waits.keepOnly([5])
    expect(waits.attempt('awake', [4], [4], 1500)).toEqual([])
    expect(waits.attempt('awake', [5], [5], 1500)).toEqual([{ partition: 5, waitedMs: 1500 }])
  })
})
