import { describe, expect, it } from 'vitest'
import { Doorbell } from '../../src/relay/doorbell'

describe('Doorbell', () => {
  it('remembers a ring that came while nobody waited (no lost wake-up)', async () => {
    const bell = new Doorbell()
    bell.ring('notify')
    const started = Date.now()
    expect(await bell.wait(10_000, new AbortController().signal)).toBe('notify')
    expect(Date.now() - started).toBeLessThan(50)
  })

  it('forgets rings before clear(): the drain that follows covers them', async () => {
    const bell = new Doorbell()
    bell.ring()
    bell.clear()
    expect(await bell.wait(20, new AbortController().signal)).toBe('poll')
  })

  it('wakes a waiter on ring, on timeout, and on abort', async () => {
    const bell = new Doorbell()
    const waiting = bell.wait(10_000, new AbortController().signal)
    bell.ring('listen')
    expect(await waiting).toBe('listen')
    expect(await bell.wait(10, new AbortController().signal)).toBe('poll')
    const controller = new AbortController()
    const aborted = bell.wait(10_000, controller.signal)
    controller.abort()
    expect(await aborted).toBe('abort')
  })
})
