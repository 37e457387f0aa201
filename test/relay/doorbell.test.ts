import { describe, expect, it } from 'vitest'
import { Doorbell } from '../../src/relay/doorbell'

describe('Doorbell', () => {
  it('remembers a ring that came while nobody waited (no lost wake-up)', async () => {
    const bell = new Doorbell()
    bell.ring('notify')
    // Before any timer could fire: the wait returns the latched ring, not its timeout.
    expect(await bell.wait(10_000, new AbortController().signal)).toBe('notify')
  })

  it('forgets rings before clear(): the drain that follows covers them', async () => {
    const bell = new Doorbell()
    bell.ring()
    bell.clear()
    expect(await bell.wait(20, new AbortController().signal)).toBe('timeout')
  })

  it('wakes only for accepted causes and keeps the others latched', async () => {
    const bell = new Doorbell()
    const signal = new AbortController().signal
    bell.ring('notify')
    expect(await bell.wait(20, signal, new Set(['listen']))).toBe('timeout')
    const waiting = bell.wait(10_000, signal, new Set(['listen']))
    bell.ring('notify')
    bell.ring('listen')
    expect(await waiting).toBe('listen')
    expect(await bell.wait(10_000, signal)).toBe('notify')
  })

  it('wakes a waiter on ring, on timeout, and on abort', async () => {
    const bell = new Doorbell()
    const waiting = bell.wait(10_000, new AbortController().signal)
    bell.ring('listen')
    expect(await waiting).toBe('listen')
    expect(await bell.wait(10, new AbortController().signal)).toBe('timeout')
    const controller = new AbortController()
    const aborted = bell.wait(10_000, controller.signal)
    controller.abort()
    expect(await aborted).toBe('abort')
  })
})
