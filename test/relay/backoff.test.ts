import { describe, expect, it } from 'vitest'
import { backoffDelay } from '../../src/relay/backoff'

const opts = { baseMs: 100, capMs: 30_000 }

describe('backoffDelay', () => {
  it('doubles the ceiling with each consecutive failure', () => {
    const top = (attempt: number) => backoffDelay(attempt, opts, () => 0.999999)
    expect([1, 2, 3, 4].map(top)).toEqual([99, 199, 399, 799])
  })

  it('never exceeds the cap, even after very many failures', () => {
    expect(backoffDelay(10_000, opts, () => 0.999999)).toBe(29_999)
  })

  it('is fully jittered: anywhere from 0 up to the ceiling', () => {
    expect(backoffDelay(5, opts, () => 0)).toBe(0)
    expect(backoffDelay(5, opts, () => 0.5)).toBe(800)
  })

  it('treats attempt 0 or less like the first attempt', () => {
    expect(backoffDelay(0, opts, () => 0.999999)).toBe(99)
  })
})
