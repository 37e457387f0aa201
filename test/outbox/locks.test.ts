/** The trigger's migrations spell the lock ids as literals: they must be the ones the code uses. */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { LOCK } from '../../src/outbox/locks'

describe('advisory lock ids', () => {
  it('the doorbell trigger probes the awake lock and takes the trace lock the relay uses', () => {
    const sql = readFileSync('drizzle/0012_skip_trace.sql', 'utf8')
    expect(sql).toContain(`pg_try_advisory_xact_lock_shared(${LOCK.trace}, NEW.partition)`)
    expect(sql).toContain(`pg_try_advisory_xact_lock_shared(${LOCK.awake}, NEW.partition)`)
  })

  it('are distinct', () => {
    expect(new Set(Object.values(LOCK)).size).toBe(Object.keys(LOCK).length)
  })
})
