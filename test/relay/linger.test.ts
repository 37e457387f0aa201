import { describe, expect, it } from 'vitest'
import { lingerStep } from '../../src/relay/linger'

describe('lingerStep', () => {
  it('claims again every millisecond until the linger has passed, then settles', () => {
    expect(lingerStep(0, 20)).toEqual({ claimInMs: 1 })
    expect(lingerStep(7, 20)).toEqual({ claimInMs: 1 })
    expect(lingerStep(19.5, 20)).toEqual({ claimInMs: 0.5 })
    expect(lingerStep(20, 20)).toBe('settle')
    expect(lingerStep(35, 20)).toBe('settle')
  })

  it('with the linger off (0), settles at once', () => {
    expect(lingerStep(0, 0)).toBe('settle')
  })
})
