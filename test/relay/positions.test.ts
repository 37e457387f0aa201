/** The positions' decisions, as pure functions: which window to claim, where a claim leaves it. */
import { describe, expect, it } from 'vitest'
import type { ClaimResult } from '../../src/outbox/queries'
import { advanceOf, nextWindow } from '../../src/relay/positions'

const result = (r: Partial<ClaimResult>): ClaimResult => ({
  messages: [],
  windowRows: 0,
  exhausted: true,
  ...r,
})

describe('nextWindow', () => {
  it('begins a new window for every partition when none is open', () => {
    const claimed = new Map([
      [0, { snapshot: '10:12:10' }],
      [5, { snapshot: '11:11:' }],
    ])
    expect(nextWindow(claimed)).toEqual({
      from: new Map([
        [0, '10:12:10'],
        [5, '11:11:'],
      ]),
      after: 0,
    })
    expect(nextWindow(new Map())).toBeUndefined()
  })

  it('finishes an open window first, with its members only, and its known bounds', () => {
    const claimed = new Map([
      [0, { snapshot: '10:10:', window: { to: '20:20:', after: 500 } }],
      [1, { snapshot: '12:12:', window: { to: '20:20:', after: 500 } }],
      [2, { snapshot: '20:20:' }], // gained since: waits for the next window
    ])
    expect(nextWindow(claimed, { to: '20:20:', lo: 100, hi: 900 })).toEqual({
      from: new Map([
        [0, '10:10:'],
        [1, '12:12:'],
      ]),
      to: '20:20:',
      range: { lo: 100, hi: 900 },
      after: 500,
    })
    // Bounds of another window are not reused.
    expect(nextWindow(claimed, { to: '19:19:', lo: 1, hi: 2 })?.range).toBeUndefined()
  })
})

describe('advanceOf', () => {
  const fresh = { from: new Map([[3, '10:10:']]), after: 0 }

  it('moves the members to the window once it is done', () => {
    expect(advanceOf(fresh, result({ to: '15:16:15', windowRows: 4, lastWindowId: 9 }))).toEqual(
      new Map([[3, { snapshot: '15:16:15' }]]),
    )
  })

  it('records how far a window too large for the batch got', () => {
    const r = result({ to: '15:15:', windowRows: 2, lastWindowId: 42, exhausted: false })
    expect(advanceOf(fresh, r)).toEqual(
      new Map([[3, { snapshot: '10:10:', window: { to: '15:15:', after: 42 } }]]),
    )
    // Continued and found its end, with nothing more: the members take its snapshot.
    const open = { ...fresh, to: '15:15:', after: 42 }
    expect(advanceOf(open, result({}))).toEqual(new Map([[3, { snapshot: '15:15:' }]]))
  })

  it('stays put when a new window found nothing at all', () => {
    expect(advanceOf(fresh, result({}))).toEqual(new Map())
  })
})
