import { describe, expect, it } from 'vitest'
import { statement } from '../../src/outbox/statement'

describe('statement', () => {
  it('numbers its parameters once, in the order given, a name used twice being one parameter', () => {
    const s = statement(['lo', 'hi'], 'select x from t where x > @lo and x <= @hi and @lo < @hi')
    expect(s.text).toBe('select x from t where x > $1 and x <= $2 and $1 < $2')
    expect(s.names).toEqual(['lo', 'hi'])
  })

  it('leaves casts alone', () => {
    expect(statement(['to'], 'select @to::pg_snapshot').text).toBe('select $1::pg_snapshot')
  })

  it('stops at load on a parameter it does not declare, and on one it never uses', () => {
    expect(() => statement(['lo'], 'select @lo, @hi')).toThrow('@hi is not among its parameters')
    expect(() => statement(['lo', 'hi'], 'select @lo')).toThrow('hi never used')
  })
})
