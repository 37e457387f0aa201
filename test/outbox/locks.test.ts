/** The trigger's migrations spell the lock ids as literals: they must be the ones the code uses. */
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { LOCK } from '../../src/outbox/locks'

describe('advisory lock ids', () => {
  it('the doorbell trigger probes the awake lock and takes the trace lock the relay uses', () => {
    const sql = readFileSync('drizzle/0012_skip_trace.sql', 'utf8')
    expect(sql).toContain(`pg_try_advisory_xact_lock_shared(${LOCK.trace}, NEW.partition)`)
    expect(sql).toContain(`pg_try_advisory_xact_lock_shared(${LOCK.awake}, NEW.partition)`)
  })

  it('no migration spells a lock id the code does not take (a stale literal would never meet)', () => {
    const ids = new Set<number>(Object.values(LOCK))
    const spelled = readdirSync('drizzle')
      .filter((f) => f.endsWith('.sql'))
      .flatMap((f) =>
        [...readFileSync(`drizzle/${f}`, 'utf8').matchAll(/advisory\w*\(\s*(\d+)/g)].map(
          (m) => `${f}: ${m[1]}`,
        ),
      )
    expect(spelled.length).toBeGreaterThan(0)
    expect(spelled.filter((s) => !ids.has(Number(s.split(': ')[1])))).toEqual([])
  })
})
