/**
 * The relay's backoff between failed attempts (src/relay/failures.ts): it grows while the
 * failures go on, and a re-LISTEN (the database is back) starts it again from its base, so an
 * attempt that still fails right after the database returned waits the base, not the cap.
 */
import { pino } from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Doorbell, WaitEnd } from '../../src/relay/doorbell'
import { Failures } from '../../src/relay/failures'

/** A doorbell whose waits end at once, with `next` as their cause; it records each wait's length. */
function recordingDoorbell() {
  const waits: number[] = []
  let next: WaitEnd = 'timeout'
  const doorbell = {
    wait: async (ms: number) => {
      waits.push(ms)
      return next
    },
  } as unknown as Doorbell
  return { doorbell, waits, endNextWith: (end: WaitEnd) => (next = end) }
}

afterEach(() => vi.restoreAllMocks())

describe('Failures', () => {
  it('backs off from its base again after a re-LISTEN', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999) // the jitter's ceiling, nearly
    const failures = new Failures(pino({ level: 'silent' }), { baseMs: 10, capMs: 60_000 })
    const bell = recordingDoorbell()
    const signal = new AbortController().signal
    const err = new Error('connection refused')
    for (let i = 0; i < 10; i++) await failures.failed(err, bell.doorbell, signal)
    expect(bell.waits.at(-1)).toBe(Math.floor(0.999 * 10 * 2 ** 9))

    bell.endNextWith('listen') // the database is back while it waits
    await failures.failed(err, bell.doorbell, signal)
    bell.endNextWith('timeout')
    await failures.failed(err, bell.doorbell, signal) // the next attempt still failed
    expect(bell.waits.at(-1)).toBe(Math.floor(0.999 * 10))
  })
})
